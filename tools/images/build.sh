#!/usr/bin/env bash
# build.sh: `make images`. Builds every IBIS-X image with buildah (no Docker engine):
#   ibisx/gateway ibisx/selection ibisx/ml-pipeline ibisx/xai-engine ibisx/model-serving
#   ibisx/web ibisx/demo-loader
# tagged ibisx/<name>:$IBX_IMAGE_TAG (default dev), from services/<name>/Containerfile
# (tools/demo/Containerfile for the demo loader) with the repository as the context.
# The Containerfiles build on debian:bookworm: tools/images/base.sh makes it offline when
# no registry is reachable. Layers are cached, so the suite compiles once for all images.
#   IBX_IMAGES="gateway web"   only these images
#   IBX_IMAGES_FROM=HEAD       build from the last commit (a clean export) instead of the work tree
#   BUILDAH_ISOLATION          buildah's own setting; default here chroot (works where the
#                              OCI runtime cannot create containers, e.g. hybrid cgroups)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TAG=${IBX_IMAGE_TAG:-dev}
ALL=(gateway selection ml-pipeline xai-engine model-serving web demo-loader)
read -r -a WANT <<<"${IBX_IMAGES:-${ALL[*]}}"
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

command -v buildah >/dev/null || { echo "images: buildah is missing (tools/install-deps.sh --images)" >&2; exit 1; }
tools/images/base.sh
tools/web-vendor.sh

CTX="$ROOT"
if [ -n "${IBX_IMAGES_FROM:-}" ]; then
  CTX="$ROOT/build/images/context"
  rm -rf "$CTX"; mkdir -p "$CTX"
  git archive "$IBX_IMAGES_FROM" | tar -x -C "$CTX"
  mkdir -p "$CTX/services/web/dist/vendor"
  cp -a services/web/dist/vendor/. "$CTX/services/web/dist/vendor/"
fi

containerfile() {
  case $1 in
    demo-loader) echo tools/demo/Containerfile ;;
    *) echo "services/$1/Containerfile" ;;
  esac
}

for name in "${WANT[@]}"; do
  cf=$(containerfile "$name")
  [ -f "$CTX/$cf" ] || { echo "images: no $cf" >&2; exit 1; }
  echo "images: building ibisx/$name:$TAG from $cf"
  start=$(date +%s)
  buildah bud --layers --pull=never --network host -f "$CTX/$cf" -t "ibisx/$name:$TAG" "$CTX" \
    >"$ROOT/build/images/$name.log" 2>&1 ||
    { echo "images: ibisx/$name failed; last lines of build/images/$name.log:" >&2
      tail -n 20 "$ROOT/build/images/$name.log" >&2; exit 1; }
  echo "images: ibisx/$name:$TAG built in $(( $(date +%s) - start )) s"
done
buildah images --filter reference='ibisx/*' 2>/dev/null | grep -v 'CNI config' || true
