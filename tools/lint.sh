#!/usr/bin/env bash
# lint.sh: `make lint`: clang-format (check only), cppcheck and clang-tidy over our C code.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
mapfile -t FILES < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' | grep -v '^build/')
mapfile -t CFILES < <(printf '%s\n' "${FILES[@]}" | grep '\.c$')

echo "== clang-format"
if ! clang-format --dry-run --Werror "${FILES[@]}" 2>/tmp/ibx-format.$$; then
  grep -E '^[^ ].*error' /tmp/ibx-format.$$ | head -20
  echo "lint: run 'make format' to fix formatting"; fail=1
fi
rm -f /tmp/ibx-format.$$

INC=(-Ilibs/common/include -Ilibs/ml/include -Ilibs/xai/include $(pkg-config --cflags-only-I libmicrohttpd libpq jansson libjwt rdkafka libcurl libsodium 2>/dev/null))

echo "== cppcheck"
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
     --inline-suppr --suppress=missingIncludeSystem --suppress=ctuuninitvar -D__GNUC__ -D_GNU_SOURCE \
     -Ilibs/common/include "${CFILES[@]}"; then
  fail=1
fi

echo "== clang-tidy"
CHECKS='-*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-bugprone-implicit-widening-of-multiplication-result,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-branch-clone,-clang-analyzer-valist.Uninitialized,-clang-analyzer-optin.performance.Padding'
export CHECKS
export TIDY_FLAGS="-std=c11 -D_GNU_SOURCE ${INC[*]} -Itests/harness"
TIDY_OUT=$(printf '%s\n' "${CFILES[@]}" | xargs -P 2 -n 6 bash -c \
  'clang-tidy --quiet -checks="$CHECKS" "$@" -- $TIDY_FLAGS 2>/dev/null' _)
if echo "$TIDY_OUT" | grep -qE '(warning|error):'; then
  echo "$TIDY_OUT" | grep -E "(warning|error):" | sort -u | head -200
  fail=1
fi

if [ "$fail" = 0 ]; then echo "lint: clean"; fi
exit $fail
