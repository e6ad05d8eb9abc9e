#!/usr/bin/env bash
# Runs the test projects of a tier (unit | integration | all) and ends with one summary line
# "tests: N passed, N failed, N skipped". Exit status is non-zero when any gating test fails.
#
# Pending categories: hack/pending-categories lists xunit Category traits whose tests are the acceptance
# lines of an issue that is still open. They run and are reported on their own line, but their failures do
# not fail the run until the issue lands and its category is removed from that file. Nothing is skipped.
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
mapfile -t pending < <(grep -vE '^\s*(#|$)' hack/pending-categories 2>/dev/null || true)
gate_filter="" pending_filter=""
for c in "${pending[@]}"; do
  gate_filter+="${gate_filter:+&}Category!=$c"
  pending_filter+="${pending_filter:+|}Category=$c"
done

passed=0 failed=0 skipped=0 status=0 ppassed=0 pfailed=0
log=$(mktemp) failures=$(mktemp)
# Every task id the integration harness makes is appended here ("<containerd address>/<ns>/<id>"), so the leak check
# at the end can find each one's shim socket (hack/check-leftovers.sh).
export CC_TEST_LEDGER; CC_TEST_LEDGER=$(mktemp)
# run <project> <filter> -> sets rc, p, f, s from the VSTest summary line
run() {
  # A test that hangs fails the run within 10 minutes, naming itself, instead of eating CI's whole budget.
  local args=(test "$1" --nologo -c Debug --blame-hang-timeout 10m)
  [ -n "$2" ] && args+=(--filter "$2")
  dotnet "${args[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # VSTest names each failed test on a line "  Failed <name> [<time>]"; they are repeated at the end, where a
  # CI log that keeps only its tail still shows them.
  grep -E '^ +Failed [^ ]' "$log" | sed -E "s|^ +Failed |  $1: |" >> "$failures" || true
  # "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."; absent when the filter matched nothing.
  local line; line=$(grep -E '(Passed|Failed)! +- +Failed: ' "$log" | tail -1)
  p=0 f=0 s=0
  if [ -n "$line" ]; then
    f=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line")
    p=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")
    s=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")
    # An aborted run (a hang past the blame timeout, a crashed test host) reports only the tests that finished.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "!!! $1: test run aborted (hang or crash), see above" | tee -a "$failures"; fi
  elif [ "$rc" -ne 0 ] && ! grep -q 'No test matches the given testcase filter' "$log"; then
    f=1; echo "!!! $1 failed before reporting results" | tee -a "$failures"
  else
    rc=0
  fi
}
for proj in "${projects[@]}"; do
  [ -d "$proj" ] || continue
  echo "=== $proj"
  run "$proj" "$gate_filter"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  [ "$rc" -ne 0 ] && status=1
  if [ -n "$pending_filter" ] && grep -rqE "Category\", *\"($(IFS='|'; echo "${pending[*]}"))\"" "$proj" --include='*.cs'; then
    echo "=== $proj (pending: ${pending[*]}; reported, not gating)"
    run "$proj" "$pending_filter"
    ppassed=$((ppassed + p)) pfailed=$((pfailed + f))
  fi
done
rm -f "$log"
# The last step of an integration run: nothing of any test may be left (run_dir, its mounts, QEMUs, shim sockets and
# daemons). A leftover fails the run like a failed test, whichever test left it.
if [ "$tier" != unit ]; then
  echo "=== leak check"
  if ! bash hack/check-leftovers.sh "$CC_TEST_LEDGER" | tee "$log"; then
    failed=$((failed + 1)) status=1
    { echo "!!! leak check: something was left after the tests:"; sed 1d "$log"; } >> "$failures"
  fi
  rm -f "$log"
fi
rm -f "$CC_TEST_LEDGER"
if [ -s "$failures" ]; then echo "failed tests:"; cat "$failures"; fi
rm -f "$failures"
[ -n "$pending_filter" ] && echo "pending (open issues, not gating): $ppassed passed, $pfailed failed"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
