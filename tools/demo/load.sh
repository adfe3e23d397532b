#!/usr/bin/env bash
# load.sh: load the demo datasets through the gateway's real upload API, as the admin.
# Usage: tools/demo/load.sh BASE_URL EMAIL PASSWORD
# Each dataset is tools/demo/data/<file> with its datasheet in tools/demo/meta/<file>.json
# (source and licence recorded there). A dataset already loaded (409 name_taken) is kept.
set -euo pipefail
BASE=$1 EMAIL=$2 PASSWORD=$3
DIR=$(cd "$(dirname "$0")" && pwd)

body=$(printf '{"email":"%s","password":"%s"}' "$EMAIL" "$PASSWORD")
login=$(curl -sS --max-time 20 -H 'Content-Type: application/json' -d "$body" "$BASE/api/v1/auth/login")
token=$(printf '%s' "$login" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "demo: cannot sign in as $EMAIL: $login" >&2; exit 1; }

loaded=0 kept=0
for meta in "$DIR"/meta/*.json; do
  file=$(basename "$meta" .json)
  out=$(mktemp)
  code=$(curl -sS --max-time 300 -o "$out" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -F "metadata=<$meta" -F "files=@$DIR/data/$file" "$BASE/api/v1/datasets")
  case $code in
    201) loaded=$((loaded + 1)) ;;
    409) kept=$((kept + 1)) ;;
    *) echo "demo: $file was refused ($code): $(head -c 400 "$out")" >&2; rm -f "$out"; exit 1 ;;
  esac
  rm -f "$out"
done
echo "demo datasets: $loaded loaded, $kept already there"
