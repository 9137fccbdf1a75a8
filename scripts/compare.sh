#!/usr/bin/env bash
# irqtrace against the tools users would otherwise use, in one run on the same inputs: sizes, times
# and ratios, printed as Markdown and written into docs/PERFORMANCE.md between the markers
# <!-- compare.sh:begin --> and <!-- compare.sh:end --> (a rerun replaces the block).
#
# Inputs: the real samples (traces/*.log.zst QEMU logs; traces/kvm/*.trace.txt tracefs text;
# traces/kvm/*.dat and traces/tracedat/*.dat, the trace-cmd v7 zstd files — not their
# .v6/.v7-none/.v7-zlib copies); a simulated trace (`irqtrace sim x86-virtio --events 10000000`)
# and its text export; with --big also a 100 M-event one.
#
# Per input: sizes of the text, `zstd -19`, `xz -9e`, the trace.dat, the .irqt of `irqtrace record`
# (defaults: zstd 9, 1 MiB chunks); times (best wall of --runs runs, with the CPU time and the
# largest max RSS over the runs, from GNU time) of `irqtrace record`, `zstd -19`, `xz -9e`,
# `zstd -dc` of the text, `trace-cmd report`, `irqtrace replay --check`, `irqtrace analyze` and
# `irqtrace export --format text`. Compressors run single-threaded (-T1): every figure is per core.
# Inputs larger than --prefix-events events: `zstd -19` and `xz -9e` (sizes and times) run once on
# the text of the first --prefix-events events, labelled as such, with the .irqt of that prefix
# beside them; `zstd -dc` reads the whole text compressed at `zstd -3` (decompression speed barely
# depends on the level).
#
# Usage: scripts/compare.sh [--big] [--runs N] [--events N] [--big-events N] [--prefix-events N]
#                           [--no-doc] [--quick]
#   --big            also the 100 M-event simulated trace (one run per tool; needs ~12 GB of disk
#                    under $TMPDIR for its text)
#   --runs N         runs per timing on the real samples and the 10 M trace (default 3)
#   --no-doc         print only; leave docs/PERFORMANCE.md alone
#   --quick          1 M simulated events instead of 10 M, 1 run (a smoke test of the script)
#   --only-sim       only the simulated trace(s); implies --no-doc
# Environment: IRQTRACE=path to a built irqtrace (default: build release into .build-rel);
#              TMPDIR for the work directory.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

only_sim=0 poll_anon=0 big=0 runs=3 sim_events=10000000 big_events=100000000 prefix_events=100000 write_doc=1
while (($#)); do
    case $1 in
    --big) big=1 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --events) sim_events=${2:?--events needs a number}; shift ;;
    --big-events) big_events=${2:?--big-events needs a number}; shift ;;
    --prefix-events) prefix_events=${2:?--prefix-events needs a number}; shift ;;
    --no-doc) write_doc=0 ;;
    --quick) sim_events=1000000 runs=1 ;;
    --only-sim) only_sim=1 write_doc=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

die() { echo "compare.sh: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

# ---- tools ------------------------------------------------------------------------------------
[[ -d /opt/swift/usr/bin ]] && PATH=/opt/swift/usr/bin:$PATH
missing=()
command -v zstd >/dev/null || missing+=(zstd)
command -v xz >/dev/null || missing+=(xz-utils)
command -v trace-cmd >/dev/null || missing+=(trace-cmd)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        note "installing ${missing[*]} with apt-get"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) or run as root"
    fi
fi
/usr/bin/time -f %e true 2>/dev/null || die "/usr/bin/time is not GNU time (need -f): apt-get install time"

if [[ -n ${IRQTRACE:-} ]]; then
    irqtrace=$IRQTRACE
else
    command -v swift >/dev/null || die "swift not found (expected in /opt/swift/usr/bin); or set IRQTRACE"
    note "swift build -c release --product irqtrace --scratch-path .build-rel"
    log=$(mktemp)
    if ! swift build -c release --product irqtrace --scratch-path .build-rel >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; die "release build failed"
    fi
    rm -f "$log"
    irqtrace=$root/.build-rel/release/irqtrace
