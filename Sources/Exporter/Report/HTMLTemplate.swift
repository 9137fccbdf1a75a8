/// The report page: HTML, CSS and JavaScript in one string, with ``HTMLReport/placeholder`` where
/// the data goes. The script only draws what Swift computed (docs/REPORT.md); it loads nothing.
/// After drawing, it records what it drew in `data-*` attributes of `<body>` (the browser test reads them).
enum HTMLTemplate {
    static let page = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>irqtrace report</title>
<style>
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 16px 32px; color: #1d2330; background: #fff; }
h1 { font-size: 18px; margin: 12px 0 2px; }
h2 { font-size: 15px; margin: 18px 0 6px; border-bottom: 1px solid #d8dce4; padding-bottom: 2px; }
.sub { color: #5b6475; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; text-align: left; vertical-align: top; border-bottom: 1px solid #eef0f4; }
th { background: #f4f6fa; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.mono, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
.grid { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.note { background: #fff7e0; border: 1px solid #f0d68a; padding: 4px 8px; margin: 6px 0; border-radius: 3px; }
#timeline { display: block; border: 1px solid #d8dce4; cursor: grab; width: 100%; }
#tools button { font-size: 12px; margin-right: 4px; }
#hover { min-height: 18px; color: #333; }
.sev-error { color: #c62828; font-weight: 600; } .sev-warning { color: #d27a00; font-weight: 600; } .sev-info { color: #6b7280; }
#findings tbody tr { cursor: pointer; } #findings tbody tr:hover { background: #eef4ff; } #findings tr.sel { background: #dbe8ff; }
.findings-wrap { max-height: 320px; overflow: auto; border: 1px solid #eef0f4; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; }
#evidence pre { margin: 0; white-space: pre-wrap; }
.bits { max-width: 520px; word-break: break-word; }
</style>
</head>
<body>
<h1>irqtrace report</h1>
<div class="sub" id="title"></div>
<div id="notes"></div>

<div id="strip" class="sub"></div>

<h2>Timeline per CPU</h2>
<div id="tools"><button id="reset">Reset</button><button id="zin">Zoom in</button><button id="zout">Zoom out</button>
<span class="sub">wheel: zoom at the cursor · drag: pan · double-click: reset</span> <span class="sub" id="viewinfo"></span></div>
<canvas id="timeline" width="1200" height="200"></canvas>
<div id="hover" class="mono"></div>
<div class="legend sub">
<span><i style="background:#3b6fd6"></i>in service (delivered/acked → EOI)</span><span><i style="background:#9aa3b2"></i>halted</span>
<span><i style="background:#2e9e5b"></i>accepted</span><span><i style="background:#a8d5b9"></i>raised</span><span><i style="background:#f08c00"></i>coalesced / dropped / masked edge / halted with pending …</span>
<span><i style="background:#c62828"></i>finding (error)</span><span><i style="background:#8e44ad"></i>evidence of the selected finding</span>
<span><i style="background:#fff1b8"></i>detailed window (elsewhere: per-bucket summary)</span>
</div>

<h2>Findings</h2>
<div id="findings-note"></div>
<div class="findings-wrap"><table id="findings"><thead><tr><th>#</th><th>severity</th><th>kind</th><th>time (s)</th><th>cpu</th><th>vector / irq</th><th>explanation</th></tr></thead><tbody></tbody></table></div>
<div id="evidence"></div>

<h2>Model state</h2>
<div><label>at <select id="state-select"></select></label></div>
<div id="state"></div>

<h2>Latency</h2>
<div><label>distribution of <select id="lat-select"></select></label></div>
<canvas id="latency" width="1200" height="180"></canvas>
<div class="findings-wrap"><table id="lat-table"></table></div>

<h2>Summary</h2>
<div class="grid"><table id="summary"></table><div><table id="counts"></table><div id="counts-more"></div></div></div>

<script id="irqtrace-data" type="application/json">__IRQTRACE_REPORT_DATA__</script>
<script>
"use strict";
window.addEventListener("error", (e) => { document.body.dataset.error = String(e.message); });
const D = JSON.parse(document.getElementById("irqtrace-data").textContent);
const S = D.summary;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag); if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]); for (const k of kids) e.append(k); return e; };
const SPAN = Math.max(1, S.last_time_ns - S.first_time_ns);
function absTime(rel) { // seconds as the trace prints them
  const ns = S.first_time_ns + rel; const sec = Math.floor(ns / 1e9); const frac = ns - sec * 1e9;
  return sec + "." + String(Math.round(frac)).padStart(9, "0");
}
function dur(ns) {
  const a = Math.abs(ns);
  if (a >= 1e9) return (ns / 1e9).toPrecision(4) + " s"; if (a >= 1e6) return (ns / 1e6).toPrecision(4) + " ms";
  if (a >= 1e3) return (ns / 1e3).toPrecision(4) + " µs"; return Math.round(ns) + " ns";
}
const hex = (v) => "0x" + v.toString(16);
const what = (v, irq) => v != null && v >= 0 ? "vector " + hex(v) : (irq != null && irq >= 0 ? "irq " + irq : "");

// ---- Summary
(function summary() {
  $("title").textContent = S.path + " · " + S.source + " (" + S.arch + ")" + (D.generator ? " · " + D.generator : "");
  for (const n of D.notes) $("notes").append(el("div", { class: "note" }, n));
  const sev = D.summary.findings_by_severity;
  const rows = [["source", S.source + (S.recorded_as !== S.source ? " (recorded as " + S.recorded_as + ")" : "")], ["architecture", S.arch]];
  if (S.kvm_flavour) rows.push(["KVM flavour", S.kvm_flavour]);
  if (S.simulation) rows.push(["simulation", S.simulation]);
  rows.push(["events", S.events.toLocaleString("en-US") + " (" + S.typed_events.toLocaleString("en-US") + " typed)"],
    ["span", absTime(0) + " – " + absTime(SPAN) + " s (" + dur(SPAN) + ")"],
    ["CPUs in events", S.event_cpus.join(", ") || "–"], ["CPUs in the models", S.model_cpus.join(", ") || "–"],
    ["replay adapter", S.adapter || "none for this source"],
    ["replay divergences", S.divergences == null ? "–" : String(S.divergences)],
    ["findings", "error " + (sev.error || 0) + " · warning " + (sev.warning || 0) + " · info " + (sev.info || 0)]);
  if (S.damaged_events) rows.push(["damaged", S.damaged_events + " events lost"]);
  if (S.vms) rows.push(["VMs", S.vms]);
  $("strip").textContent = S.events.toLocaleString("en-US") + " events · " + dur(SPAN) + " · CPUs " + (S.model_cpus.join(", ") || S.event_cpus.join(", ") || "–")
    + " · replay divergences " + (S.divergences == null ? "–" : S.divergences) + " · findings: error " + (sev.error || 0) + ", warning " + (sev.warning || 0) + ", info " + (sev.info || 0);
  for (const [k, v] of rows) $("summary").append(el("tr", null, el("th", null, k), el("td", null, v)));
  $("counts").append(el("tr", null, el("th", null, "event"), el("th", null, "count")));
  const top = S.counts_by_name.slice(0, 25);
  for (const [n, c] of top) $("counts").append(el("tr", null, el("td", { class: "mono" }, n), el("td", { class: "n" }, c.toLocaleString("en-US"))));
  if (S.counts_by_name.length > top.length) $("counts-more").textContent = "… and " + (S.counts_by_name.length - top.length) + " more event names";
})();

// ---- Timeline
const A = D.activity;
const CPUS = A ? A.cpus : [];
const ROW = 46, AXIS = 26, LABEL = 64;
const canvas = $("timeline"), ctx = canvas.getContext("2d");
let view = { t0: 0, t1: SPAN };
let selected = -1;
const stats = { buckets: 0, detail: 0, markers: 0, frames: 0 };
const KINDS = D.instant_kinds;
const ANOMALY = new Set(["coalesced", "dropped", "maskedEdge", "ackMissing", "redelivered", "haltedWithPending"]);
const rowOf = new Map(CPUS.map((c, i) => [c, i]));
const winItems = D.windows.map((w) => w.slices.length + w.instants.length + w.flows.length);

function size() {
  const w = Math.max(600, canvas.parentElement.clientWidth || 1200);
  const h = AXIS + Math.max(1, CPUS.length) * ROW + 6;
  const r = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * r); canvas.height = Math.round(h * r);
  canvas.style.height = h + "px";
  ctx.setTransform(r, 0, 0, r, 0, 0);
  return [w, h];
}
let W = 1200, H = 200;
const plotW = () => W - LABEL - 8;
const X = (t) => LABEL + (t - view.t0) / (view.t1 - view.t0) * plotW();
const T = (x) => view.t0 + (x - LABEL) / plotW() * (view.t1 - view.t0);
function vectorColour(v, irq) { const k = v >= 0 ? v : irq + 97; return "hsl(" + ((k * 47) % 360) + ",60%,48%)"; }
function tick(t, step) { // "+12.345 ms" with as many decimals as the step needs
  const units = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  const [u, name] = units.find(([u]) => step >= u) || units[3];
  const decimals = Math.max(0, Math.min(9, -Math.floor(Math.log10(step / u) + 1e-9)));
  return "+" + (t / u).toFixed(decimals) + " " + name;
}
function niceStep(range, px) { const raw = range / Math.max(1, px / 110); const p = Math.pow(10, Math.floor(Math.log10(raw))); for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p; return 10 * p; }

function drawBuckets(level, r, top) {
  const tr = level.tracks[r], w = level.bucket_ns, start = A.start;
  const b0 = Math.max(0, Math.floor((view.t0 - start) / w)), b1 = Math.min(level.buckets - 1, Math.ceil((view.t1 - start) / w));
  let maxAcc = 1; for (let b = b0; b <= b1; b++) if (tr.accepted[b] > maxAcc) maxAcc = tr.accepted[b];
  let maxAn = 1; for (let b = b0; b <= b1; b++) if (tr.anomalies[b] > maxAn) maxAn = tr.anomalies[b];
  const la = Math.log(maxAcc + 1), lan = Math.log(maxAn + 1);
  for (let b = b0; b <= b1; b++) {
    const x0 = X(start + b * w), x1 = Math.max(x0 + 1, X(start + (b + 1) * w)), bw = x1 - x0;
    const s = tr.in_service[b], h = tr.halted[b], a = tr.accepted[b], an = tr.anomalies[b];
    if (s > 0) { const hh = Math.max(1, 18 * s / 1000); ctx.fillStyle = "#3b6fd6"; ctx.fillRect(x0, top + 22 - hh, bw, hh); }
    if (h > 0) { ctx.fillStyle = "rgba(120,130,150," + (0.25 + 0.75 * h / 1000) + ")"; ctx.fillRect(x0, top + 24, bw, 6); }
    if (a > 0) { const hh = Math.max(1, 10 * Math.log(a + 1) / la); ctx.fillStyle = "#2e9e5b"; ctx.fillRect(x0, top + 42 - hh, bw, hh); }
    if (an > 0) { ctx.fillStyle = "rgba(240,140,0," + (0.3 + 0.7 * Math.log(an + 1) / lan) + ")"; ctx.fillRect(x0, top + 1, Math.max(2, bw), 3); }
    stats.buckets++;
  }
}
function drawWindow(w, wi) {
  const x0 = Math.max(LABEL, X(w.start)), x1 = Math.min(W - 8, X(w.end));
  ctx.fillStyle = "#fff"; ctx.fillRect(x0, AXIS, Math.max(1, x1 - x0), CPUS.length * ROW);
  ctx.save(); ctx.beginPath(); ctx.rect(x0, AXIS, Math.max(1, x1 - x0), CPUS.length * ROW); ctx.clip();
  for (const s of w.slices) {
    const r = rowOf.get(s[0]); if (r === undefined) continue;
    const end = s[3] < 0 ? SPAN : s[3];
    if (end < view.t0 || s[2] > view.t1) continue;
    const top = AXIS + r * ROW, a = X(s[2]), b = Math.max(a + 1, X(end));
    if (s[1] === 0) { ctx.fillStyle = vectorColour(s[4], s[5]); ctx.fillRect(a, top + 6, b - a, 16); if (s[3] < 0) { ctx.strokeStyle = "#c62828"; ctx.strokeRect(a, top + 6, b - a, 16); } }
    else { ctx.fillStyle = "#9aa3b2"; ctx.fillRect(a, top + 24, b - a, 6); }
    stats.detail++;
  }
  const few = winItems[wi] < 60000 || (view.t1 - view.t0) < (w.end - w.start) / 4;
  if (few) {
    ctx.strokeStyle = "rgba(46,158,91,0.45)"; ctx.lineWidth = 1;
    for (const f of w.flows) {
      const r = rowOf.get(f[0]); if (r === undefined || f[4] < view.t0 || f[3] > view.t1) continue;
      const top = AXIS + r * ROW; ctx.beginPath(); ctx.moveTo(X(f[3]), top + 36); ctx.lineTo(X(f[4]), top + 22); ctx.stroke(); stats.detail++;
    }
  }
  for (const i of w.instants) {
    if (i[2] < view.t0 || i[2] > view.t1) continue;
    const r = rowOf.get(i[0]); if (r === undefined) continue;
    const top = AXIS + r * ROW, x = X(i[2]), k = KINDS[i[1]];
    if (ANOMALY.has(k)) { ctx.fillStyle = "#f08c00"; ctx.fillRect(x - 1, top + 1, 3, 41); }
    else if (k === "accepted") { ctx.fillStyle = "#2e9e5b"; ctx.fillRect(x, top + 32, 1.5, 10); }
    else if (k === "raised") { ctx.fillStyle = "#a8d5b9"; ctx.fillRect(x, top + 34, 1.5, 8); }
    else { ctx.fillStyle = "#6b7280"; ctx.fillRect(x, top + 38, 1, 4); }
    stats.detail++;
  }
  ctx.restore();
}
function draw() {
  [W, H] = size();
  stats.buckets = 0; stats.detail = 0; stats.markers = 0; stats.frames++;
  ctx.clearRect(0, 0, W, H); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
  if (!A) { ctx.fillStyle = "#5b6475"; ctx.fillText("No timeline: this source has no model transitions (see the note above).", LABEL, AXIS + 20); finish(); return; }
  const nsPerPx = (view.t1 - view.t0) / plotW();
  // Detail windows in view, and whether to draw them in detail.
  const detailed = [];
  D.windows.forEach((w, i) => { if (w.end >= view.t0 && w.start <= view.t1) { ctx.fillStyle = "#fff1b8"; const a = Math.max(LABEL, X(w.start)); ctx.fillRect(a, 0, Math.max(2, Math.min(W - 8, X(w.end)) - a), AXIS - 8); if ((X(w.end) - X(w.start) >= 40 && winItems[i] <= 20000) || nsPerPx <= A.levels[0].bucket_ns) detailed.push(i); } });
  // Axis.
  const step = niceStep(view.t1 - view.t0, plotW());
  ctx.fillStyle = "#5b6475"; ctx.strokeStyle = "#e3e6ec";
  for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
    const x = X(t); ctx.beginPath(); ctx.moveTo(x, AXIS - 6); ctx.lineTo(x, H); ctx.stroke();
    ctx.fillText(tick(t, step), x + 2, 9);
  }
  let level = A.levels[0];
  for (const l of A.levels) if (l.bucket_ns <= nsPerPx * 2) level = l;
  ctx.save(); ctx.beginPath(); ctx.rect(LABEL, 0, plotW(), H); ctx.clip();
  CPUS.forEach((c, r) => {
    const top = AXIS + r * ROW;
    ctx.fillStyle = r % 2 ? "#fafbfd" : "#fff"; ctx.fillRect(LABEL, top, plotW(), ROW);
    drawBuckets(level, r, top);
  });
  for (const i of detailed) drawWindow(D.windows[i], i);
  ctx.restore();
  ctx.fillStyle = "#fff"; ctx.fillRect(0, AXIS, LABEL, H - AXIS);
  CPUS.forEach((c, r) => { ctx.fillStyle = "#1d2330"; ctx.fillText("CPU " + c, 6, AXIS + r * ROW + ROW / 2); });
  // Findings and the selected one's evidence.
  D.findings.forEach((f, k) => {
    if (f.time < view.t0 || f.time > view.t1) return;
    const x = X(f.time), r = f.cpu != null ? rowOf.get(f.cpu) : undefined;
    ctx.fillStyle = f.severity === "error" ? "#c62828" : f.severity === "warning" ? "#f08c00" : "#9aa3b2";
    const tops = r === undefined ? CPUS.map((_, j) => AXIS + j * ROW) : [AXIS + r * ROW];
    for (const top of tops) { ctx.beginPath(); ctx.moveTo(x - 5, top); ctx.lineTo(x + 5, top); ctx.lineTo(x, top + 8); ctx.fill(); }
    stats.markers++;
  });
  if (selected >= 0) {
    const f = D.findings[selected];
    ctx.strokeStyle = "#8e44ad"; ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(X(f.time), AXIS); ctx.lineTo(X(f.time), H); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#8e44ad";
    for (const e of f.evidence) if (e[1] >= view.t0 && e[1] <= view.t1) ctx.fillRect(X(e[1]) - 1, AXIS - 8, 3, 8);
  }
  $("viewinfo").textContent = "view " + dur(view.t1 - view.t0) + " · " + (detailed.length ? detailed.length + " detailed window(s)" : "summary buckets of " + dur(level.bucket_ns));
  finish();
}
function finish() {
  const b = document.body.dataset;
  b.rendered = "1"; b.timelineCpus = CPUS.length; b.timelineBuckets = stats.buckets; b.timelineDetail = stats.detail;
  b.timelineMarkers = stats.markers; b.frames = stats.frames;
}
function zoom(factor, atX) {
  const t = T(atX), span = Math.min(SPAN * 1.2, Math.max(50, (view.t1 - view.t0) * factor));
  const f = (atX - LABEL) / plotW(); view = { t0: t - f * span, t1: t - f * span + span }; draw();
}
canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoom(Math.exp(e.deltaY * 0.002), e.offsetX); }, { passive: false });
let drag = null;
canvas.addEventListener("mousedown", (e) => { drag = { x: e.offsetX, v: { ...view } }; canvas.style.cursor = "grabbing"; });
window.addEventListener("mouseup", () => { drag = null; canvas.style.cursor = "grab"; });
canvas.addEventListener("mousemove", (e) => {
  if (drag) { const dt = (e.offsetX - drag.x) / plotW() * (drag.v.t1 - drag.v.t0); view = { t0: drag.v.t0 - dt, t1: drag.v.t1 - dt }; draw(); return; }
  hover(e.offsetX, e.offsetY);
});
canvas.addEventListener("dblclick", () => { view = { t0: 0, t1: SPAN }; draw(); });
$("reset").onclick = () => { view = { t0: 0, t1: SPAN }; draw(); };
$("zin").onclick = () => zoom(0.5, LABEL + plotW() / 2);
$("zout").onclick = () => zoom(2, LABEL + plotW() / 2);
window.addEventListener("resize", draw);
function hover(x, y) {
  if (!A || x < LABEL) return;
  const t = T(x), r = Math.floor((y - AXIS) / ROW), c = CPUS[r];
  let s = absTime(Math.round(t)) + " s (+" + dur(t) + ")" + (c !== undefined ? " · CPU " + c : "");
  if (c !== undefined) {
    const tol = (view.t1 - view.t0) / plotW() * 2;
    for (const w of D.windows) {
      if (t < w.start || t > w.end) continue;
      for (const sl of w.slices) if (sl[0] === c && sl[2] <= t + tol && (sl[3] < 0 ? SPAN : sl[3]) >= t - tol) {
        s += " · " + (sl[1] === 0 ? "in service " + what(sl[4], sl[5]) : "halted") + " " + dur((sl[3] < 0 ? SPAN : sl[3]) - sl[2]) + (sl[3] < 0 ? " (never ended)" : "") + " from event #" + sl[6];
        break;
      }
    }
    if (A) {
      let level = A.levels[0]; const nsPerPx = (view.t1 - view.t0) / plotW();
      for (const l of A.levels) if (l.bucket_ns <= nsPerPx * 2) level = l;
      const b = Math.floor((t - A.start) / level.bucket_ns), tr = level.tracks[r];
      if (b >= 0 && b < level.buckets) s += " · bucket " + dur(level.bucket_ns) + ": in service " + tr.in_service[b] / 10 + "%, halted " + tr.halted[b] / 10 + "%, " + tr.delivered[b] + " delivered, " + tr.accepted[b] + " accepted, " + tr.anomalies[b] + " anomalies";
    }
  }
  $("hover").textContent = s;
}

