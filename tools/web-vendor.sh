#!/usr/bin/env bash
# web-vendor.sh: installs the web UI's run-time libraries from the npm registry at the
# versions pinned in services/web/package-lock.json and copies their browser builds into
# services/web/dist/vendor/ (git-ignored), so that nothing is loaded from elsewhere at run
# time. Idempotent: does nothing when the copies are already those of the lockfile.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WEB="$ROOT/services/web"
VENDOR="$WEB/dist/vendor"
# package file in node_modules → name in dist/vendor
FILES=("chart.js/dist/chart.umd.min.js:chart.umd.min.js")

command -v npm >/dev/null || { echo "web-vendor: npm is missing (make install)" >&2; exit 1; }
stamp="$VENDOR/.lock-sha256"
want=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  ok=1
  for f in "${FILES[@]}"; do [ -s "$VENDOR/${f#*:}" ] || ok=0; done
  [ "$ok" = 1 ] && exit 0
fi
(cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || { echo "web-vendor: npm ci failed" >&2; exit 1; }
mkdir -p "$VENDOR"
for f in "${FILES[@]}"; do
  cp "$WEB/node_modules/${f%%:*}" "$VENDOR/${f#*:}"
done
echo "$want" > "$stamp"
echo "web-vendor: $(printf '%s ' "${FILES[@]#*:}")in services/web/dist/vendor"
