#!/usr/bin/env bash
# record-kvm-traces.sh — record real KVM interrupt trace events (ftrace kvm/*)
# from a tiny two-vCPU guest, for irqtrace's sample traces.
#
# Builds tinyvmm (tinyvmm.c beside this script: raw KVM ioctls, in-kernel
# LAPIC/IOAPIC/PIC, a hand-assembled 32-bit guest), then for each scenario:
#   - creates its own tracefs instance (instances/$INSTANCE, removed at exit),
#     sets buffer_size_kb and trace_clock, enables kvm/* minus the noise events,
#     irq/* and irq_vectors/* (host interrupts, if present);
#   - runs `tinyvmm --marker <instance>/trace_marker SCENARIO` (its action
#     lines become tracing_mark_write events; its stdout is NAME.vmm.txt);
#   - saves the instance's `trace` file as NAME.trace.txt;
#   - for $DAT_SCENARIOS also: `trace-cmd extract -B $INSTANCE` -> NAME.dat
#     (v7, zstd), `trace-cmd convert` -> NAME.v6.dat and NAME.v7-none.dat,
#     `trace-cmd report` -> NAME.report.txt, `trace-cmd report -t -R` ->
#     NAME.report-raw.txt;
#   - for $PERF_SCENARIOS a separate run under `perf record -a` with the same
#     kvm events -> NAME.perf.txt (`perf script`).
# One extra recording of $GLOBAL_SCENARIO uses trace_clock global. Finally
# rewrites $OUT/README.md (versions, file table, per-event counts).
#
# `trace-cmd record` is not used: trace-cmd 3.1.6 insists on writing
# set_ftrace_filter, set_ftrace_notrace and /proc/sys/kernel/ftrace_enabled,
# which this kernel refuses. Tracefs is set up by hand and read back with
# `trace-cmd extract`.
#
# Size: trace-cmd stores the whole /proc/kallsyms (5.4 MB here) and the formats
# of every event system (2 MB) in each trace.dat, and 3.1.6 has no switch to
# leave them out; that would make every .dat 1-6 MB. So `extract` runs in a
# private mount namespace where /proc/kallsyms is a filtered copy (only the
# symbols needed to print `ip` of tracing_mark_write) and events/ shows only
# the recorded systems (ftrace, kvm, irq, irq_vectors: what `trace-cmd record
# -e ...` would store). FULL_METADATA=1 turns this off.
#
# Needs root (tracefs, /dev/kvm, apt-get). Idempotent: packages are installed
# only if missing, tinyvmm is rebuilt, outputs are overwritten.
#
# Environment:
#   OUT=<repo>/traces/kvm     output directory
#   WORK=/tmp/irqtrace-kvm    scratch (tinyvmm binary, perf.data, kallsyms copy)
#   INSTANCE=irqtrace-rec     tracefs instance name
#   BUFFER_KB=4096            per-CPU buffer size
#   CLOCK=local               trace_clock for the normal recordings
#   SCENARIOS="msi ioapic-edge ioapic-level ioapic-level-held ipi tpr coalesce
#              idt-fault misroute resend-pending masked-edge level-storm halt-cli halt-tpr"
#                             (the last seven make KVM show real faults: docs/ANALYZERS.md)
#   DAT_SCENARIOS="msi ioapic-level ipi idt-fault halt-cli"   also get .dat/.v6.dat/.v7-none.dat/report
#   GLOBAL_SCENARIO=ipi       recorded once more with trace_clock global ("" = skip)
#   PERF_SCENARIOS="msi ioapic-level"         also recorded with perf ("" = skip)
#   NOISE="kvm_emulate_insn kvm_age_hva kvm_test_age_hva kvm_fpu kvm_unmap_hva_range"
#                             kvm events left disabled
#   FULL_METADATA=0           1 = keep full kallsyms and all event formats in .dat
#   NO_APT=0                  1 = never run apt-get (fail if something is missing)
# Options: --readme-only (rewrite README.md from the files present), --help.
# shellcheck disable=SC2016  # backticks in single quotes are Markdown, not command substitution
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$REPO/traces/kvm}"
WORK="${WORK:-/tmp/irqtrace-kvm}"
INSTANCE="${INSTANCE:-irqtrace-rec}"
BUFFER_KB="${BUFFER_KB:-4096}"
CLOCK="${CLOCK:-local}"
SCENARIOS="${SCENARIOS:-msi ioapic-edge ioapic-level ioapic-level-held ipi tpr coalesce idt-fault misroute resend-pending masked-edge level-storm halt-cli halt-tpr}"
DAT_SCENARIOS="${DAT_SCENARIOS:-msi ioapic-level ipi idt-fault halt-cli}"
GLOBAL_SCENARIO="${GLOBAL_SCENARIO-ipi}"
PERF_SCENARIOS="${PERF_SCENARIOS-msi ioapic-level}"
NOISE="${NOISE:-kvm_emulate_insn kvm_age_hva kvm_test_age_hva kvm_fpu kvm_unmap_hva_range}"
FULL_METADATA="${FULL_METADATA:-0}"
NO_APT="${NO_APT:-0}"
SYSTEMS=(kvm irq irq_vectors)     # event systems enabled (those present)
MAX_BYTES=$((4 * 1024 * 1024))    # warn above this per file (level-storm's text is ~3.6 MB)

