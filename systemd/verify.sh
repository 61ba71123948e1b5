#!/bin/sh
# verify.sh: check systemd/callboxd.service (and the hw-watchdog drop-in)
# with systemd-analyze. Called by `make test`. Exits 0 when systemd-analyze
# is not installed (with a message), non-zero on any unit error or when the
# sandbox exposure score rises above MAX_EXPOSURE (default 2.0, out of 10).
#
# /usr/bin/callboxd need not be installed: the unit is verified from a
# temporary copy whose ExecStart points at a stub executable, because
# `systemd-analyze verify` rejects units whose binaries are missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
unit="$here/callboxd.service"
max=${MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "verify.sh: systemd-analyze not installed; skipping unit verification"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
printf '#!/bin/sh\nexit 0\n' >"$tmp/callboxd"
chmod 0755 "$tmp/callboxd"
sed "s#/usr/bin/callboxd#$tmp/callboxd#g" "$unit" >"$tmp/callboxd.service"
# The drop-in appended as a second [Service] section, as systemd merges it.
cat "$tmp/callboxd.service" "$here/hw-watchdog.conf" >"$tmp/callboxd-hwwd.service"

fail=0
for u in "$tmp/callboxd.service" "$tmp/callboxd-hwwd.service"; do
	out=$(systemd-analyze verify "$u" 2>&1) || fail=1
	# verify exits 0 on some warnings (unknown keys, bad values); treat any
	# line about our unit as an error.
	if printf '%s\n' "$out" | grep -q "$(basename "$u")"; then
		fail=1
	fi
	if [ -n "$out" ]; then
		printf '%s\n' "$out" >&2
	fi
done
if [ "$fail" -ne 0 ]; then
	echo "verify.sh: systemd-analyze verify found errors in $unit" >&2
	exit 1
fi

# Offline security score; the threshold is in tenths (2.0 → 20).
thr=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 }')
score=$(systemd-analyze security --offline=true "$tmp/callboxd.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if ! systemd-analyze security --offline=true --threshold="$thr" "$tmp/callboxd.service" >/dev/null 2>&1; then
	echo "verify.sh: exposure ${score:-unknown} is above MAX_EXPOSURE=$max" >&2
	exit 1
fi
echo "verify.sh: callboxd.service OK (systemd-analyze verify clean; exposure $score, limit $max)"
