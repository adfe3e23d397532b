#!/bin/sh
# rootfs.sh: assembles a minimal runtime root filesystem for an IBIS-X image, in a
# Containerfile's build stage. Usage: rootfs.sh DEST PROGRAM...
# DEST gets each PROGRAM (at the same path), every shared library ldd names for it, the
# dynamic loader, Debian's CA bundle, /etc/passwd and /etc/group with the one non-root
# user the images run as (ibisx, 65532:65532), and an empty /tmp (a volume in Kubernetes:
# the root filesystem is read-only). Nothing else: no shell, no package manager.
set -eu
dest=$1
shift
[ $# -gt 0 ] || { echo "rootfs: usage: rootfs.sh DEST PROGRAM..." >&2; exit 2; }

copy() { # path: the file, kept at the same path, and the symlink that named it
  [ -e "$dest$1" ] && return 0
  mkdir -p "$dest$(dirname "$1")"
  cp -a "$1" "$dest$1"
  if [ -L "$1" ]; then
    real=$(readlink -f "$1")
    mkdir -p "$dest$(dirname "$real")"
    cp -a "$real" "$dest$real"
  fi
}

for prog in "$@"; do
  [ -x "$prog" ] || { echo "rootfs: $prog is not an executable" >&2; exit 1; }
  copy "$prog"
  # ldd's lines: "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
  for lib in $(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    copy "$lib"
  done
done

mkdir -p "$dest/etc/ssl/certs" "$dest/tmp"
chmod 1777 "$dest/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nibisx:x:65532:65532:ibisx:/tmp:/sbin/nologin\n' > "$dest/etc/passwd"
printf 'root:x:0:\nibisx:x:65532:\n' > "$dest/etc/group"
printf 'hosts: files dns\n' > "$dest/etc/nsswitch.conf"