// ---- Findings
(function findings() {
  const tb = $("findings").querySelector("tbody");
  if (!D.findings.length) $("findings-note").append(el("div", { class: "sub" }, A ? "No findings." : "No findings: this source has no analyzer yet."));
  if (D.findings_left_out) $("findings-note").append(el("div", { class: "note" }, D.findings_left_out + " less severe findings left out of this page."));
  D.findings.forEach((f, k) => {
    const where = (f.cpu != null ? String(f.cpu) : f.dest != null ? "dest " + f.dest + " (none)" : "?") + (f.vm ? " · " + f.vm : "");
    const tr = el("tr", { "data-finding": k }, el("td", { class: "n" }, "#" + f.index), el("td", { class: "sev-" + f.severity }, f.severity),
      el("td", null, f.kind), el("td", { class: "mono" }, absTime(f.time)), el("td", null, where), el("td", null, what(f.vector, f.irq)),
      el("td", null, f.explanation + (f.caused_by != null ? " (caused by #" + f.caused_by + ")" : "")));
    tr.onclick = () => selectFinding(k);
    tb.append(tr);
  });
})();
function selectFinding(k) {
  selected = k;
  const f = D.findings[k];
  for (const tr of $("findings").querySelectorAll("tbody tr")) tr.classList.toggle("sel", +tr.dataset.finding === k);
  const win = D.windows.find((w) => w.start <= f.time && f.time <= w.end);
  // The finding's window (or 1/400 of the trace), narrowed to its evidence but never below 1/20 of it.
  const whole = win ? Math.max(2000, (win.end - win.start) / 2) : Math.max(2000, SPAN / 400);
  let half = whole;
  if (f.evidence.length) { const lo = Math.min(...f.evidence.map((e) => e[1])), hi = Math.max(...f.evidence.map((e) => e[1])); half = Math.min(whole, Math.max(whole / 20, 2000, Math.abs(f.time - lo) * 1.5, Math.abs(hi - f.time) * 1.5)); }
  view = { t0: f.time - half, t1: f.time + half };
  draw();
  const ev = $("evidence"); ev.textContent = "";
  ev.append(el("h3", { style: "font-size:13px;margin:10px 0 4px" }, "Finding #" + f.index + " (" + f.kind + ") at " + absTime(f.time) + " s: evidence events"));
  const t = el("table", { id: "evidence-table" }, el("tr", null, el("th", null, "event"), el("th", null, "time (s)"), el("th", null, "line")));
  for (const [i, tm, line] of f.evidence) t.append(el("tr", null, el("td", { class: "n" }, "#" + i), el("td", { class: "mono" }, absTime(tm)), el("td", null, el("pre", null, line))));
  if (f.events.length > f.evidence.length) t.append(el("tr", null, el("td", { colspan: 3, class: "sub" }, (f.events.length - f.evidence.length) + " more events: irqtrace show --events")));
  ev.append(t);
  if (f.state != null) { $("state-select").value = String(f.state); renderState(f.state); }
}

