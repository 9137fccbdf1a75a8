#!/usr/bin/env bash
# Size comparison on the real samples: for each traces/*.log.zst, the decompressed text, `zstd -19`
# and `xz -9e` of that text, and the .irqt written by `irqtrace record` (release build, `--level 19`, the smallest setting:
# zstd 19, 1 MiB chunks; the default is 9). Prints a Markdown table: bytes and bytes/event, and .irqt / zstd-19.
# Events are the text's lines (every line of these samples is an event); a differing count from
# irqtrace (malformed lines) is reported under the table.
#
# Usage: scripts/size-table.sh [trace.log.zst ...]   (default: traces/*.log.zst)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

need=()
command -v zstd >/dev/null || need+=(zstd)
command -v xz >/dev/null || need+=(xz-utils)
if ((${#need[@]})); then
    echo "installing ${need[*]}" >&2
    apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2
fi

swift build -c release >&2
irqtrace=$root/.build/release/irqtrace

if (($# == 0)); then set -- traces/*.log.zst; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

per_event() { awk -v b="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", b / n; else printf "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "-" }'; }

echo "| trace | events (lines) | text B | B/ev | zstd -19 B | B/ev | xz -9e B | B/ev | .irqt B | B/ev | .irqt / zstd-19 | .irqt / xz -9e |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
t_ev=0 t_raw=0 t_zst=0 t_xz=0 t_irqt=0
notes=()
for f in "$@"; do
    name=$(basename "$f" .log.zst)
    text=$work/$name.log
    zstd -q -d -c "$f" >"$text"
    events=$(wc -l <"$text")
    raw=$(stat -c %s "$text")
    zst=$(zstd -q -19 -c "$text" | wc -c)
    xzb=$(xz -9e -c "$text" | wc -c)
    "$irqtrace" record "$text" -o "$work/$name.irqt" --level 19 --json >"$work/$name.json"
    irqt=$(stat -c %s "$work/$name.irqt")
    recorded=$(sed -n 's/^ *"events": *\([0-9]*\).*/\1/p' "$work/$name.json")
    [[ $recorded == "$events" ]] || notes+=("$name: irqtrace recorded $recorded events of $events lines")
    echo "| \`$name\` | $events | $raw | $(per_event "$raw" "$events") | $zst | $(per_event "$zst" "$events") | $xzb | $(per_event "$xzb" "$events") | $irqt | $(per_event "$irqt" "$events") | $(ratio "$irqt" "$zst") | $(ratio "$irqt" "$xzb") |"
    t_ev=$((t_ev + events)) t_raw=$((t_raw + raw)) t_zst=$((t_zst + zst)) t_xz=$((t_xz + xzb)) t_irqt=$((t_irqt + irqt))
    rm -f "$text" "$work/$name.irqt"
done
echo "| **all (sum)** | $t_ev | $t_raw | $(per_event "$t_raw" "$t_ev") | $t_zst | $(per_event "$t_zst" "$t_ev") | $t_xz | $(per_event "$t_xz" "$t_ev") | $t_irqt | $(per_event "$t_irqt" "$t_ev") | $(ratio "$t_irqt" "$t_zst") | $(ratio "$t_irqt" "$t_xz") |"
echo
echo "zstd $(zstd -V | sed -n 's/.*v\([0-9.]*\).*/\1/p') (-19, one thread), xz $(xz --version | sed -n 's/^xz (XZ Utils) //p') (-9e); .irqt: irqtrace record --level 19 (1 MiB chunks; the default level 9 is about 10 % larger)."
for n in "${notes[@]+"${notes[@]}"}"; do echo "note: $n"; done