log() { printf '[record-kvm-traces] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

readme_only=0
case "${1:-}" in
    --readme-only) readme_only=1 ;;
    -h|--help) sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die "unknown argument $1 (try --help)" ;;
esac

[ "$(id -u)" = 0 ] || die "run as root (tracefs, /dev/kvm, apt-get)"
mkdir -p "$WORK" "$OUT"
WORK="$(cd "$WORK" && pwd)"
OUT="$(cd "$OUT" && pwd)"

# ------------------------------------------------------------------ packages
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {   # apt_install PKG... (only the missing ones)
    local need=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
    [ "${#need[@]}" -eq 0 ] && return 0
    [ "$NO_APT" = 1 ] && die "missing packages: ${need[*]} (NO_APT=1)"
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null
        apt_updated=1
    fi
    log "apt-get install ${need[*]}"
    apt-get -o DPkg::Lock::Timeout=600 -y -q install "${need[@]}" >/dev/null
}

flavour() {   # vmx / svm / pvm from the loaded KVM backend module
    if [ -d /sys/module/kvm_intel ]; then echo vmx
    elif [ -d /sys/module/kvm_amd ]; then echo svm
    elif [ -d /sys/module/kvm_pvm ]; then echo pvm
    else echo unknown; fi
}
FLAVOUR="$(flavour)"

# ------------------------------------------------------------------ README
count_events() {   # count_events FILE: event-name counts (ftrace text, trace-cmd report, perf script)
    sed -nE 's/^.*[0-9]+\.[0-9]+: +([a-z_0-9]+:)?([a-zA-Z_0-9]+):( |$).*/\2/p' "$1" | sort | uniq -c | sort -k1,1nr -k2
}
event_lines() {    # lines that are events (not headers / blank / "cpus=" / "Buffer:")
    grep -cE '[0-9]+\.[0-9]+: +[a-zA-Z_0-9:]+:( |$)' "$1" || true
}

