#!/usr/bin/env bash
# deps.sh: install the Debian packages callbox needs, only where missing.
# apt-get can fail once transiently, so each step is retried once.
set -euo pipefail

# fonts-wqy-zenhei: a CJK font, so headless Chromium renders the Mandarin
# dashboard in the page tests' screenshots (not needed by callboxd itself).
PKGS=(sip-tester espeak-ng pocketsphinx pocketsphinx-en-us portaudio19-dev pkg-config sox chromium systemd fonts-wqy-zenhei)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
retry() { "$@" || { echo "deps: retrying: $*" >&2; sleep 3; "$@"; }; }
export DEBIAN_FRONTEND=noninteractive
retry $SUDO apt-get update -qq
retry $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
