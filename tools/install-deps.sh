#!/usr/bin/env bash
# Install the Debian packages IBIS-X needs to build, run and test. Idempotent: installs
# only what is missing, so a second run is quick. Needs root (or sudo).
set -euo pipefail

PKGS=(
  build-essential pkg-config make
  libmicrohttpd-dev libpq-dev libjansson-dev libjwt-dev librdkafka-dev
  libcurl4-openssl-dev libsodium-dev libssl-dev libcmocka-dev
  postgresql-15 postgresql-client-15
  clang clang-format clang-tidy cppcheck
  curl wrk nginx-light python3 procps psmisc iproute2
  chromium
)
# The benchmark peers (make bench): Debian's scikit-learn, xgboost and pandas.
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(python3-sklearn python3-xgboost python3-pandas time)
fi
# The container image tools (make images): buildah builds, podman runs an image for a
# check, debootstrap makes the debian:bookworm base where no registry can be reached.
if [ "${1:-}" = "--images" ]; then
  PKGS+=(buildah podman debootstrap runc)
fi
# Node.js for the browser tests: the machine's own when it has one, else Debian's.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The web UI's vendored libraries (Chart.js) from the npm lockfile, once Node is there;
# the Kubernetes checks' npm packages and helm/kubectl binaries (tests/k8s), likewise.
vendor() { "$(dirname "$0")/web-vendor.sh" && "$(dirname "$0")/k8s-test.sh" --install; }
if [ ${#missing[@]} -eq 0 ]; then
  vendor
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system cluster on 5432 when postgresql is installed; we run our own.
vendor