fi
[[ -x $irqtrace ]] || die "no irqtrace binary at $irqtrace"

work=$(mktemp -d "${TMPDIR:-/tmp}/irqtrace-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
machine="$(nproc) cores, $cpu_model, $(uname -sr), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM"
versions="irqtrace $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?') (release), zstd $(zstd -V | sed -n 's/.*v\([0-9.]*\).*/\1/p'), xz $(xz --version | sed -n 's/^xz (XZ Utils) //p'), trace-cmd $( (trace-cmd --version 2>/dev/null || true) | sed -n "s/.*version \([^ ]*\).*/\1/p" | head -1)"
note "machine: $machine"
note "$versions"

# ---- measuring ----------------------------------------------------------------------------------
# measure N OUT CMD...: runs CMD N times with stdout to OUT. Sets M_WALL (best wall, s), M_CPU
# (user+sys of that run, s), M_RSS (largest max RSS over the runs, KiB), M_RC (exit status of the
# last run). Exit status 1 (findings, divergences) counts as a run; 2 or more leaves M_WALL empty.
measure() {
    local n=$1 out=$2 i t0 t1 wall user sys rss rc
    shift 2
    M_WALL= M_CPU= M_RSS=0 M_RC=0 M_ANON=0
    for ((i = 0; i < n; i++)); do
        rc=0
        if ((poll_anon)); then
            # Also the peak of anonymous memory (RssAnon: heap, not the pages of memory-mapped
            # inputs that max RSS counts too), polled every 50 ms; the wall time is GNU time's.
            /usr/bin/time -f 'TIME %U %S %M %e' -o "$work/time" "$@" >"$out" 2>"$work/stderr" &
            local tpid=$! child anon
            while kill -0 "$tpid" 2>/dev/null; do
                child=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
                anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/${child%% *}/status" 2>/dev/null || true)
                if [[ -n $child && -n $anon ]] && ((anon > M_ANON)); then M_ANON=$anon; fi
                sleep 0.05
            done
            wait "$tpid" || rc=$?
            t0=0 t1=$(awk '/^TIME/ { printf "%.0f", $5 * 1e9 }' "$work/time" 2>/dev/null || echo 0)
        else
            t0=$(date +%s%N)
            /usr/bin/time -f 'TIME %U %S %M' -o "$work/time" "$@" >"$out" 2>"$work/stderr" || rc=$?
            t1=$(date +%s%N)
        fi
        M_RC=$rc
        if ((rc > 1)); then
            M_WALL= M_ERR=$(grep -v '^Command exited' "$work/stderr" | head -1)
            return 0
        fi
        read -r _ user sys rss _ < <(grep '^TIME' "$work/time")
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        if [[ -z $M_WALL ]] || awk -v a="$wall" -v b="$M_WALL" 'BEGIN { exit !(a < b) }'; then
            M_WALL=$wall M_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        fi
        if ((rss > M_RSS)); then M_RSS=$rss; fi
    done
}

# Results: one line per (input, key) in $work/results: "input key value".
put() { echo "$1 $2 $3" >>"$work/results"; }
get() { awk -v i="$1" -v k="$2" '$1 == i && $2 == k { v = $3 } END { print v }' "$work/results"; }
touch "$work/results"

# timed INPUT KEY N OUT CMD...: measure and record KEY.wall, KEY.cpu, KEY.rss (n/a on errors).
timed() {
    local input=$1 key=$2 n=$3 out=$4
    shift 4
    measure "$n" "$out" "$@"
    if [[ -z $M_WALL ]]; then
        put "$input" "$key.wall" n/a
        echo "   $key: exit $M_RC: $M_ERR" >&2
        echo "$input: \`${key}\` not measured (exit $M_RC: $M_ERR)" >>"$work/notes"
        return 0
    fi
    put "$input" "$key.wall" "$M_WALL"
    put "$input" "$key.cpu" "$M_CPU"
    put "$input" "$key.rss" "$M_RSS"
    if ((poll_anon)); then put "$input" "$key.anon" "$M_ANON"; fi
    if [[ $key == replay || $key == analyze ]]; then put "$input" "$key.rc" "$M_RC"; fi
}
touch "$work/notes"

json_int() { sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" "$2" | head -1; }

# run_input NAME GROUP TEXT [DAT]: everything measured on one input. TEXT is the events as text
# (the log, the tracefs text, or for a .dat its `trace-cmd report`); the .irqt is recorded from DAT
# when given, else from TEXT.
run_input() {
    local name=$1 group=$2 text=$3 dat=${4:-} src n=$runs events lines
    src=${dat:-$text}
    note "$name ($(stat -c %s "$src") bytes)"
    echo "$name" >>"$work/inputs"
    put "$name" group "$group"
    put "$name" text.bytes "$(stat -c %s "$text")"
    lines=$(wc -l <"$text")
    [[ -n $dat ]] && put "$name" dat.bytes "$(stat -c %s "$dat")"

    timed "$name" record "$n" "$work/$name.json" "$irqtrace" record "$src" -o "$work/$name.irqt" --json
    events=$(json_int events "$work/$name.json")
    put "$name" events "$events"
    put "$name" irqt.bytes "$(stat -c %s "$work/$name.irqt")"
    put "$name" src.bytes "$(stat -c %s "$src")"

    if ((lines > prefix_events)); then
        # The compressors' sizes and times on the first prefix_events lines (one run each), the
        # .irqt of the same prefix beside them; zstd -dc reads the whole text at zstd -3.
        head -n "$prefix_events" "$text" >"$work/$name.prefix.txt"
        put "$name" prefix.events "$prefix_events"
        put "$name" prefix.bytes "$(stat -c %s "$work/$name.prefix.txt")"
        "$irqtrace" record "$work/$name.prefix.txt" -o "$work/$name.prefix.irqt" 2>/dev/null
        put "$name" prefix.irqt.bytes "$(stat -c %s "$work/$name.prefix.irqt")"
        timed "$name" zstd19 1 "$work/$name.prefix.zst" zstd -q -19 -T1 -c "$work/$name.prefix.txt"
        put "$name" zstd19.bytes "$(stat -c %s "$work/$name.prefix.zst")"
        timed "$name" xz 1 "$work/$name.prefix.xz" xz -9e -T1 -c "$work/$name.prefix.txt"
        put "$name" xz.bytes "$(stat -c %s "$work/$name.prefix.xz")"
        rm -f "$work/$name.prefix".*
        zstd -q -3 -T0 -c "$text" >"$work/$name.txt.zst"
        put "$name" dc.level 3
    else
        timed "$name" zstd19 "$n" "$work/$name.txt.zst" zstd -q -19 -T1 -c "$text"
        put "$name" zstd19.bytes "$(stat -c %s "$work/$name.txt.zst")"
        timed "$name" xz "$n" "$work/$name.txt.xz" xz -9e -T1 -c "$text"
        put "$name" xz.bytes "$(stat -c %s "$work/$name.txt.xz")"
        rm -f "$work/$name.txt.xz"
        put "$name" dc.level 19
    fi
    timed "$name" zstd_dc "$n" /dev/null zstd -q -dc "$work/$name.txt.zst"
    rm -f "$work/$name.txt.zst"
    timed "$name" replay "$n" /dev/null "$irqtrace" replay "$work/$name.irqt" --check
    timed "$name" analyze "$n" /dev/null "$irqtrace" analyze "$work/$name.irqt"
    if [[ $group == sim || $group == sim-big ]]; then
        # The same on one core (no decode-ahead or detector thread): what the second core gives.
        timed "$name" replay1 "$n" /dev/null env IRQTRACE_SINGLE_CORE=1 "$irqtrace" replay "$work/$name.irqt" --check
        timed "$name" analyze1 "$n" /dev/null env IRQTRACE_SINGLE_CORE=1 "$irqtrace" analyze "$work/$name.irqt"
    fi
    timed "$name" export "$n" /dev/null "$irqtrace" export "$work/$name.irqt" --format text
    rm -f "$work/$name.irqt" "$work/$name.json"
}

# ---- inputs -----------------------------------------------------------------------------------
: >"$work/inputs"
((only_sim)) || for f in traces/*.log.zst; do
    name=$(basename "$f" .log.zst)
    zstd -q -dc "$f" >"$work/$name.txt"
    run_input "$name" qemu "$work/$name.txt"
    rm -f "$work/$name.txt"
done
((only_sim)) || for f in traces/kvm/*.trace.txt; do
    run_input "$(basename "$f" .txt)" kvm-text "$f"
done
((only_sim)) || for f in traces/kvm/*.dat traces/tracedat/*.dat; do
    case $f in *.v6.dat | *.v7-none.dat | *.v7-zlib.dat) continue ;; esac
    head -c 64 "$f" | grep -aq zstd || { echo "$f: not a zstd trace.dat v7: skipped" >>"$work/notes"; continue; }
    group=kvm-dat
    [[ $f == traces/tracedat/* ]] && group=tracedat
    name=$(basename "$f" .dat).dat
    # trace-cmd report: the text form of the .dat (and what reading it with trace-cmd costs)
    timed "$name" report "$runs" "$work/$name.report.txt" trace-cmd report "$f"
    run_input "$name" "$group" "$work/$name.report.txt" "$f"
    rm -f "$work/$name.report.txt"
done

sim_input() {
    local events=$1 group=$2 n=$3 name
    name=sim-x86-virtio-$((events / 1000000))M
    note "$name: irqtrace sim x86-virtio --events $events"
    timed "$name" sim 1 /dev/null "$irqtrace" sim x86-virtio --events "$events" --seed 1 -o "$work/$name.sim.irqt"
    "$irqtrace" export "$work/$name.sim.irqt" --format text >"$work/$name.txt"
    rm -f "$work/$name.sim.irqt"
    local saved=$runs
    runs=$n poll_anon=1
    run_input "$name" "$group" "$work/$name.txt"
    runs=$saved poll_anon=0
    rm -f "$work/$name.txt"
}
sim_input "$sim_events" sim "$runs"
((big)) && sim_input "$big_events" sim-big 1

# ---- tables -------------------------------------------------------------------------------------
table=$work/table.md
awk -v machine="$machine" -v versions="$versions" -v runs="$runs" -v prefix="$prefix_events" '
function v(i, k) { return ((i SUBSEP k) in R) ? R[i, k] : "" }
function num(x) { return x != "" && x != "n/a" }
function f(x, d) { return num(x) ? sprintf("%." d "f", x) : "–" }
function div(a, b, d) { return (num(a) && num(b) && b > 0) ? sprintf("%." d "f", a / b) : "–" }
function mb(b) { return sprintf("%.1f", b / 1e6) }
function kb(b) { return b >= 1e7 ? sprintf("%.1f MB", b / 1e6) : sprintf("%d", b) }
function rate(x, t) { # x per second of t, human
    if (!num(x) || !num(t) || t <= 0) return "–"
    r = x / t
    return r >= 1e6 ? sprintf("%.1f M", r / 1e6) : sprintf("%.0f k", r / 1e3)
}
function mib(k) { return num(k) && k > 0 ? sprintf("%.0f", k / 1024) : "–" }
{ R[$1, $2] = $3 }
FILENAME ~ /inputs$/ { order[++n] = $1; next }
END {
    print "Machine: " machine ". " versions "."
    print ""
    print "Times are the best of " runs " runs (wall clock), CPU = user + system of that run; compressors single-threaded. Event rates are per CPU second (one core): events / CPU time. Groups of small samples are sums over their files (each file one process: start-up included)."
    print ""
    # groups
    split("qemu kvm-text kvm-dat tracedat sim sim-big", G, " ")
    gname["qemu"] = "QEMU logs (traces/*.log.zst)"; gname["kvm-text"] = "KVM tracefs text (traces/kvm/*.trace.txt)"
    gname["kvm-dat"] = "KVM trace.dat v7 zstd (traces/kvm/*.dat)"; gname["tracedat"] = "trace.dat v7 zstd (traces/tracedat/*.dat)"
    gname["sim"] = "simulated x86-virtio (text export)"; gname["sim-big"] = "simulated x86-virtio, --big (text export)"
    keys = "events text.bytes dat.bytes irqt.bytes zstd19.bytes xz.bytes src.bytes prefix.bytes prefix.events prefix.irqt.bytes record.wall record.cpu zstd19.wall zstd19.cpu xz.wall xz.cpu zstd_dc.wall zstd_dc.cpu report.wall report.cpu replay.wall replay.cpu analyze.wall analyze.cpu export.wall export.cpu replay1.wall replay1.cpu analyze1.wall analyze1.cpu"
    nk = split(keys, K, " ")
    for (i = 1; i <= n; i++) {
        in_ = order[i]; g = v(in_, "group"); cnt[g]++
        for (j = 1; j <= nk; j++) {
            x = v(in_, K[j])
            if (x == "n/a") bad[g, K[j]] = 1
            else if (x != "") S[g, K[j]] += x
        }
        for (j = split("record.rss replay.rss analyze.rss export.rss record.anon replay.anon analyze.anon export.anon", Q, " "); j >= 1; j--)
            if (v(in_, Q[j]) + 0 > MX[g, Q[j]]) MX[g, Q[j]] = v(in_, Q[j]) + 0
        if (g == "qemu") { b = v(in_, "irqt.bytes") / v(in_, "events"); if (qlo == "" || b < qlo) qlo = b; if (b > qhi) qhi = b }
        if (g == "kvm-dat") { b = v(in_, "irqt.bytes") / v(in_, "dat.bytes"); if (dlo == "" || b < dlo) dlo = b; if (b > dhi) dhi = b }
        if (v(in_, "replay.wall") == "n/a") noreplay[g] = noreplay[g] " `" in_ "`"
        if (num(v(in_, "replay.wall"))) RE[g] += v(in_, "events")
        if (num(v(in_, "analyze.wall"))) AE[g] += v(in_, "events")
    }
    print "### Sizes"
    print ""
    print "| input | files | events | text MB | zstd -19 | xz -9e | trace.dat | .irqt | .irqt B/event | .irqt / zstd -19 | .irqt / xz -9e | .irqt / trace.dat |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g]) continue
        ev = S[g, "events"]; ir = S[g, "irqt.bytes"]
        if (S[g, "prefix.events"] > 0) {
            # compressors on a prefix: compare with the .irqt of the same prefix
            pz = S[g, "zstd19.bytes"]; px = S[g, "xz.bytes"]; pi = S[g, "prefix.irqt.bytes"]; pe = S[g, "prefix.events"]
            zs = sprintf("%s B/ev¹", div(pz, pe, 3)); xs = sprintf("%s B/ev¹", div(px, pe, 3))
            rz = div(pi, pz, 3) "¹"; rx = div(pi, px, 3) "¹"
        } else {
            zs = kb(S[g, "zstd19.bytes"]) " (" div(S[g, "zstd19.bytes"], ev, 2) " B/ev)"
            xs = kb(S[g, "xz.bytes"]) " (" div(S[g, "xz.bytes"], ev, 2) " B/ev)"
            rz = div(ir, S[g, "zstd19.bytes"], 3); rx = div(ir, S[g, "xz.bytes"], 3)
        }
        ds = S[g, "dat.bytes"] > 0 ? kb(S[g, "dat.bytes"]) " (" div(S[g, "dat.bytes"], ev, 2) " B/ev)" : "–"
        rd = S[g, "dat.bytes"] > 0 ? div(ir, S[g, "dat.bytes"], 3) : "–"
        printf "| %s | %d | %d | %s | %s | %s | %s | %s | **%s** | %s | %s | %s |\n", gname[g], cnt[g], ev, mb(S[g, "text.bytes"]), zs, xs, ds, kb(ir), div(ir, ev, 3), rz, rx, rd
    }
    print ""
    print "### Times (wall s / CPU s) and rates per core"
    print ""
    print "| input | `irqtrace record` | import MB/s/core | `zstd -19` | `xz -9e` | `zstd -dc` text | `trace-cmd report` | `replay --check` | replay events/s/core | `analyze` | analyze events/s/core | `export --format text` | export events/s/core |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g]) continue
        ev = S[g, "events"]
        t = ""
        for (j = split("record zstd19 xz zstd_dc report replay analyze export", T, " "); j >= 1; j--) {
            w = S[g, T[j] ".wall"]; c = S[g, T[j] ".cpu"]
            cell[T[j]] = (bad[g, T[j] ".wall"] ? "n/a² " : "") ((w > 0) ? sprintf("%.2f / %.2f", w, c) : "–")
        }
        if (S[g, "prefix.events"] > 0) { cell["zstd19"] = cell["zstd19"] "¹"; cell["xz"] = cell["xz"] "¹" }
        if (S[g, "dat.bytes"] > 0) imp = rate(ev, S[g, "record.cpu"]) " events/s"
        else imp = div(S[g, "text.bytes"] / 1e6, S[g, "record.cpu"], 1)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", gname[g], cell["record"], imp, cell["zstd19"], cell["xz"], cell["zstd_dc"], cell["report"], cell["replay"], rate(RE[g], S[g, "replay.cpu"]), cell["analyze"], rate(AE[g], S[g, "analyze.cpu"]), cell["export"], rate(ev, S[g, "export.cpu"])
    }
    print ""
    print "### Both cores against one"
    print ""
    print "The default run uses the second core (zstd decompression of the next chunks ahead of the replay; `analyze` also runs its detectors on it); `IRQTRACE_SINGLE_CORE=1` keeps everything on one thread. Wall s / CPU s; the speed-up is one core'"'"'s wall time over both cores'"'"'; per-core rates are events / CPU s of each run. On a virtual machine the two threads'"'"' hand-overs (wake-ups, chunks and transitions read on the other core) show as CPU time: the default run can cost more CPU per event than the one-core run."
    print ""
    print "| input | command | both cores | one core | wall speed-up | events/s per core, both cores | events/s per core, one core |"
    print "|---|---|---:|---:|---:|---:|---:|"
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g] || (g != "sim" && g != "sim-big")) continue
        for (j = 1; j <= 2; j++) {
            c = j == 1 ? "replay" : "analyze"; e = j == 1 ? RE[g] : AE[g]
            if (!(S[g, c "1.wall"] > 0) || !(S[g, c ".wall"] > 0)) continue
            printf "| %s | `%s` | %.2f / %.2f | %.2f / %.2f | %.2f× | %s | %s |\n", gname[g], (j == 1 ? "replay --check" : "analyze"), S[g, c ".wall"], S[g, c ".cpu"], S[g, c "1.wall"], S[g, c "1.cpu"], S[g, c "1.wall"] / S[g, c ".wall"], rate(e, S[g, c ".cpu"]), rate(e, S[g, c "1.cpu"])
        }
    }
    print ""
    print "### Peak memory (largest max RSS, MiB)"
    print ""
    print "Max RSS counts the resident pages of memory-mapped inputs (record maps its input text; replay, analyze and export map the .irqt). On the simulated traces, (anon N) is the peak of anonymous memory (RssAnon, polled every 50 ms): heap and stacks."
    print ""
    print "| input | events | `record` | `replay --check` | `analyze` | `export --format text` |"
    print "|---|---:|---:|---:|---:|---:|"
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g]) continue
        for (j = split("record replay analyze export", Q, " "); j >= 1; j--)
            mc[Q[j]] = mib(MX[g, Q[j] ".rss"]) (MX[g, Q[j] ".anon"] > 0 ? " (anon " mib(MX[g, Q[j] ".anon"]) ")" : "")
        printf "| %s | %d | %s | %s | %s | %s |\n", gname[g], S[g, "events"], mc["record"], mc["replay"], mc["analyze"], mc["export"]
    }
    print ""
    for (gi = 1; gi <= 6; gi++) if (S[G[gi], "prefix.events"] > 0) { pf = 1 }
    if (pf) print "¹ `zstd -19` and `xz -9e` of the first " prefix " events only (one run each: they take minutes on the whole text); the ratios compare them with the .irqt of the same prefix. `zstd -dc` then reads the whole text compressed with `zstd -3`."
    for (gi = 1; gi <= 6; gi++) if (noreplay[G[gi]] != "") print "² not replayable (no adapter for its events), so not in the sums:" noreplay[G[gi]]
    print ""
    print "### Goals"
    print ""
    print "Throughput goals are judged on the simulated traces (the real samples are files of 0.2–41 k events, whose times are mostly process start-up)."
    print ""
    print "| goal | input | figure | |"
    print "|---|---|---:|---|"
    # Throughput goals are judged on the simulated traces only: the real samples are small files
    # (each a process of a few tens of ms, start-up included), their rates above are not throughput.
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g] || (g != "sim" && g != "sim-big")) continue
        r = S[g, "text.bytes"] / 1e6 / S[g, "record.cpu"]
        printf "| import ≥ 200 MB/s of text per core | %s | %.1f MB/s | %s |\n", gname[g], r, (r >= 200 ? "met" : "**not met**")
    }
    for (gi = 1; gi <= 6; gi++) {
        g = G[gi]; if (!cnt[g] || (g != "sim" && g != "sim-big")) continue
        for (j = 1; j <= 2; j++) {
            c = j == 1 ? "replay" : "analyze"; e = j == 1 ? RE[g] : AE[g]
            if (!(e > 0) || !(S[g, c ".cpu"] > 0)) continue
            r = e / S[g, c ".cpu"]
            printf "| `%s` ≥ 20 M events/s per core | %s | %.1f M events/s | %s |\n", (j == 1 ? "replay --check" : "analyze"), gname[g], r / 1e6, (r >= 2e7 ? "met" : "**not met**")
            if (S[g, c "1.cpu"] > 0) {
                r1 = e / S[g, c "1.cpu"]
                printf "| `%s` ≥ 20 M events/s per core, on one core (`IRQTRACE_SINGLE_CORE=1`) | %s | %.1f M events/s | %s |\n", (j == 1 ? "replay --check" : "analyze"), gname[g], r1 / 1e6, (r1 >= 2e7 ? "met" : "**not met**")
            }
            if (!bad[g, c ".wall"] && S[g, "zstd_dc.cpu"] > 0)
                printf "| `%s` faster than `zstd -dc` of the text (CPU s) | %s | %.2f s vs %.2f s | %s |\n", (j == 1 ? "replay --check" : "analyze"), gname[g], S[g, c ".cpu"], S[g, "zstd_dc.cpu"], (S[g, c ".cpu"] < S[g, "zstd_dc.cpu"] ? "met" : "**not met**")
        }
    }
    if (cnt["qemu"]) {
        r = S["qemu", "irqt.bytes"] / S["qemu", "events"]
        printf "| .irqt ≤ 1.5 bytes/event on QEMU traces | %s | %.3f B/event (all %d files) | %s |\n", gname["qemu"], r, cnt["qemu"], (r <= 1.5 ? "met" : "**not met**")
        printf "| .irqt ≤ 1.5 bytes/event on QEMU traces | each QEMU log | %s–%s B/event | %s |\n", f(qlo, 3), f(qhi, 3), (qhi <= 1.5 ? "met" : "**not met** for some")
    }
    if (cnt["kvm-dat"]) {
        r = S["kvm-dat", "irqt.bytes"] / S["kvm-dat", "dat.bytes"]
        printf "| .irqt ≤ 0.25 × trace.dat v7 (zstd) on KVM recordings | %s | %.3f × (each file %s–%s) | %s |\n", gname["kvm-dat"], r, f(dlo, 3), f(dhi, 3), (dhi <= 0.25 ? "met" : (r <= 0.25 ? "met in sum, **not met** for some" : "**not met**"))
    }
    if (cnt["sim-big"]) {
        for (j = split("record replay analyze", Q, " "); j >= 1; j--) {
            x = MX["sim-big", Q[j] ".rss"]; a = MX["sim-big", Q[j] ".anon"]
            printf "| peak memory ≤ 64 MiB on 100 M events: `%s`, max RSS | %s | %s MiB | %s |\n", Q[j], gname["sim-big"], mib(x), (x <= 65536 ? "met" : "**not met**")
            printf "| peak memory ≤ 64 MiB on 100 M events: `%s`, anonymous | %s | %s MiB | %s |\n", Q[j], gname["sim-big"], mib(a), (a <= 65536 ? "met" : "**not met**")
        }
    } else printf "| peak memory ≤ 64 MiB on 100 M events | – | not measured (run with `--big`) | |\n"
    print ""
    print "#### Per input"
    print ""
    print "| input | events | text B | zstd -19 B | xz -9e B | trace.dat B | .irqt B | B/event | record s | zstd -19 s | xz -9e s | zstd -dc s | report s | replay s | analyze s | export s |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
        in_ = order[i]
        printf "| `%s` | %s | %s | %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", in_, v(in_, "events"), v(in_, "text.bytes"), v(in_, "zstd19.bytes"), (v(in_, "prefix.events") ? "¹" : ""), v(in_, "xz.bytes"), (v(in_, "prefix.events") ? "¹" : ""), (v(in_, "dat.bytes") != "" ? v(in_, "dat.bytes") : "–"), v(in_, "irqt.bytes"), div(v(in_, "irqt.bytes"), v(in_, "events"), 3), f(v(in_, "record.wall"), 3), f(v(in_, "zstd19.wall"), 3), f(v(in_, "xz.wall"), 3), f(v(in_, "zstd_dc.wall"), 3), f(v(in_, "report.wall"), 3), f(v(in_, "replay.wall"), 3), f(v(in_, "analyze.wall"), 3), f(v(in_, "export.wall"), 3)
    }
}' "$work/inputs" "$work/results" >"$table.body" 2>&1 || die "table: awk failed: $(cat "$table.body")"

{
    echo "<!-- compare.sh:begin (generated by scripts/compare.sh$( ((big)) && echo ' --big'); do not edit by hand) -->"
    echo "_Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`scripts/compare.sh$( ((big)) && echo ' --big')\`._"
    echo
    cat "$table.body"
    if [[ -s $work/notes ]]; then
        echo
        sed 's/^/note: /' "$work/notes"
    fi
    echo "<!-- compare.sh:end -->"
} >"$table"
cat "$table"

if ((write_doc)); then
    doc=$root/docs/PERFORMANCE.md
    if [[ -f $doc ]] && grep -q '^<!-- compare.sh:begin' "$doc" && grep -q '^<!-- compare.sh:end' "$doc"; then
        awk -v t="$table" '
            /^<!-- compare.sh:begin/ { while ((getline l < t) > 0) print l; skip = 1; next }
            /^<!-- compare.sh:end/ { skip = 0; next }
            !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
    else
        { [[ -f $doc ]] && cat "$doc" && echo; cat "$table"; } >"$doc.tmp" && mv "$doc.tmp" "$doc"
    fi
    note "table written into $doc"
fi
