#!/usr/bin/env bash
# ttrpc benchmark part of `make bench`: the Go reference (ttrpc 1.1 and 1.2) vs our Cc.Ttrpc, same
# workloads, one run, a markdown table on stdout (progress on stderr). Builds what it needs: the Go
# peers, Cc.Bench as NativeAOT (falls back to a Release JIT build if the AOT publish fails; the
# table says which), and our dedicated server, integration/Cc.TtrpcPeer, as NativeAOT. The whole part takes about two
# minutes. Our side runs twice, over Cc.Ttrpc's stream transport (the one the product ships) and the bench's own
# Pipelines.Sockets.Unofficial SocketConnection one, so the table compares them.
# Options are passed through to `Cc.Bench ttrpc` (e.g. --repeat 5 --duration 2, --baseline-server PATH).
#   BENCH_PUBLISH_TIMEOUT_S=1800 (each NativeAOT publish: at a load of 40-85 on 2 cores one of Cc.Bench took 26
#   minutes, and the earlier 600 s made the part measure the JIT fallback or no dedicated peer)
#   BENCH_TTRPC_TIMEOUT_S=1200 (the measuring: 6 servers x 4 workloads x 5 repeats of 1.3 s, plus a Go client's start
#   per run, which at that load takes seconds)
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=build/bench
publish_timeout=${BENCH_PUBLISH_TIMEOUT_S:-1800}
mkdir -p "$out"

bash hack/build-ttrpc-peer.sh >&2

bin=""
# NativeAOT comes from Cc.Bench.csproj's own PublishAot: a global -p:PublishAot=true would also reach the
# netstandard2.0 source generator it references and fail the publish (NETSDK1207), silently measuring JIT.
if timeout "$publish_timeout" dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release -r linux-x64 --nologo -v quiet \
     -o "$out/cc-bench-aot" >&2; then
  bin=$out/cc-bench-aot/Cc.Bench
else
  echo "10-ttrpc: NativeAOT publish failed; measuring a Release JIT build instead" >&2
  timeout "$publish_timeout" dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet \
    -p:PublishAot=false -o "$out/cc-bench-jit" >&2
  bin=$out/cc-bench-jit/Cc.Bench
fi

# Our server: the dedicated peer (integration/Cc.TtrpcPeer, Cc.Ttrpc and the Echo service only, the shipped executables'
# settings), as the Go side's server is its small peer binary; Cc.Bench's own ttrpc-server stays as the extra column
# "ours, in Cc.Bench". Without a NativeAOT peer the bench's ttrpc-server is "ours", as before (the table says which).
our_server=()
if timeout "$publish_timeout" dotnet publish integration/Cc.TtrpcPeer/Cc.TtrpcPeer.csproj -c Release -r linux-x64 --nologo -v quiet \
     -o "$out/ttrpc-peer-aot" >&2; then
  our_server=(--our-server "$out/ttrpc-peer-aot/Cc.TtrpcPeer")
else
  echo "10-ttrpc: NativeAOT publish of Cc.TtrpcPeer failed; our server is Cc.Bench ttrpc-server" >&2
fi

lib="Cc.Ttrpc at $(git log -1 --format=%h -- src/Cc.Ttrpc 2>/dev/null || echo '?')"
git diff --quiet -- src/Cc.Ttrpc 2>/dev/null || lib="$lib + uncommitted changes"
echo "## ttrpc — $(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r), load average $(cut -d' ' -f1 /proc/loadavg), $lib"
echo
timeout "${BENCH_TTRPC_TIMEOUT_S:-1200}" "$bin" ttrpc --go-peers build/ttrpc-peer --socket-connection "${our_server[@]}" --out "$out/ttrpc.md" "$@"