// ---- Model state
(function states() {
  const sel = $("state-select");
  if (!D.states.length) { sel.append(el("option", null, "(no model state for this source)")); sel.disabled = true; }
  D.states.forEach((s, k) => sel.append(el("option", { value: k }, (s.time != null ? absTime(s.time) + " s: " : "") + s.label + " (" + s.events.toLocaleString("en-US") + " events)")));
  sel.onchange = () => renderState(+sel.value);
  if (D.states.length) { const first = D.findings.find((f) => f.state != null); renderState(first ? first.state : D.states.length - 1); if (first) sel.value = String(first.state); else sel.value = String(D.states.length - 1); }
})();
function renderState(k) {
  const s = D.states[k], box = $("state"); box.textContent = "";
  if (!s) return;
  const list = (a, isVector) => a.length ? a.map((v) => isVector ? hex(v) : String(v)).join(" ") : "–";
  const isX86 = s.cpus.length && s.cpus[0].pending_name === "IRR";
  const regNames = s.cpus.length ? s.cpus[0].registers.map((r) => r[0]) : [];
  const t = el("table", { id: "state-table" }, el("tr", null, el("th", null, "CPU"), el("th", null, s.cpus.length ? s.cpus[0].pending_name : "pending"),
    el("th", null, s.cpus.length ? s.cpus[0].active_name : "active"), ...regNames.map((n) => el("th", null, n))));
  for (const c of s.cpus) t.append(el("tr", null, el("td", null, String(c.cpu)), el("td", { class: "mono bits" }, list(c.pending, isX86)),
    el("td", { class: "mono bits" }, list(c.active, isX86)), ...c.registers.map((r) => el("td", { class: "mono" }, r[1]))));
  if (s.cpus.length) box.append(t); else box.append(el("div", { class: "sub" }, "No per-CPU interrupt-controller state from this source."));
  if (s.detail) box.append(el("pre", null, s.detail));
  document.body.dataset.stateShown = k;
}

