#!/bin/sh
# test-deb.sh DEB: install / upgrade / remove / purge test of the callbox
# package in a throwaway root. Called by `make deb-test`; needs root (or
# fakeroot-less root in a container), dpkg, dpkg-deb, useradd and, for the
# unit enablement check, deb-systemd-helper (init-system-helpers).
#
# How: there is no network for debootstrap, so instead of a chroot the real
# dpkg installs into a temporary tree with
#   dpkg --instdir=$ROOT --admindir=$ROOT/var/lib/dpkg --force-script-chrootless
# which runs the real maintainer scripts on the host with DPKG_ROOT=$ROOT.
# The scripts honour DPKG_ROOT (useradd --prefix, deb-systemd-helper's
# DPKG_ROOT support, every path prefixed) and never talk to the running
# service manager in that mode. Trade-offs: Depends are not resolved
# (--force-depends; they are checked as control fields instead), adduser's
# own code path (used on real boxes) is replaced by useradd --prefix, and
# start/stop of the service is not exercised. A guard fails the test if the
# host's /etc/passwd, /etc/group or /var/lib/callbox changed.
#
# Steps: static checks of the .deb; install; local edit of the conffile;
# upgrade to a rebuilt version with the same conffile (edit kept silently);
# upgrade to one with a changed conffile under --force-confold (edit kept,
# .dpkg-dist written); remove (data and config kept); purge (all gone).
set -eu

if [ $# -lt 1 ]; then
	echo "usage: packaging/test-deb.sh DEB" >&2
	exit 2
fi
deb=$1
if [ $# -gt 1 ]; then # make's glob may match several builds: take the newest
	deb=$(ls -t "$@" | head -n 1)
	echo "test-deb.sh: several packages given; testing the newest, $deb"
fi
[ -f "$deb" ] || { echo "test-deb.sh: $deb not found" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
	echo "test-deb.sh: needs root (dpkg must chown files to the callbox user)" >&2
	exit 1
fi
for t in dpkg dpkg-deb useradd groupadd usermod; do
	command -v "$t" >/dev/null || { echo "test-deb.sh: $t not installed" >&2; exit 1; }
done

deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
tmp=$(mktemp -d /tmp/callbox-debtest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }
ok() { pass=$((pass + 1)); echo "  ok: $*"; }

# Host guard: the throwaway install must not touch this machine.
host_sum() {
	cat /etc/passwd /etc/group | cksum
	ls -d /var/lib/callbox /var/log/callbox /etc/callbox \
		/etc/systemd/system/multi-user.target.wants/callboxd.service 2>/dev/null || true
}
host_before=$(host_sum)

echo "== static checks: $deb"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = callbox ] || fail "Package is '$(field Package)'"
[ "$(field Architecture)" = amd64 ] || fail "Architecture is '$(field Architecture)'"
version=$(field Version)
dpkg --validate-version "$version" || fail "invalid Version '$version'"
deps=$(field Depends)
for d in libportaudio2 espeak-ng pocketsphinx pocketsphinx-en-us adduser; do
	printf '%s' "$deps" | grep -Eq "(^|, )$d( |,|$)" || fail "Depends lacks $d: $deps"
done
ok "control fields (version $version; Depends: $deps)"
contents=$(dpkg-deb --contents "$deb")
for p in ./usr/bin/callboxd ./usr/bin/callboxctl ./lib/systemd/system/callboxd.service ./etc/callbox/callboxd.yaml; do
	printf '%s\n' "$contents" | awk '{ print $6 }' | grep -qx "$p" || fail "$p not in package"
done
printf '%s\n' "$contents" | grep -E ' \./usr/bin/callboxd$' | grep -q '^-rwxr-xr-x root/root' || fail "callboxd is not 0755 root:root"
printf '%s\n' "$contents" | grep -E ' \./etc/callbox/callboxd.yaml$' | grep -q '^-rw-r----- root/root' || fail "callboxd.yaml is not 0640 root:root"
ok "contents and modes"
mkdir "$tmp/ctl"
dpkg-deb --control "$deb" "$tmp/ctl"
grep -qx /etc/callbox/callboxd.yaml "$tmp/ctl/conffiles" || fail "callboxd.yaml is not a conffile"
for s in postinst prerm postrm; do
	[ -x "$tmp/ctl/$s" ] || fail "maintainer script $s missing"
	sh -n "$tmp/ctl/$s" || fail "$s has a syntax error"
done
ok "conffiles and maintainer scripts"

echo "== build upgrade packages"
mk_version() { # name newversion [conffile-change]
	d="$tmp/src-$1"
	dpkg-deb --raw-extract "$deb" "$d"
	sed -i "s/^Version: .*/Version: $2/" "$d/DEBIAN/control"
	if [ -n "${3:-}" ]; then
		printf '%s\n' "$3" >>"$d/etc/callbox/callboxd.yaml"
		(cd "$d" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z |
			xargs -0 md5sum | sed 's# \./# #') >"$d/DEBIAN/md5sums"
	fi
	dpkg-deb --root-owner-group --build "$d" "$tmp/$1.deb" >/dev/null
}
v2="$version+test2"
v3="$version+test3"
mk_version v2 "$v2"
mk_version v3 "$v3" "# upstream default added in $v3"
dpkg --compare-versions "$v2" gt "$version" || fail "$v2 does not sort after $version"
ok "rebuilt as $v2 (same conffile) and $v3 (changed conffile)"

echo "== throwaway root"
R="$tmp/root"
admin="$R/var/lib/dpkg"
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$R/etc" "$R/usr/sbin" "$R/var/log"
: >"$admin/status"
: >"$admin/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\naudio:x:29:\n' >"$R/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:*::\naudio:*::\n' >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
[ -f /etc/login.defs ] && cp /etc/login.defs "$R/etc/login.defs"
dpkgr() {
	dpkg --root="$R" --instdir="$R" --admindir="$admin" --log="$tmp/dpkg.log" \
		--force-script-chrootless --force-depends --force-not-root \
		--no-triggers "$@" </dev/null
}
status() { dpkg-query --admindir="$admin" -W -f='${Status} ${Version}' callbox 2>/dev/null || true; }
conf="$R/etc/callbox/callboxd.yaml"

echo "== install $version"
dpkgr --install "$deb" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "install failed"; }
[ "$(status)" = "install ok installed $version" ] || fail "status after install: $(status)"
[ -x "$R/usr/bin/callboxd" ] && [ -x "$R/usr/bin/callboxctl" ] || fail "binaries not installed"
grep -q '^callbox:x:[0-9]*:[0-9]*:callbox daemon:/var/lib/callbox:/usr/sbin/nologin$' "$R/etc/passwd" ||
	fail "system user not created: $(grep callbox "$R/etc/passwd" || echo none)"
uid=$(awk -F: '$1 == "callbox" { print $3 }' "$R/etc/passwd")
[ "$uid" -lt 1000 ] || fail "callbox uid $uid is not a system uid"
grep -Eq '^audio:x:29:(.*,)?callbox(,|$)' "$R/etc/group" || fail "callbox not in group audio"
for d in var/lib/callbox var/lib/callbox/recordings var/log/callbox; do
	[ "$(stat -c '%a %u' "$R/$d")" = "750 $uid" ] || fail "/$d is $(stat -c '%a %u' "$R/$d"), want 750 owned by $uid"
done
gid=$(awk -F: '$1 == "callbox" { print $3 }' "$R/etc/group")
[ "$(stat -c '%a %u %g' "$conf")" = "640 0 $gid" ] || fail "conffile is $(stat -c '%a %u %g' "$conf")"
if command -v deb-systemd-helper >/dev/null; then
	[ -L "$R/etc/systemd/system/multi-user.target.wants/callboxd.service" ] ||
		fail "callboxd.service not enabled (no multi-user.target.wants link)"
	ok "unit enabled through deb-systemd-helper"
fi
ok "installed: user, groups, directories, conffile permissions"

echo "== local edit, upgrade to $v2 (conffile unchanged upstream)"
printf '# site edit: trunk for branch 42\n' >>"$conf"
mkdir -p "$R/var/lib/callbox/recordings/2026"
printf 'RIFF' >"$R/var/lib/callbox/recordings/2026/call-1.wav"
dpkgr --install "$tmp/v2.deb" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "upgrade to $v2 failed"; }
[ "$(status)" = "install ok installed $v2" ] || fail "status after upgrade: $(status)"
grep -q '^# site edit: trunk for branch 42$' "$conf" || fail "local conffile edit lost on upgrade"
[ "$(grep -c '^callbox:' "$R/etc/passwd")" = 1 ] || fail "user duplicated on upgrade"
[ -f "$R/var/lib/callbox/recordings/2026/call-1.wav" ] || fail "recording lost on upgrade"
ok "upgrade kept the local edit, the user and the recordings"

