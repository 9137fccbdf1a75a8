#!/usr/bin/env bash
# Builds irqtrace in release and runs its benchmarks on the real QEMU samples (traces/*.log.zst):
#   import.qemuLog  Recorder.record of ~50 MB of QEMU log text into memory (MB/s of input text)
#   encode.events   ~2.4 M pre-decoded events through a TraceWriter, zstd 19 and zstd 3 (events/s)
#   decode.events   TraceReader + forEachBatch over a ~7.3 M-event .irqt, touching time and template
#                   of every event (events/s; the goal is >= 50 M events/s per core)
#
# Usage: scripts/bench.sh [--plain | --both] [package-benchmark options, e.g. --filter decode]
#   (default)  package-benchmark (swift package --package-path Benchmarks benchmark); if it cannot
#              build or run, the plain timer below instead
#   --plain    only the plain timer: Benchmarks/BenchKit's irqtrace-bench (same workloads, no
#              package-benchmark), which also prints where decode time goes
#   --both     package-benchmark, then the plain timer
# Environment: BENCH_PLAIN_ARGS: extra arguments for irqtrace-bench (e.g. "--iterations 5").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

mode=auto
if [[ ${1:-} == --plain || ${1:-} == --both ]]; then mode=${1#--}; shift; fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "== swift: $(swift --version 2>&1 | head -1)"
echo "== irqtrace: $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"

# Quiet builds: the last line on success, the whole log on failure.
build() {
    local log
    log=$(mktemp)
    if swift build -c release "$@" >"$log" 2>&1; then
        tail -1 "$log"
        rm -f "$log"
    else
        cat "$log"
        rm -f "$log"
        return 1
    fi
}

echo "== swift build -c release (irqtrace)"
build

plain() {
    echo "== plain timer: Benchmarks/BenchKit irqtrace-bench (release)"
    build --package-path Benchmarks/BenchKit
    # shellcheck disable=SC2086 # BENCH_PLAIN_ARGS is a list of words
    Benchmarks/BenchKit/.build/release/irqtrace-bench all ${BENCH_PLAIN_ARGS:-}
}

run_package_benchmark() {
    echo "== package-benchmark: swift package --package-path Benchmarks benchmark $*"
    # Throughput lines (MB/s, events/s) are printed on stderr by each benchmark's teardown; the
    # tables carry the same figures as the custom metrics 'input bytes/s' and 'events/s'.
    swift package --package-path Benchmarks benchmark --no-progress "$@"
}

case $mode in
plain)
    plain
    ;;
both)
    run_package_benchmark "$@" || echo "== package-benchmark failed (exit $?)"
    plain
    ;;
auto)
    if ! run_package_benchmark "$@"; then
        echo "== package-benchmark could not build or run; falling back to the plain timer"
        plain
    fi
    ;;
esac