write_readme() {
    local r="$OUT/README.md" f base
    local files=() texts=()
    for f in "$OUT"/*; do
        f="$(basename "$f")"
        [ -f "$OUT/$f" ] && [ "$f" != README.md ] && files+=("$f")
    done
    for f in "${files[@]}"; do
        case "$f" in *.trace.txt|*.perf.txt) texts+=("$f") ;; esac
    done
    {
        cat <<EOF
# Real KVM interrupt traces (ftrace kvm/* events)

Made by \`scripts/kvm-guest/record-kvm-traces.sh\` (run as root; installs trace-cmd, gcc etc.
with apt-get if missing). Do not edit by hand: rerun the script, which rewrites this file from
the files present.

- Host kernel: \`$(uname -r)\`, $(nproc) CPUs. KVM modules (\`ls /sys/module | grep kvm\`):
  $(for m in /sys/module/*kvm*; do printf '`%s` ' "$(basename "$m")"; done)so the KVM flavour is **$FLAVOUR**
  (file prefix \`$FLAVOUR-\`). kvm_pvm parameters: $( [ -d /sys/module/kvm_pvm/parameters ] && for p in pvm_emul_batch pvm_native no_x2apic; do [ -r /sys/module/kvm_pvm/parameters/$p ] && printf '`%s=%s` ' "$p" "$(cat /sys/module/kvm_pvm/parameters/$p)"; done )
- $( (trace-cmd --version 2>&1 || true) | grep -m1 'version' || echo "trace-cmd: not installed"); perf: $(perf --version 2>/dev/null || echo "not installed").
- Workload: \`tinyvmm SCENARIO\` (\`scripts/kvm-guest/tinyvmm.c\`): 2 vCPUs, in-kernel irqchip
  (KVM_CREATE_IRQCHIP), GSI routing 0-15 PIC+IOAPIC, 16-23 IOAPIC, 24/25 MSI; a hand-assembled
  32-bit guest (\`guest.S\`) that reads its APIC ID, whose handlers log the vector and EOI, idling in
  \`sti; hlt\` (or \`cli; hlt\`); a #NP/#GP handler returns to the interrupted code (a vector whose IDT gate
  the guest cleared faults on delivery). At the end, a vCPU still in the guest (halted for good) is kicked
  out of KVM_RUN with a signal, as a VMM does at shutdown (KVM then traces the end of its halt).
  The VMM injects with KVM_SIGNAL_MSI / KVM_IRQ_LINE_STATUS and has the guest write the LAPIC
  (TPR, ICR, LDR/DFR) and IOAPIC (IOREGSEL/IOWIN) by MMIO. Each VMM action is also written to the
  instance's trace_marker (\`tracing_mark_write: tinyvmm: ...\`), before the ioctl it describes.
- Events: \`kvm/*\` except \`${NOISE// /\`, \`}\`; \`irq/*\` and \`irq_vectors/*\` (host
  interrupts: timer ticks, IPIs, device IRQs of the host itself, unrelated to the guest).
  Per-CPU buffer ${BUFFER_KB} KB; trace_clock \`$CLOCK\` except the \`-global-clock\` recording.

## Scenarios (\`tinyvmm --list\`)

\`\`\`
$( [ -x "$WORK/tinyvmm" ] && "$WORK/tinyvmm" --list | sed 1,3d )
\`\`\`

Outcomes can vary between runs where a second injection races the guest (e.g. in
\`coalesce\`, the second MSI 0x35 to a halted vCPU is sometimes coalesced and sometimes
delivered separately): each \`NAME.vmm.txt\` says what happened in that run.

## Scenarios with real faults

The \`fault:\` scenarios make this KVM (kvm_pvm) exhibit a fault; \`irqtrace analyze\` reports it
(docs/ANALYZERS.md, "Real recordings with real faults", has what KVM did and the finding;
Tests/AnalyzerTests/RealKVMFaultTests.swift asserts them). Recorded from the same tinyvmm, with
the same events; kvm_pvm EOIs every delivery at once (\`pvm_deliver_pending_event\`), so a vector
the guest does not EOI blocks nothing there, while one whose delivery faults stays in service.

| recording | what the trace shows | finding |
| --- | --- | --- |
| \`pvm-idt-fault\` | MSI 0x58 accepted, no delivery-time EOI; the guest's ISR read shows 0x58 in service, PPR 0x50; 0x43 and 0x51 stay in IRR | \`stuck_in_service\` vCPU 0 vector 0x58, blocking 0x43 and 0x51 (\`lost_interrupt\` consequences) |
| \`pvm-misroute\` | \`kvm_msi_set_irq\` / \`kvm_apic_ipi\` / \`kvm_ioapic_set_irq … (coalesced)\` to APIC IDs 15 and 2 with no \`kvm_apic_accept_irq\` | \`misrouted_vector\` with \`dest\`, no cpu (5) |
| \`pvm-resend-pending\` | the same vector accepted again while in IRR (vCPU 0 out of KVM_RUN), one delivery each | \`lost_interrupt\` warning for the IOAPIC edge and the IPI, info for the MSIs |
| \`pvm-masked-edge\` | \`kvm_ioapic_set_irq … (Fixed\|physical\|edge\|masked)\` on a pin unmasked before; nothing after the unmask | \`lost_interrupt\` error, irq 6 |
| \`pvm-level-storm\` | \`kvm_eoi\` → \`kvm_ack_irq\` → \`kvm_apic_accept_irq\` 10,000 times, \`kvm_ioapic_delayed_eoi_inj\`, then the kworker's re-delivery; the line never goes low | \`interrupt_storm\` error, irq 11 |
| \`pvm-halt-cli\` | vCPU 1's \`kvm_vcpu_wakeup wait time ≈220 ms\` (the shutdown kick) after an MSI and an IPI accepted during the halt, no delivery after it | \`halted_with_pending\` error vCPU 1 vector 0x45 (+ 0x56 consequence) |
| \`pvm-halt-tpr\` | the same with TPR 0xf0 (sti; hlt): 0x45, 0xe5, 0x56 pending and masked | \`halted_with_pending\` error vCPU 1 vector 0x45 (+ consequences) |

## Files

- \`NAME.trace.txt\`: the instance's \`trace\` file, as read from tracefs (ftrace text).
- \`NAME.vmm.txt\`: tinyvmm's stdout: every action with ioctl results, then the guest's own
  handler log (\`guest N vcpuC vector 0xVV\` in the order the guest took them) and counts.
  Ground truth for the trace; its timestamps are CLOCK_MONOTONIC seconds since tinyvmm start.
- \`NAME.dat\`: \`trace-cmd extract -B $INSTANCE -o NAME.dat\` (file version 7, zstd).
  \`NAME.v6.dat\`: \`trace-cmd convert -i NAME.dat -o NAME.v6.dat --file-version 6\`.
  \`NAME.v7-none.dat\`: \`trace-cmd convert ... --file-version 7 --compression none\`.
  The events are in buffer "$INSTANCE" (the file also has an empty top-level buffer with 0 CPUs).
  trace-cmd 3.1.6 labels every buffer with the top-level \`trace_clock\`; the script shows it the
  instance's (bind mount in a private mount namespace), so the \`-global-clock\` files say "global".
  $( [ "$FULL_METADATA" = 1 ] && echo "Full kallsyms and all event formats are included." || echo "Kallsyms reduced to \`tracing_mark_write\` and its successor, event formats to the systems ftrace, ${SYSTEMS[*]} (see the script)." )
- \`NAME.report.txt\`: \`trace-cmd report -i NAME.dat\`; \`NAME.report-raw.txt\`: \`trace-cmd report
  -t -R -i NAME.dat\` (nanosecond timestamps, raw field values instead of print formats).
  Identical reports from the three .dat variants are checked by the script.
- \`NAME.perf.txt\`: \`perf script\` of a separate run under \`perf record -a -e kvm:EVENT ...\`
  (same kvm events, no markers, no irq/irq_vectors).

| file | scenario | clock | events (lines) | bytes |
| --- | --- | --- | ---: | ---: |
EOF
        local name scen clock ev sz
        for f in "${files[@]}"; do
            name="${f%%.*}"
            scen="${name#"$FLAVOUR"-}"; scen="${scen%-global-clock}"
            clock="$CLOCK"; case "$name" in *-global-clock) clock=global ;; esac
            case "$f" in
                *.trace.txt|*.report.txt|*.report-raw.txt|*.perf.txt) ev="$(event_lines "$OUT/$f")" ;;
                *.dat) ev="$(trace-cmd report -i "$OUT/$f" 2>/dev/null | event_lines /dev/stdin)" ;;
                *.vmm.txt) ev="—" ;;
                *) ev="?" ;;
            esac
            case "$f" in *.perf.txt) clock="perf" ;; *.vmm.txt) clock="—" ;; esac
            sz="$(stat -c %s "$OUT/$f")"
            printf '| `%s` | %s | %s | %s | %s |\n' "$f" "$scen" "$clock" "$ev" "$sz"
        done
        echo
        echo "## Events per recording"
        echo
        printf '%s\n' 'Counts from the text files (`sed -nE '"'"'s/^.*[0-9]+\.[0-9]+: +([a-z_0-9]+:)?([a-zA-Z_0-9]+):( |$).*/\2/p'"'"' | sort | uniq -c`).'
        echo
        local hdr="| event |" sep="| --- |" ev
        for f in "${texts[@]}"; do hdr+=" ${f%.txt} |"; sep+=" ---: |"; done
        echo "$hdr"; echo "$sep"
        local all
        all="$(for f in "${texts[@]}"; do count_events "$OUT/$f" | awk '{print $2}'; done | sort -u)"
        for ev in $all; do
            local row="| \`$ev\` |"
            for f in "${texts[@]}"; do
                row+=" $(count_events "$OUT/$f" | awk -v e="$ev" '$2==e{print $1; f=1} END{if(!f) print "·"}') |"
            done
            echo "$row"
        done
        echo
        echo "## Trace file header (\`trace\`, first lines)"
        echo
        echo '```'
        for f in "${texts[@]}"; do case "$f" in *.trace.txt) sed -n '1,/^#  *| |/p' "$OUT/$f"; break ;; esac; done
        echo '```'
    } >"$r.tmp"
    mv "$r.tmp" "$r"
    log "wrote $r"
}

