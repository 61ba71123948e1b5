#!/bin/sh
# build-deb.sh VERSION: package build/callboxd and build/callboxctl into
# build/callbox_VERSION_amd64.deb with nfpm v2.44.0.
#
# VERSION must be a Debian version (start with a digit). A leading "v" is
# dropped; anything else that is not a Debian version (a bare git hash such
# as "20430ee-dirty", "dev") becomes 0.0.0~<sanitised>, and the file is
# named after that. The package path is printed on the last line.
#
# Environment: BUILD_DIR (default build) holds the binaries and receives the
# .deb; NFPM is the nfpm binary (default: ./bin/nfpm, then nfpm in PATH,
# else it is installed into ./bin with `go install …@v2.44.0`).
set -eu

usage() { echo "usage: packaging/build-deb.sh VERSION" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -n "$1" ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD_DIR=${BUILD_DIR:-build}

version=${1#v}
if ! printf '%s' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~-]*$' ||
	printf '%s' "$version" | grep -Eq -- '-$'; then
	clean=$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+~\n' '.' | sed 's/^\.*//; s/\.*$//')
	version="0.0.0~${clean:-unknown}"
	echo "build-deb.sh: '$1' is not a Debian version; using $version" >&2
fi

for b in callboxd callboxctl; do
	if [ ! -x "$BUILD_DIR/$b" ]; then
		echo "build-deb.sh: $BUILD_DIR/$b missing or not executable (run make build first)" >&2
		exit 1
	fi
done
for f in configs/callboxd.example.yaml systemd/callboxd.service packaging/nfpm.yaml; do
	if [ ! -f "$f" ]; then
		echo "build-deb.sh: $f missing" >&2
		exit 1
	fi
done

nfpm=${NFPM:-}
if [ -z "$nfpm" ]; then
	if [ -x "$root/bin/nfpm" ]; then
		nfpm="$root/bin/nfpm"
	elif command -v nfpm >/dev/null 2>&1; then
		nfpm=$(command -v nfpm)
	else
		echo "build-deb.sh: installing nfpm v2.44.0 into $root/bin" >&2
		GOFLAGS= GOBIN="$root/bin" go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.44.0
		nfpm="$root/bin/nfpm"
	fi
fi

out="$BUILD_DIR/callbox_${version}_amd64.deb"
rm -f "$out"
VERSION="$version" CALLBOX_BUILD_DIR="$BUILD_DIR" \
	"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$out" >&2
dpkg-deb --info "$out" >/dev/null
echo "$out"