// ---- Latency
const STAGES = [["raise_to_accept", "raise → accept"], ["accept_to_deliver", "accept → inject/ack"], ["deliver_to_eoi", "inject/ack → EOI"]];
(function latency() {
  const sel = $("lat-select"), t = $("lat-table");
  sel.append(el("option", { value: -1 }, "all CPUs and interrupts"));
  D.latency.forEach((r, k) => sel.append(el("option", { value: k }, "CPU " + r.cpu + " " + what(r.vector, r.irq))));
  sel.onchange = () => drawLatency(+sel.value);
  const head = el("tr", null, el("th", null, "CPU"), el("th", null, "interrupt"));
  for (const [, n] of STAGES) head.append(el("th", null, n + ": n"), el("th", null, "p50"), el("th", null, "p99"), el("th", null, "max"));
  t.append(head);
  for (const r of D.latency.slice(0, 600)) {
    const tr = el("tr", null, el("td", null, String(r.cpu)), el("td", null, what(r.vector, r.irq)));
    for (const [k] of STAGES) { const s = r[k]; tr.append(el("td", { class: "n" }, String(s.count)), el("td", { class: "n" }, s.count ? dur(s.p50) : ""), el("td", { class: "n" }, s.count ? dur(s.p99) : ""), el("td", { class: "n" }, s.count ? dur(s.max) : "")); }
    t.append(tr);
  }
  if (!D.latency.length) t.append(el("tr", null, el("td", { class: "sub", colspan: 14 }, A ? "No interrupt completed a stage." : "No latencies: this source has no model transitions.")));
  drawLatency(-1);
})();
function drawLatency(k) {
  const c = $("latency"), g = c.getContext("2d"), r = window.devicePixelRatio || 1;
  const w = Math.max(600, c.parentElement.clientWidth || 1200), h = 180;
  c.width = w * r; c.height = h * r; c.style.width = w + "px"; c.style.height = h + "px"; g.setTransform(r, 0, 0, r, 0, 0);
  g.fillStyle = "#fff"; g.fillRect(0, 0, w, h); g.font = "11px system-ui, sans-serif";
  const rows = k < 0 ? D.latency : [D.latency[k]];
  const pw = (w - 40) / 3;
  STAGES.forEach(([key, name], j) => {
    const bins = []; let n = 0;
    for (const row of rows) { const s = row[key]; n += s.count; s.bins.forEach((v, b) => bins[b] = (bins[b] || 0) + v); }
    const x0 = 10 + j * (pw + 10), maxB = Math.max(1, ...bins.map((v) => v || 0));
    g.fillStyle = "#1d2330"; g.fillText(name + " (" + n.toLocaleString("en-US") + ")", x0, 12);
    const lo = 6, hi = 36, bw = (pw - 10) / (hi - lo);
    g.fillStyle = "#f4f6fa"; g.fillRect(x0, 20, pw - 10, 130);
    for (let b = lo; b < hi; b++) {
      const v = bins[b] || 0; const bh = v ? Math.max(1, 126 * v / maxB) : 0;
      g.fillStyle = "#3b6fd6"; g.fillRect(x0 + (b - lo) * bw + 1, 150 - bh, bw - 2, bh);
      if ((b - lo) % 5 === 0) { g.fillStyle = "#5b6475"; g.fillText(dur(Math.pow(2, b)), x0 + (b - lo) * bw, 164); }
    }
    if (rows.length && bins.slice(0, lo).some((v) => v)) { g.fillStyle = "#5b6475"; g.fillText("< " + dur(Math.pow(2, lo)) + ": " + bins.slice(0, lo).reduce((a, v) => a + (v || 0), 0), x0, 176); }
  });
  document.body.dataset.latencyRows = D.latency.length;
}

// #finding=K selects a finding; #view=T0,T1 (ns from the first event) sets the visible range.
const v = /view=(-?\d+),(-?\d+)/.exec(location.hash);
if (v && +v[2] > +v[1]) view = { t0: +v[1], t1: +v[2] };
draw();
const m = /finding=(\d+)/.exec(location.hash);
if (m && D.findings[+m[1]]) selectFinding(+m[1]);
document.body.dataset.findingsListed = $("findings").querySelectorAll("tbody tr").length;
document.body.dataset.states = D.states.length;
</script>
</body>
</html>
"""#
}