if [ "$readme_only" = 1 ]; then write_readme; exit 0; fi

# ------------------------------------------------------------------ host tools
apt_install trace-cmd gcc libc6-dev util-linux
command -v perf >/dev/null 2>&1 || {
    if [ -n "$PERF_SCENARIOS" ] && apt-cache policy linux-perf 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt_install linux-perf
    fi
}
[ -c /dev/kvm ] || die "/dev/kvm missing"

# tracefs: use an existing mount, else mount it at /sys/kernel/tracing
TRACEFS="$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)"
if [ -z "$TRACEFS" ]; then
    TRACEFS=/sys/kernel/tracing
    log "mount -t tracefs nodev $TRACEFS"
    mount -t tracefs nodev "$TRACEFS"
fi
[ -d "$TRACEFS/events/kvm" ] || die "$TRACEFS/events/kvm missing (KVM tracepoints not available)"
INST="$TRACEFS/instances/$INSTANCE"

# ------------------------------------------------------------------ tinyvmm
log "building tinyvmm"
gcc -O2 -Wall -Wextra -std=gnu11 -pthread -o "$WORK/tinyvmm" "$HERE/tinyvmm.c"
if command -v as >/dev/null && command -v objcopy >/dev/null; then
    # guest_image[] in tinyvmm.c must be guest.S assembled
    as --32 -o "$WORK/guest.o" "$HERE/guest.S"
    ld -m elf_i386 -Ttext=0x1000 -o "$WORK/guest.elf" "$WORK/guest.o"
    objcopy -O binary "$WORK/guest.elf" "$WORK/guest.bin"
    "$WORK/tinyvmm" --dump-guest | cmp -s - "$WORK/guest.bin" \
        || die "guest_image[] in tinyvmm.c differs from guest.S (regenerate with gen-guest-array.py)"
