#!/usr/bin/env bash
# make fuzz: every fuzz target of tests/Cc.Fuzz, first under AFL++ (coverage-guided; SharpFuzz instruments Cc.Ttrpc
# and Cc.Agent), then in-process for FUZZ_INPUTS deterministic mutations of the kept corpus plus what AFL++ found.
# Fails on any crash, hang or unexpected exception and prints the input. Bounded: FUZZ_SECONDS of AFL++ per target.
#
#   FUZZ_SECONDS=150 FUZZ_INPUTS=1000000 FUZZ_TARGETS="frames request response server agent" hack/fuzz.sh
#   FUZZ_KEEP=1 ...   copies the inputs AFL++ kept (its queue) into tests/Cc.Fuzz/corpus/<target>/ to commit
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-150}
inputs=${FUZZ_INPUTS:-1000000}
targets=${FUZZ_TARGETS:-frames request response server agent}
out=build/fuzz
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz is missing (make deps installs afl++)" >&2; exit 1; }

# Two copies: instrumented code writes to AFL++'s shared coverage map, which exists only under afl-fuzz, so the
# in-process run uses the plain build.
rm -rf "$out/bin" "$out/bin-afl"
dotnet publish tests/Cc.Fuzz -c Release --nologo -v quiet -o "$out/bin"
cp -a "$out/bin" "$out/bin-afl"
[ -x build/tools/sharpfuzz ] || dotnet tool install --tool-path build/tools SharpFuzz.CommandLine --version 2.3.0 >/dev/null
for dll in Cc.Ttrpc Cc.Agent; do build/tools/sharpfuzz "$out/bin-afl/$dll.dll"; done

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_SKIP_BIN_CHECK=1
status=0
for t in $targets; do
  rm -rf "$out/in-$t" "$out/afl-$t"
  mkdir -p "$out/in-$t"
  find "tests/Cc.Fuzz/corpus/$t" -type f -size +0 -exec cp {} "$out/in-$t/" \;   # AFL++ refuses empty inputs
  afl-fuzz -i "$out/in-$t" -o "$out/afl-$t" -V "$seconds" -t 10000 -m none -- \
    dotnet "$out/bin-afl/Cc.Fuzz.dll" afl "$t" >"$out/afl-$t.log" 2>&1 || { echo "fuzz $t: afl-fuzz failed, see $out/afl-$t.log"; status=1; continue; }
  stats=$out/afl-$t/default/fuzzer_stats
  execs=$(sed -n 's/^execs_done *: //p' "$stats") crashes=$(sed -n 's/^saved_crashes *: //p' "$stats")
  hangs=$(sed -n 's/^saved_hangs *: //p' "$stats") queue=$(sed -n 's/^corpus_count *: //p' "$stats")
  echo "fuzz $t (AFL++): $execs inputs in $seconds s, corpus $queue, $crashes crashes, $hangs hangs"
  if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
    status=1
    for f in "$out/afl-$t"/default/{crashes,hangs}/id*; do
      [ -f "$f" ] && dotnet "$out/bin/Cc.Fuzz.dll" replay "$t" "$f" || true
    done
  fi
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    for f in "$out/afl-$t"/default/queue/id*; do cp "$f" "tests/Cc.Fuzz/corpus/$t/afl-$(sha256sum "$f" | cut -c1-16)"; done
  fi
  # The in-process run also takes AFL++'s queue, so it mutates inputs that reach deeper.
  mkdir -p "$out/queue/$t"
  cp "$out/afl-$t"/default/queue/id* "$out/queue/$t/" 2>/dev/null || true
done
for t in $targets; do
  cp "tests/Cc.Fuzz/corpus/$t"/* "$out/queue/$t/" 2>/dev/null || true
  dotnet "$out/bin/Cc.Fuzz.dll" run "$t" "$inputs" 1 "$out/queue" || status=1
done
exit $status
