#!/usr/bin/env bash
# fuzz.sh — libFuzzer targets for irqtrace's parsers (Fuzz/, docs/FUZZING.md).
#   scripts/fuzz.sh build                    build the instrumented binary (-sanitize=fuzzer,address)
#   scripts/fuzz.sh run TARGET [SECONDS]     fuzz one target from its committed seed corpus
#   scripts/fuzz.sh smoke [SECONDS]          every target for SECONDS (default 20) each: CI's smoke run
#   scripts/fuzz.sh seeds                    rebuild Fuzz/corpus/TARGET/ from the real samples in traces/
#   scripts/fuzz.sh parse-runs N [SECONDS]   every target at parser depth (IRQTRACE_FUZZ_DEPTH=parse, inputs
#                                            ≤ 2 KiB) until N executions each (or SECONDS, default 3600)
# TARGET: irqt ftrace-text trace-cmd-report perf-script qemu-log trace-dat pcap scenario.
# FUZZ_TARGETS="a b": only those targets (smoke, parse-runs).
# FUZZ_SEED=N: libFuzzer's -seed (CI fixes it so that a CI failure reproduces; unset: a random seed).
# IRQTRACE_FUZZ_DEPTH=parse (any command): the parser alone; default: the whole pipeline per input.
# New findings land in .build-fuzz/findings/TARGET (crash-*, timeout-*, oom-*); the run fails on one.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
SCRATCH="$REPO/.build-fuzz"
BIN="$SCRATCH/release/irqtrace-fuzz"
TARGETS=(irqt ftrace-text trace-cmd-report perf-script qemu-log trace-dat pcap scenario)
# FUZZ_TARGETS="pcap irqt" limits smoke and parse-runs to those targets.
[ -n "${FUZZ_TARGETS:-}" ] && read -r -a TARGETS <<<"$FUZZ_TARGETS"
export SWIFT_BACKTRACE=enable=no   # Swift's backtracer trips ASan; libFuzzer prints the stack

build() { (cd "$REPO/Fuzz" && swift build -c release -Xswiftc -sanitize=fuzzer,address --scratch-path "$SCRATCH"); }

seeds() {
    local c="$REPO/Fuzz/corpus"
    rm -rf "$c"; mkdir -p "$c"/{irqt,ftrace-text,trace-cmd-report,perf-script,qemu-log,trace-dat,pcap,scenario}
    local irq="$REPO/.build/debug/irqtrace"
    [ -x "$irq" ] || (cd "$REPO" && swift build --product irqtrace >/dev/null)
    head -c 6000 "$REPO/traces/kvm/pvm-msi.trace.txt" >"$c/ftrace-text/pvm-msi"
    head -c 6000 "$REPO/traces/kvm/pvm-ioapic-level.trace.txt" >"$c/ftrace-text/pvm-ioapic-level"
    head -c 6000 "$REPO/traces/kvm/pvm-msi.report.txt" >"$c/trace-cmd-report/pvm-msi"
    head -c 6000 "$REPO/traces/kvm/pvm-msi.perf.txt" >"$c/perf-script/pvm-msi"
    set +o pipefail   # head closes the pipe early
    zstd -dc "$REPO/traces/qemu-x86-q35-intremap-smp2.log.zst" | head -c 8000 >"$c/qemu-log/q35-intremap"
    zstd -dc "$REPO/traces/qemu-arm64-virt-gicv2-smp2.log.zst" | head -c 8000 >"$c/qemu-log/gicv2"
    # QEMU's -d int log interleaved: from 20 lines before the first LAPIC acknowledge.
    local n
    n="$(zstd -dc "$REPO/traces/qemu-x86-pc-smp2-mttcg-dint.log.zst" | grep -n -m1 'Servicing hardware INT=0x30' | cut -d: -f1)"
    zstd -dc "$REPO/traces/qemu-x86-pc-smp2-mttcg-dint.log.zst" | sed -n "$((n - 20)),$((n + 100))p" | head -c 8000 >"$c/qemu-log/pc-mttcg-dint"
    set -o pipefail
    cp "$REPO/traces/tracedat/lost-counter.v6.dat" "$c/trace-dat/lost-counter.v6"
    cp "$REPO/traces/kvm/pvm-ipi.v7-none.dat" "$c/trace-dat/pvm-ipi.v7-none"
    "$irq" record "$c/ftrace-text/pvm-msi" -o "$c/irqt/pvm-msi.irqt" --chunk-size 2048 2>/dev/null
    "$irq" export "$REPO/traces/kvm/pvm-tpr.trace.txt" --format pcap -o "$c/pcap/pvm-tpr.pcap"
    cp "$REPO/traces/scenarios/"*.json "$c/scenario/"
}

run() { # target seconds [extra libFuzzer flags]
    local t="$1" secs="${2:-60}" depth="${IRQTRACE_FUZZ_DEPTH:-pipeline}"
    local out="$SCRATCH/findings/$1" work="$SCRATCH/corpus/$depth/$1"
    shift 2 || shift $#
    mkdir -p "$out" "$work"
    local seeds=()
    [ -d "$REPO/Fuzz/corpus/$t" ] && seeds=("$REPO/Fuzz/corpus/$t")
    echo "fuzz $t ($depth) for ${secs}s${FUZZ_SEED:+, seed $FUZZ_SEED}" >&2
    [ -n "${FUZZ_SEED:-}" ] && set -- -seed="$FUZZ_SEED" "$@"
    IRQTRACE_FUZZ_TARGET="$t" "$BIN" "$work" "${seeds[@]}" -max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-65536}" \
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/" -print_final_stats=1 "$@" 2>"$out/log.txt" || {
        tail -40 "$out/log.txt" >&2; echo "fuzz $t: FAILED (artifacts in $out)" >&2; return 1; }
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$out/log.txt" | sed "s/^/$t ($depth) /"
}

case "${1:-}" in
    build) build ;;
    seeds) seeds ;;
    run) [ -x "$BIN" ] || build; run "$2" "${3:-60}" ;;
    smoke) [ -x "$BIN" ] || build; for t in "${TARGETS[@]}"; do run "$t" "${2:-20}"; done ;;
    parse-runs) [ -x "$BIN" ] || build
        export IRQTRACE_FUZZ_DEPTH=parse FUZZ_MAX_LEN=2048
        for t in "${TARGETS[@]}"; do run "$t" "${3:-3600}" -runs="$2"; done ;;
    *) sed -n 2,12p "$0"; exit 2 ;;
esac