fi

# ------------------------------------------------------------------ instance
remove_instance() {
    if [ -d "$INST" ]; then
        echo 0 >"$INST/tracing_on" 2>/dev/null || true
        rmdir "$INST" 2>/dev/null || log "could not rmdir $INST"
    fi
}
trap remove_instance EXIT

setup_instance() {   # setup_instance CLOCK
    remove_instance
    mkdir "$INST"
    echo 0 >"$INST/tracing_on"
    echo "$BUFFER_KB" >"$INST/buffer_size_kb"
    echo "$1" >"$INST/trace_clock"
    local s e
    for s in "${SYSTEMS[@]}"; do
        [ -d "$INST/events/$s" ] && echo 1 >"$INST/events/$s/enable"
    done
    for e in $NOISE; do
        [ -d "$INST/events/kvm/$e" ] && echo 0 >"$INST/events/kvm/$e/enable"
    done
    : >"$INST/trace"
}

# filtered kallsyms: tracing_mark_write and the symbol after it (so its address range is bounded)
TCLOG="$WORK/trace-cmd.log"   # trace-cmd's chatter (it prints per-CPU offsets to stderr)
: >"$TCLOG"
KSYMS="$WORK/kallsyms.min"
# (read through cat: `sort /proc/kallsyms` seeks, and each seek re-walks kallsyms: minutes)
# shellcheck disable=SC2002
cat /proc/kallsyms | sort | grep -A1 ' tracing_mark_write$' >"$KSYMS" || : >"$KSYMS"

