#!/usr/bin/env bash
# record-multi-vm.sh — record real host traces holding several VMs: three tinyvmm VMs run at the
# same time (ipi, msi, tpr), then two one after another (halt-cli, idt-fault); and seven one after
# another into a ring buffer too small for them (pvm-overwritten: the oldest events dropped). The sample for the
# replayer's VM separation: VMs run one after another are replayed each from its own reset, VMs run
# concurrently are reported as such (KVM's tracepoints do not name the VM).
#
# Run as root on a host with KVM. Builds tinyvmm from scripts/kvm-guest/tinyvmm.c if needed.
# Environment: OUT=traces/kvm-multi  WORK=/tmp/irqtrace-kvm  BUFFER_KB=8192
# Events: kvm/* except kvm_emulate_insn, kvm_age_hva, kvm_test_age_hva, kvm_fpu, kvm_unmap_hva_range
# (as record-kvm-traces.sh), trace_clock local, in a tracefs instance of its own (removed at exit).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$ROOT/traces/kvm-multi}"
WORK="${WORK:-/tmp/irqtrace-kvm}"
BUFFER_KB="${BUFFER_KB:-8192}"
INSTANCE=irqtrace-multi-vm
log() { echo "record-multi-vm: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
[ -e /dev/kvm ] || die "/dev/kvm missing"
mkdir -p "$WORK" "$OUT"
if [ ! -x "$WORK/tinyvmm" ]; then
    command -v gcc >/dev/null || apt-get install -y gcc >/dev/null
    gcc -O2 -std=gnu11 -pthread -o "$WORK/tinyvmm" "$HERE/tinyvmm.c"
fi
# shellcheck source=../tracefs-instance.sh
. "$ROOT/scripts/tracefs-instance.sh"
tracefs_instance "$INSTANCE" "$BUFFER_KB"
[ -d "$INST/events/kvm" ] || die "$INST/events/kvm missing (KVM tracepoints not available)"
echo 1 >"$INST/events/kvm/enable"
for e in kvm_emulate_insn kvm_age_hva kvm_test_age_hva kvm_fpu kvm_unmap_hva_range; do
    [ -d "$INST/events/kvm/$e" ] && echo 0 >"$INST/events/kvm/$e/enable"
done
: >"$INST/trace"
echo 1 >"$INST/tracing_on"
"$WORK/tinyvmm" ipi >/dev/null 2>&1 & a=$!
"$WORK/tinyvmm" msi >/dev/null 2>&1 & b=$!
"$WORK/tinyvmm" tpr >/dev/null 2>&1 & c=$!
wait $a $b $c || true
"$WORK/tinyvmm" halt-cli >/dev/null 2>&1 || true
"$WORK/tinyvmm" idt-fault >/dev/null 2>&1 || true
echo 0 >"$INST/tracing_on"
cat "$INST/trace" >"$OUT/pvm-concurrent-then-sequential.trace.txt"
log "$OUT/pvm-concurrent-then-sequential.trace.txt: $(grep -vc '^#' "$OUT/pvm-concurrent-then-sequential.trace.txt") events"

# Seven VMs one after another into an 8 KB-per-CPU buffer in overwrite mode: the oldest events of the
# busier CPU are dropped, as in a flight-recorder copy of `trace` (its header says how many).
echo 8 >"$INST/buffer_size_kb"
echo 1 >"$INST/options/overwrite"
: >"$INST/trace"
echo 1 >"$INST/tracing_on"
for s in msi ipi ioapic-level tpr coalesce misroute idt-fault; do "$WORK/tinyvmm" "$s" >/dev/null 2>&1 || true; done
echo 0 >"$INST/tracing_on"
cat "$INST/trace" >"$OUT/pvm-overwritten.trace.txt"
log "$OUT/pvm-overwritten.trace.txt: $(sed -n 's/^# entries-in-buffer\/entries-written: *//p' "$OUT/pvm-overwritten.trace.txt")"