echo "== upgrade to $v3 (conffile changed upstream) with --force-confold"
dpkgr --force-confold --install "$tmp/v3.deb" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "upgrade to $v3 failed"; }
[ "$(status)" = "install ok installed $v3" ] || fail "status after upgrade: $(status)"
grep -q '^# site edit: trunk for branch 42$' "$conf" || fail "local edit lost with --force-confold"
grep -q "^# upstream default added in $v3\$" "$conf.dpkg-dist" || fail "new upstream conffile not left as .dpkg-dist"
ok "changed conffile: local kept, upstream in callboxd.yaml.dpkg-dist"

echo "== remove"
dpkgr --remove callbox >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "remove failed"; }
[ ! -e "$R/usr/bin/callboxd" ] || fail "binary left after remove"
[ ! -e "$R/lib/systemd/system/callboxd.service" ] || fail "unit left after remove"
grep -q '^# site edit' "$conf" || fail "configuration deleted by remove"
[ -f "$R/var/lib/callbox/recordings/2026/call-1.wav" ] || fail "recordings deleted by remove"
case "$(status)" in "deinstall ok config-files"*) ;; *) fail "status after remove: $(status)" ;; esac
ok "remove kept configuration and data"

echo "== purge"
dpkgr --purge callbox >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "purge failed"; }
for p in etc/callbox var/lib/callbox var/log/callbox; do
	[ ! -e "$R/$p" ] || fail "/$p left after purge"
done
[ -z "$(status | grep -v not-installed)" ] || fail "status after purge: $(status)"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/callboxd.service" ] || fail "enable link left after purge"
grep -q '^callbox:' "$R/etc/passwd" || fail "purge removed the system user (it is kept on purpose)"
ok "purge removed configuration, data and logs; kept the account"

[ "$(host_sum)" = "$host_before" ] || fail "the host's accounts or /var/lib/callbox changed during the test"
ok "host untouched"
echo "test-deb.sh: all $pass checks passed for $(basename "$deb")"