extract_dat() {   # extract_dat OUT.dat
    mkdir -p "$WORK/tracefs-view"
    cat "$INST/trace_clock" >"$WORK/trace_clock.instance"
    # Private mount namespace, undone when it ends (nothing global changes):
    #  - trace-cmd 3.1.6 labels every buffer with the top-level trace_clock, not
    #    the instance's: show it the instance's trace_clock file there;
    #  - unless FULL_METADATA=1, hide the other event systems and most of
    #    kallsyms (see the header of this script).
    unshare --mount --propagation private bash -s -- "$TRACEFS" "$WORK/tracefs-view" "$KSYMS" \
        "$INSTANCE" "$1" "$WORK/trace_clock.instance" "$FULL_METADATA" "${SYSTEMS[@]}" >>"$TCLOG" 2>&1 <<'EOS'
set -euo pipefail
tracefs=$1 view=$2 ksyms=$3 inst=$4 out=$5 clock=$6 full=$7; shift 7
mount --bind "$clock" "$tracefs/trace_clock"
if [ "$full" != 1 ]; then
    mount -t tracefs nodev "$view"
    mount -t tmpfs -o size=1m tmpfs "$tracefs/events"
    cat "$view/events/header_page" >"$tracefs/events/header_page"
    cat "$view/events/header_event" >"$tracefs/events/header_event"
    for s in ftrace "$@"; do
        [ -d "$view/events/$s" ] || continue
        mkdir "$tracefs/events/$s"
        mount --bind "$view/events/$s" "$tracefs/events/$s"
    done
    mount --bind "$ksyms" /proc/kallsyms
fi
trace-cmd extract -B "$inst" -o "$out"
EOS
    rmdir "$WORK/tracefs-view" 2>/dev/null || true
}

check_size() {
    local s
    s="$(stat -c %s "$1")"
    [ "$s" -le "$MAX_BYTES" ] || log "WARNING: $(basename "$1") is $s bytes (> $MAX_BYTES)"
}

