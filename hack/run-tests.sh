#!/usr/bin/env bash
# Runs the test projects of a tier (unit | integration | all) and ends with one summary line
# "tests: N passed, N failed, N skipped". Exit status is non-zero when any project fails.
set -uo pipefail
cd "$(dirname "$0")/.."
tier=${1:-all}
projects=()
case "$tier" in
  unit) projects=(tests/*.Tests) ;;
  integration) projects=(integration/Cc.Integration.*) ;;
  all) projects=(tests/*.Tests integration/Cc.Integration.*) ;;
  *) echo "usage: $0 unit|integration|all" >&2; exit 2 ;;
esac
passed=0 failed=0 skipped=0 status=0
log=$(mktemp)
for p in "${projects[@]}"; do
  [ -d "$p" ] || continue
  echo "=== $p"
  dotnet test "$p" --nologo -c Debug 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # The VSTest summary line: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
  line=$(grep -E '(Passed|Failed)! +- +Failed: ' "$log" | tail -1)
  if [ -n "$line" ]; then
    f=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line")
    pa=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")
    s=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + pa)) failed=$((failed + f)) skipped=$((skipped + s))
  fi
  if [ "$rc" -ne 0 ]; then
    status=1
    [ -z "$line" ] && failed=$((failed + 1)) && echo "!!! $p failed before reporting results"
  fi
done
rm -f "$log"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
