#!/usr/bin/env bash
# base.sh: makes sure the image store has debian:bookworm, the build stage of every
# Containerfile. Kept if present (pulled, or made here before). Otherwise, where no
# container registry can be reached, it is made offline: debootstrap (minbase) builds a
# bookworm root filesystem from the Debian mirror apt uses, cached as
# build/images/debian-bookworm.tar, and buildah commits it as docker.io/library/debian:bookworm.
# Needs root (debootstrap). IBX_IMAGE_BASE=pull pulls it from the registry instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="$ROOT/build/images"
NAME=docker.io/library/debian:bookworm

if buildah inspect --type image "$NAME" >/dev/null 2>&1; then
  exit 0
fi
if [ "${IBX_IMAGE_BASE:-}" = pull ]; then
  exec buildah pull "$NAME"
fi
command -v debootstrap >/dev/null || { echo "images: debootstrap is missing (tools/install-deps.sh --images)" >&2; exit 1; }
mkdir -p "$CACHE"
if [ ! -s "$CACHE/debian-bookworm.tar" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$CACHE/rootfs"
  echo "images: debootstrap bookworm from $mirror (once; cached in build/images)"
  debootstrap --variant=minbase bookworm "$CACHE/rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { echo "images: debootstrap failed; see $CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$CACHE/rootfs/var/cache/apt/archives/"*.deb "$CACHE/rootfs/var/lib/apt/lists/"*
  tar -C "$CACHE/rootfs" --numeric-owner -cf "$CACHE/debian-bookworm.tar.part" .
  mv "$CACHE/debian-bookworm.tar.part" "$CACHE/debian-bookworm.tar"
  rm -rf "$CACHE/rootfs"
fi
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add "$ctr" "$CACHE/debian-bookworm.tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
buildah commit -q "$ctr" "$NAME" >/dev/null
echo "images: $NAME made from $CACHE/debian-bookworm.tar"
