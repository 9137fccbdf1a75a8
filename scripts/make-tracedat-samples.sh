#!/usr/bin/env bash
# make-tracedat-samples.sh — record small real trace.dat files for the native trace.dat reader
# (Sources/Recorder/TraceDat) and the `trace-cmd report` output they must reproduce.
#
# Run as root on a machine with tracefs. `trace-cmd record` is not usable here, so tracefs is set
# up by hand and the buffers are saved with `trace-cmd extract`. For each sample NAME it writes to
# traces/tracedat/:
#   NAME.dat          trace-cmd extract (file version 7, zstd — trace-cmd 3.1's default)
#   NAME.v6.dat       trace-cmd convert --file-version 6
#   NAME.v7-none.dat  trace-cmd convert --file-version 7 --compression none
#   NAME.v7-zlib.dat  NAME.dat with every compressed block re-compressed with zlib (Debian's
#                     trace-cmd 3.1.6 is built without zlib, so this is done by the Python below,
#                     following the v7 format document: section blocks are
#                     <u32 csize><u32 size><data>, CPU data is <u32 count> + such chunks)
#   NAME.report.txt   trace-cmd report -i NAME.dat (checked identical for .v6 and .v7-none)
#
# Samples:
#   sched-irq   top-level buffer, local clock: sched (switch/wakeup/exec/exit, plugin output),
#               irq, irq_vectors, ipi, msr, timer (hrtimer plugin, __print_flags quirks), tlb,
#               kmem kmalloc/kfree (plugin), trace_marker writes
#   lost-counter  instance "tdlost", counter clock, a tiny overwriting buffer (missed-events markers)
#
# Kallsyms are reduced to a few symbols and the event formats to the systems used (a private
# mount namespace hides the rest from trace-cmd), so each file stays well under 500 KB.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/traces/tracedat}"
WORK="${WORK:-/tmp/irqtrace-tracedat}"
TRACEFS=/sys/kernel/tracing