record() {   # record NAME SCENARIO CLOCK WANT_DAT
    local name="$1" scen="$2" clock="$3" want_dat="$4" base="$OUT/$1" rc=0
    log "$name: scenario $scen, clock $clock"
    setup_instance "$clock"
    echo 1 >"$INST/tracing_on"
    "$WORK/tinyvmm" --marker "$INST/trace_marker" "$scen" >"$base.vmm.txt" || rc=$?
    echo 0 >"$INST/tracing_on"
    [ "$rc" = 0 ] || die "tinyvmm $scen failed (exit $rc), see $base.vmm.txt"
    cat "$INST/trace" >"$base.trace.txt"
    # lost events: entries-in-buffer must equal entries-written, no overruns
    local hdr
    hdr="$(grep -m1 '^# entries-in-buffer' "$base.trace.txt" || true)"
    if ! awk -F'[ /]+' '/entries-in-buffer/ { exit !($4 == $5) }' <<<"$hdr" \
       || grep -q 'overrun: [1-9]' "$INST"/per_cpu/cpu*/stats; then
        die "$name: events were lost ($hdr); raise BUFFER_KB"
    fi
    grep -q 'LOST' "$base.trace.txt" && die "$name: LOST events in the trace; raise BUFFER_KB"
    check_size "$base.trace.txt"
    if [ "$want_dat" = 1 ]; then
        rm -f "$base.dat" "$base.v6.dat" "$base.v7-none.dat"
        extract_dat "$base.dat"
        trace-cmd convert -i "$base.dat" -o "$base.v6.dat" --file-version 6 >>"$TCLOG" 2>&1
        trace-cmd convert -i "$base.dat" -o "$base.v7-none.dat" --file-version 7 --compression none >>"$TCLOG" 2>&1
        trace-cmd report -i "$base.dat" >"$base.report.txt" 2>/dev/null
        trace-cmd report -t -R -i "$base.dat" >"$base.report-raw.txt" 2>/dev/null
        local v
        for v in v6 v7-none; do
            trace-cmd report -i "$base.$v.dat" 2>/dev/null | cmp -s - "$base.report.txt" \
                || die "$name: trace-cmd report of $name.$v.dat differs from $name.dat"
        done
        # the text and the binary must hold the same number of events
        local nt nd
        nt="$(event_lines "$base.trace.txt")"; nd="$(event_lines "$base.report.txt")"
        [ "$nt" = "$nd" ] || log "WARNING: $name: $nt events in trace.txt, $nd in the .dat"
        for v in dat v6.dat v7-none.dat report.txt report-raw.txt; do check_size "$base.$v"; done
    fi
    remove_instance   # (trace-cmd extract already removes the instance it read)
}

record_perf() {   # record_perf NAME SCENARIO
    local name="$1" scen="$2" base="$OUT/$1" e evs=() rc=0
    command -v perf >/dev/null || { log "perf not installed: skipping $name.perf.txt"; return; }
    for e in "$TRACEFS"/events/kvm/*/; do
        e="$(basename "$e")"
        case " $NOISE " in *" $e "*) continue ;; esac
        evs+=(-e "kvm:$e")
    done
    log "$name: perf record -a ($(( ${#evs[@]} / 2 )) kvm events)"
    perf record -q -a "${evs[@]}" -o "$WORK/$name.perf.data" -- "$WORK/tinyvmm" "$scen" \
        >"$WORK/$name.perf-vmm.txt" 2>"$WORK/$name.perf-record.err" || rc=$?
    [ "$rc" = 0 ] || { log "perf record failed (exit $rc): $(tail -n 3 "$WORK/$name.perf-record.err")"; return; }
    perf script -i "$WORK/$name.perf.data" >"$base.perf.txt" 2>"$WORK/$name.perf-script.err"
    check_size "$base.perf.txt"
}

for s in $SCENARIOS; do
    dat=0
    case " $DAT_SCENARIOS " in *" $s "*) dat=1 ;; esac
    record "$FLAVOUR-$s" "$s" "$CLOCK" "$dat"
done
if [ -n "$GLOBAL_SCENARIO" ]; then
    record "$FLAVOUR-$GLOBAL_SCENARIO-global-clock" "$GLOBAL_SCENARIO" global 1
fi
for s in $PERF_SCENARIOS; do
    record_perf "$FLAVOUR-$s" "$s"
done
write_readme
