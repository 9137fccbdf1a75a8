#!/usr/bin/env bash
# make-big-tracedat.sh — record a large real trace.dat (millions of events) for the trace.dat
# decode benchmark (irqtrace-bench import-tracedat FILE). Not committed: too big for traces/.
#
# A tracefs instance with large per-CPU buffers records kvm/* (from the tiny VMM in
# scripts/kvm-guest, run in a loop), sched/*, irq/*, irq_vectors/*, timer/* and raw_syscalls/* (a
# shell loop makes system calls) for SECONDS seconds; `trace-cmd extract -B` saves it as trace.dat
# v7 (zstd). Run as root.
#
# Environment: OUT=/tmp/irqtrace-big.dat  SECONDS_TO_RUN=6  BUFFER_KB=400000
#              WORK=/tmp/irqtrace-kvm (where record-kvm-traces.sh built tinyvmm)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT:-/tmp/irqtrace-big.dat}"
RUN="${SECONDS_TO_RUN:-6}"
BUFFER_KB="${BUFFER_KB:-400000}"
WORK="${WORK:-/tmp/irqtrace-kvm}"
INSTANCE=irqtrace-big
log() { echo "make-big-tracedat: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
command -v trace-cmd >/dev/null || die "trace-cmd missing (apt-get install trace-cmd)"
mkdir -p "$WORK"
if [ ! -x "$WORK/tinyvmm" ]; then
    gcc -O2 -std=gnu11 -pthread -o "$WORK/tinyvmm" "$HERE/kvm-guest/tinyvmm.c"
fi
# shellcheck source=tracefs-instance.sh
. "$HERE/tracefs-instance.sh"
tracefs_instance "$INSTANCE" "$BUFFER_KB"
for s in kvm sched irq irq_vectors timer raw_syscalls; do
    [ -d "$INST/events/$s" ] && echo 1 >"$INST/events/$s/enable"
done
: >"$INST/trace"
echo 1 >"$INST/tracing_on"
end=$((SECONDS + RUN))
scenarios=($("$WORK/tinyvmm" --list | awk 'NR > 3 && NF { print $1 }'))
( while [ $SECONDS -lt $end ]; do for s in "${scenarios[@]}"; do "$WORK/tinyvmm" "$s" >/dev/null 2>&1 || true; done; done ) &
( while [ $SECONDS -lt $end ]; do ls /proc >/dev/null; done ) &
wait
echo 0 >"$INST/tracing_on"
trace-cmd extract -B "$INSTANCE" -o "$OUT" >/dev/null 2>&1 || die "trace-cmd extract failed"
log "$OUT: $(stat -c %s "$OUT") bytes"