log() { echo "make-tracedat-samples: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
command -v trace-cmd >/dev/null || { apt-get update >/dev/null && apt-get install -y trace-cmd >/dev/null; }
command -v zstd >/dev/null || apt-get install -y zstd >/dev/null
[ -d "$TRACEFS/events" ] || mount -t tracefs nodev "$TRACEFS"
mkdir -p "$OUT" "$WORK"

SYSTEMS=(sched irq irq_vectors ipi msr timer tlb kmem)
# symbols for %ps / plugin lookups (each with its successor so its address range is bounded)
SYMS='tracing_mark_write|tick_nohz_handler|tick_sched_timer|hrtimer_wakeup|process_timeout|delayed_work_timer_fn|blk_stat_timer_fn|it_real_fn|kfree|kmalloc_trace|__kmalloc|kmem_cache_alloc'
cat /proc/kallsyms | sort | grep -E -A1 " ($SYMS)\$" | grep -v '^--$' >"$WORK/kallsyms.min" || : >"$WORK/kallsyms.min"

# extract_dat OUT.dat [trace-cmd extract options...]: extract with reduced metadata
extract_dat() {
    local out="$1"; shift
    mkdir -p "$WORK/view"
    unshare --mount --propagation private bash -s -- "$TRACEFS" "$WORK/view" "$WORK/kallsyms.min" "$out" "$*" "${SYSTEMS[@]}" <<'EOS'
set -euo pipefail
tracefs=$1 view=$2 ksyms=$3 out=$4 opts=$5; shift 5
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
# shellcheck disable=SC2086
trace-cmd extract $opts -o "$out" >/dev/null 2>&1
EOS
}

workload() {   # workload MARKER_FILE
    local m="$1"
    echo "tracedat sample: start" >"$m"
    ls -la /usr/bin >/dev/null
    dd if=/dev/zero of="$WORK/zero" bs=64k count=16 conv=fsync 2>/dev/null
    rm -f "$WORK/zero"
    sh -c 'for i in 1 2 3; do echo $i >/dev/null; done'
    sleep 0.05 & wait
    python3 -c 'import threading; [t.start() or t.join() for t in [threading.Thread(target=lambda: None) for _ in range(4)]]'
    printf 'marker with "quotes", a %% sign and tabs\there\n' >"$m"
    echo "tracedat sample: end" >"$m"
}

variants() {   # variants BASE: v6, v7-none, v7-zlib and the report
    local b="$1"
    trace-cmd convert -i "$b.dat" -o "$b.v6.dat" --file-version 6 >/dev/null 2>&1
    trace-cmd convert -i "$b.dat" -o "$b.v7-none.dat" --file-version 7 --compression none >/dev/null 2>&1
    python3 "$WORK/rezlib.py" "$b.dat" "$b.v7-zlib.dat"
    trace-cmd report -i "$b.dat" >"$b.report.txt" 2>/dev/null
    for v in v6 v7-none; do
        trace-cmd report -i "$b.$v.dat" 2>/dev/null | cmp -s - "$b.report.txt" || die "$(basename "$b").$v.dat reports differently"
    done
    for f in "$b".dat "$b".*.dat "$b.report.txt"; do
        [ "$(stat -c %s "$f")" -lt 512000 ] || log "WARNING: $(basename "$f") is $(stat -c %s "$f") bytes"
    done
}

cat >"$WORK/rezlib.py" <<'PY'
# Re-compress a trace.dat v7 (zstd) with zlib: every compressed section block and every CPU data
# chunk is decompressed (zstd CLI) and compressed again with zlib (level 9, as trace-cmd's
# zlib plugin does), then the file is laid out again: header, metadata sections, buffer sections
# (CPU data page aligned), one options section with the new offsets.
import struct, subprocess, sys, zlib

src, dst = sys.argv[1], sys.argv[2]
d = open(src, 'rb').read()
assert d[:10] == b'\x17\x08\x44tracing'
p = 10
e = d.index(b'\0', p); assert d[p:e] == b'7'; p = e + 1
endian, lsz = d[p], d[p + 1]
E = '>' if endian else '<'
page = struct.unpack_from(E + 'I', d, p + 2)[0]
p += 6
e = d.index(b'\0', p); cname = d[p:e]; p = e + 1
e = d.index(b'\0', p); p = e + 1
assert cname == b'zstd', cname
first_opt = struct.unpack_from(E + 'Q', d, p)[0]

def unzstd(b, size):
    out = subprocess.run(['zstd', '-d', '-c'], input=b, capture_output=True, check=True).stdout
    assert len(out) == size
    return out

def block(off):  # <csize><size><data> at off
    cs, us = struct.unpack_from(E + 'II', d, off)
    return unzstd(d[off + 8:off + 8 + cs], us)

def zblock(raw):
    c = zlib.compress(raw, 9)
    return struct.pack(E + 'II', len(c), len(raw)) + c

def section_header(off):
    return struct.unpack_from(E + 'HHIQ', d, off)

# options chain
options = []          # (id, data) except DONE
sec_offsets = {}      # id -> offset
off = first_opt
while off:
    sid, fl, desc, sz = section_header(off)
    assert sid == 0
    body = block(off + 16) if fl & 1 else d[off + 16:off + 16 + sz]
    q, nxt = 0, 0
    while q < len(body):
        oid, osz = struct.unpack_from(E + 'HI', body, q); q += 6
        od = body[q:q + osz]; q += osz
        if oid == 0:
            nxt = struct.unpack_from(E + 'Q', od)[0]
            break
        if 16 <= oid <= 21:
            sec_offsets[oid] = struct.unpack_from(E + 'Q', od)[0]
        options.append((oid, od))
    off = nxt

out = bytearray()
out += d[:10] + b'7\0' + bytes([endian, lsz]) + struct.pack(E + 'I', page) + b'zlib\0' + zlib.ZLIB_VERSION.encode() + b'\0'
opt_ptr = len(out); out += b'\0' * 8

new_sec = {}
for sid in sorted(sec_offsets):
    so = sec_offsets[sid]
    _, fl, desc, sz = section_header(so)
    raw = block(so + 16) if fl & 1 else d[so + 16:so + 16 + sz]
    payload = zblock(raw)
    new_sec[sid] = len(out)
    out += struct.pack(E + 'HHIQ', sid, 1, desc, len(payload)) + payload

new_options = []
for oid, od in options:
    if 16 <= oid <= 21:
        new_options.append((oid, struct.pack(E + 'Q', new_sec[oid])))
    elif oid == 3:
        q = 0
        boff = struct.unpack_from(E + 'Q', od, q)[0]; q += 8
        e = od.index(b'\0', q); name = od[q:e]; q = e + 1
        e = od.index(b'\0', q); clock = od[q:e]; q = e + 1
        rest = len(od) - q
        n0 = struct.unpack_from(E + 'I', od, q)[0]
        has_ps = not (4 + n0 * 20 == rest)
        ps = n0 if has_ps else None
        if has_ps: q += 4
        n = struct.unpack_from(E + 'I', od, q)[0]; q += 4
        cpus = []
        for _ in range(n):
            cpu, coff, csz = struct.unpack_from(E + 'IQQ', od, q); q += 20
            cpus.append((cpu, coff, csz))
        _, bfl, bdesc, _ = section_header(boff)
        sec_start = len(out)
        out += struct.pack(E + 'HHIQ', 3, 1 if bfl & 1 else 0, bdesc, 0)
        new_cpus = []
        for cpu, coff, csz in cpus:
            if csz == 0:
                new_cpus.append((cpu, 0, 0)); continue
            while len(out) % page: out += b'\0'
            start = len(out)
            cnt = struct.unpack_from(E + 'I', d, coff)[0]
            q2 = coff + 4
            chunks = b''
            for _ in range(cnt):
                cs, us = struct.unpack_from(E + 'II', d, q2)
                raw = unzstd(d[q2 + 8:q2 + 8 + cs], us)
                chunks += zblock(raw)
                q2 += 8 + cs
            out += struct.pack(E + 'I', cnt) + chunks
            new_cpus.append((cpu, start, len(chunks)))
        struct.pack_into(E + 'Q', out, sec_start + 8, len(out) - sec_start - 16)
        nd = struct.pack(E + 'Q', sec_start) + name + b'\0' + clock + b'\0'
        if has_ps: nd += struct.pack(E + 'I', ps)
        nd += struct.pack(E + 'I', len(new_cpus))
        for cpu, o2, s2 in new_cpus: nd += struct.pack(E + 'IQQ', cpu, o2, s2)
        new_options.append((3, nd))
    elif oid == 22:
        raise SystemExit('latency buffers are not handled')
    else:
        new_options.append((oid, od))

struct.pack_into(E + 'Q', out, opt_ptr, len(out))
body = b''.join(struct.pack(E + 'HI', oid, len(od)) + od for oid, od in new_options)
body += struct.pack(E + 'HI', 0, 8) + struct.pack(E + 'Q', 0)
out += struct.pack(E + 'HHIQ', 0, 0, 0, len(body)) + body
open(dst, 'wb').write(out)
PY

# --- sample 1: top-level buffer, local clock -------------------------------------------------
restore_top() {
    echo 0 >"$TRACEFS/tracing_on" || true
    for s in "${SYSTEMS[@]}"; do [ -e "$TRACEFS/events/$s/enable" ] && echo 0 >"$TRACEFS/events/$s/enable"; done
    echo "$SAVED_KB" >"$TRACEFS/buffer_size_kb" || true
    echo "$SAVED_CLOCK" >"$TRACEFS/trace_clock" || true
    echo 1 >"$TRACEFS/tracing_on" || true
}
[ -z "$(cat "$TRACEFS/set_event")" ] || die "the top-level buffer has events enabled by someone else; not touching it"
SAVED_KB="$(cat "$TRACEFS/buffer_size_kb" | sed 's/ .*//')"
SAVED_CLOCK="$(sed -E 's/.*\[([^]]+)\].*/\1/' "$TRACEFS/trace_clock")"
trap restore_top EXIT
echo 0 >"$TRACEFS/tracing_on"
echo 48 >"$TRACEFS/buffer_size_kb"
echo local >"$TRACEFS/trace_clock"
echo >"$TRACEFS/trace"
for e in sched/sched_switch sched/sched_wakeup sched/sched_wakeup_new sched/sched_process_exec sched/sched_process_exit \
         irq irq_vectors ipi msr timer tlb kmem/kmalloc kmem/kfree; do
    [ -e "$TRACEFS/events/$e/enable" ] && echo 1 >"$TRACEFS/events/$e/enable"
done
echo 1 >"$TRACEFS/tracing_on"
workload "$TRACEFS/trace_marker"
echo 0 >"$TRACEFS/tracing_on"
for s in "${SYSTEMS[@]}"; do echo 0 >"$TRACEFS/events/$s/enable"; done
extract_dat "$OUT/sched-irq.dat"
echo >"$TRACEFS/trace"
restore_top
trap - EXIT
variants "$OUT/sched-irq"

# --- sample 2: instance, counter clock, overwritten tiny buffer (missed events) ----------------
INST="$TRACEFS/instances/tdlost"
[ -d "$INST" ] && rmdir "$INST"
mkdir "$INST"
echo 8 >"$INST/buffer_size_kb"
echo counter >"$INST/trace_clock"
echo 1 >"$INST/options/overwrite"
for e in sched/sched_switch sched/sched_wakeup irq irq_vectors timer; do echo 1 >"$INST/events/$e/enable"; done
echo 1 >"$INST/tracing_on"
workload "$INST/trace_marker"
workload "$INST/trace_marker"
echo 0 >"$INST/tracing_on"
extract_dat "$OUT/lost-counter.dat" -B tdlost
[ -d "$INST" ] && rmdir "$INST" 2>/dev/null || true
variants "$OUT/lost-counter"
grep -q "EVENTS DROPPED" "$OUT/lost-counter.report.txt" || log "WARNING: no missed-events marker in lost-counter"

log "done: $(ls "$OUT" | tr '\n' ' ')"
