#!/usr/bin/env bash
# Build a busybox rootfs tar from the host's static busybox (Debian's busybox-static) for
# `berth import OUT.tar busybox:latest`: /bin/busybox with one symlink per applet, /www/index.html,
# /etc/passwd and /etc/group (root, nobody), and empty /tmp /proc /sys /dev /root /etc dirs.
# Usage: scripts/mkimage-busybox.sh OUT.tar [BUSYBOX]
set -euo pipefail
out=${1:?usage: mkimage-busybox.sh OUT.tar [path to a static busybox]}
bb=${2:-/bin/busybox}
[[ -x $bb ]] || { echo "mkimage-busybox: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$bb" >/dev/null 2>&1; then echo "mkimage-busybox: $bb is not statically linked" >&2; exit 1; fi
root=$(mktemp -d "${TMPDIR:-/tmp}/mkimage-busybox.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root"/{bin,etc,www,tmp,proc,sys,dev,root,var}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"
for app in $("$bb" --list); do
  [[ $app == busybox || -e $root/bin/$app ]] || ln -s busybox "$root/bin/$app"
done
cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$root/etc/group" <<'G'
root:x:0:
nobody:x:65534:
G
echo 'hello from berth' >"$root/www/index.html"
chmod 644 "$root/etc/passwd" "$root/etc/group" "$root/www/index.html"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime='2024-01-01 00:00:00 UTC' -C "$root" -cf "$out" .
