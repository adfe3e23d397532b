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

# Debian's merged /usr, as on the build stage: /bin, /sbin, /lib and /lib64 point into /usr.
mkdir -p "$dest/usr/bin" "$dest/usr/sbin" "$dest/usr/lib" "$dest/usr/lib64"
for d in bin sbin lib lib64; do [ -e "$dest/$d" ] || ln -s "usr/$d" "$dest/$d"; done

copy() { # path: the file at its real path, and the name it was given as a link to it
  real=$(readlink -f "$1")
  if [ ! -e "$dest$real" ]; then
    mkdir -p "$dest$(dirname "$real")"
    cp -p "$real" "$dest$real"
  fi
  if [ "$1" != "$real" ] && [ ! -e "$dest$1" ] && [ ! -L "$dest$1" ]; then
    mkdir -p "$dest$(dirname "$1")"
    ln -s "$real" "$dest$1"
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
