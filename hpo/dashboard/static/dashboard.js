// The hpo dashboard page: polls /api/state/N and draws it.
// Every string from the store is user data: it reaches the page through textContent (never
// innerHTML), and strings given to Plotly (which renders a subset of HTML) go through pe().
"use strict";

const COLORS = {
  done: "#1f77b4", failed: "#d62728", running: "#ff9f1c", interrupted: "#7f7f7f",
  pruned: "#9a9a9a", queued: "#bcbd22", best: "#2ca02c", star: "#ffbf00",
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const app = { refresh: 2000, stateAt: 0, stores: [], current: 0, version: null, state: null, section: null,
              sort: { key: "number", dir: 1 }, timer: null, lastOk: 0 };

// ------------------------------------------------------------------ helpers --
function pe(value) {  // a string for Plotly: its HTML subset must see text, not markup (no "<": no tag)
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
function cut(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function show(value) {  // a parameter or metric value as text
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return fmt(value);
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 120) return s.toFixed(0) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(2) + " h";
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function valueTitle(st) {
  const arrow = st.search.direction === "minimize" ? "lower is better" : "higher is better";
  return pe(`${st.search.metric} (${arrow})`);
}
function why(id, text) {  // a plot with nothing to draw says why
  const div = document.getElementById(id);
  Plotly.purge(div);
  clear(div);
  div.appendChild(el("div", text, "why"));
}
function draw(id, traces, layout) {
  const div = document.getElementById(id);
  if (div.querySelector(".why")) clear(div);
  Plotly.react(div, traces, Object.assign({
    height: 320, margin: { l: 60, r: 20, t: 40, b: 45 }, hovermode: "closest",
    legend: { font: { size: 10 } }, font: { size: 11 },
  }, layout), PLOT_CONFIG);
}
function failedTrace(xs, st, name) {  // failed trials as red crosses on the worst edge
  return { x: xs, y: xs.map(() => (st.search.direction === "minimize" ? 0.97 : 0.03)), yaxis: "y2",
           mode: "markers", type: "scatter", name: pe(name || `failed (${xs.length})`),
           marker: { symbol: "x", color: COLORS.failed, size: 8 }, hoverinfo: "x+name" };
}
const EDGE_AXIS = { overlaying: "y", range: [0, 1], visible: false, fixedrange: true };

// -------------------------------------------------------------------- plots --
function plotTrials(st) {
  const d = st.plots.best_so_far_trials;
  if (d.why) return why("plot-best_so_far_trials", d.why);
  const fresh = d.points.filter((p) => !p.cache_hit), cached = d.points.filter((p) => p.cache_hit);
  const text = (ps) => ps.map((p) => `trial ${p.id} (#${p.number})`);
  const traces = [
    { x: fresh.map((p) => p.number), y: fresh.map((p) => p.value), text: text(fresh), mode: "markers",
      type: "scatter", name: "trial", marker: { color: COLORS.done, opacity: 0.75, size: 7 } },
    { x: d.best_x, y: d.best_y, mode: "lines", line: { shape: "hv", color: COLORS.best, width: 2 }, name: "best so far" },
    { x: [d.best.number], y: [d.best.value], mode: "markers", name: pe(`best: trial ${d.best.id} (${fmt(d.best.value)})`),
      marker: { symbol: "star", size: 16, color: COLORS.star, line: { color: "black", width: 1 } } },
  ];
  if (cached.length) traces.splice(1, 0, { x: cached.map((p) => p.number), y: cached.map((p) => p.value),
    text: text(cached), mode: "markers", name: "cache hit",
    marker: { color: "rgba(0,0,0,0)", size: 8, line: { color: COLORS.done, width: 1.5 } } });
  if (d.failed.length) traces.push(failedTrace(d.failed, st));
  draw("plot-best_so_far_trials", traces, {
    title: { text: pe(`${st.search.metric} per trial (${st.search.direction})`) },
    xaxis: { title: { text: "trial number" } },
    yaxis: { title: { text: valueTitle(st) }, type: d.log ? "log" : "linear" }, yaxis2: EDGE_AXIS });
}

function plotTime(st) {
  const d = st.plots.best_so_far_time;
  if (d.why) return why("plot-best_so_far_time", d.why);
  const traces = [
    { x: d.x, y: d.values, text: d.ids.map((i) => `trial ${i}`), mode: "markers", name: "trial value",
      marker: { color: "#9a9a9a", opacity: 0.6, size: 6 } },
    { x: d.best_x, y: d.best_y, mode: "lines+markers", name: "best so far",
      line: { shape: "hv", color: COLORS.best, width: 2 }, marker: { size: 5 } },
  ];
  if (d.failed_x.length) traces.push(failedTrace(d.failed_x, st));
  draw("plot-best_so_far_time", traces, {
    title: { text: pe(`best ${st.search.metric} so far against wall time`) },
    xaxis: { title: { text: `wall time since the first trial started (${d.unit})` }, rangemode: "tozero" },
    yaxis: { title: { text: valueTitle(st) }, type: d.log ? "log" : "linear" }, yaxis2: EDGE_AXIS });
}

function plotGenerations(st) {
  const d = st.plots.generations;
  if (d.why) return why("plot-generations", d.why);
  const traces = d.gens.map((g, i) => ({ type: "box", x: d.groups[i].map(() => g), y: d.groups[i], boxpoints: false,
    name: `generation ${g}`, showlegend: false, marker: { color: "#4a6f94" }, fillcolor: "#d8e6f3" }));
  traces.push({ x: d.gens, y: d.gen_best, mode: "lines+markers", name: "generation best",
    line: { color: COLORS.done, width: 1.2 }, marker: { size: 6 } });
  traces.push({ x: d.best_x, y: d.best_y, mode: "lines", name: "best so far",
    line: { color: COLORS.best, width: 2, dash: "dash" } });
  if (d.failed_x.length) traces.push(failedTrace(d.failed_x, st));
  draw("plot-generations", traces, {
    title: { text: pe(`${st.search.metric} per generation: min / median / max`) },
    xaxis: { title: { text: `generation (blocks of ${d.size} trials in trial order)` }, dtick: 1 },
    yaxis: { title: { text: valueTitle(st) }, type: d.log ? "log" : "linear" }, yaxis2: EDGE_AXIS });
}

function plotWorkers(st) {
  const d = st.plots.workers;
  if (d.why) return why("plot-workers", d.why);
  const labels = d.rows.map((r) => pe(`${r.name} · ${Math.round(100 * r.busy)}% busy`));
  const byStatus = {};
  d.rows.forEach((row, r) => row.bars.forEach((b) => {
    const t = (byStatus[b.status] = byStatus[b.status] || { base: [], x: [], y: [], text: [] });
    t.base.push(b.start / d.scale);
    t.x.push(Math.max(b.end - b.start, d.total * 0.002) / d.scale);
    t.y.push(labels[r]);
    t.text.push(`trial ${b.id} (#${b.number})`);
  }));
  const order = ["done", "pruned", "failed", "running", "interrupted", "queued"];
  const traces = order.filter((s) => byStatus[s]).map((s) => ({
    type: "bar", orientation: "h", name: s, base: byStatus[s].base, x: byStatus[s].x, y: byStatus[s].y,
    text: byStatus[s].text, textposition: "inside", insidetextanchor: "middle", textangle: 0, hoverinfo: "text+name",
    marker: { color: COLORS[s], line: { color: "white", width: 0.5 } } }));
  const extra = d.overhead === null ? "" : `; engine overhead ${(100 * d.overhead).toFixed(1)}%`;
  draw("plot-workers", traces, {
    title: { text: pe(`worker timeline: ${d.n} trials on ${d.rows.length} worker(s)${extra}`) },
    barmode: "overlay", height: Math.max(260, 140 + 36 * d.rows.length),
    xaxis: { title: { text: `wall time since the first trial started (${d.unit})` }, rangemode: "tozero" },
    yaxis: { autorange: "reversed", categoryorder: "array", categoryarray: labels, automargin: true } });
}

function plotCurves(st) {
  const d = st.plots.curves;
  if (d.why) return why("plot-curves", d.why);
  const seen = {};
  const traces = [];
  let best = null;
  for (const c of d.curves) {
    if (c.id === d.best_id) { best = c; continue; }
    const pruned = c.status === "pruned";
    const name = pruned ? "pruned" : "ran to the end";
    traces.push({ x: c.steps, y: c.values, mode: pruned ? "lines+markers" : "lines", name, legendgroup: name,
      showlegend: !seen[name], text: c.steps.map(() => `trial ${c.id}`), opacity: pruned ? 0.8 : 0.5,
      line: { color: pruned ? COLORS.pruned : COLORS.done, dash: pruned ? "dash" : "solid", width: 1 },
      marker: { symbol: "x", size: c.steps.map((_, i) => (pruned && i === c.steps.length - 1 ? 8 : 0)) } });
    seen[name] = true;
  }
  if (best) traces.push({ x: best.steps, y: best.values, mode: "lines", name: `best: trial ${best.id}`,
    line: { color: COLORS.best, width: 2.5 } });
  draw("plot-curves", traces, {
    title: { text: pe(`${st.search.metric} reported per step (${d.curves.length} trials, ${d.pruned} pruned)`) },
    xaxis: { title: { text: "step (epoch)" } },
    yaxis: { title: { text: valueTitle(st) }, type: d.log ? "log" : "linear" } });
}

function plotPareto(st) {
  const d = st.plots.pareto;
  const div = document.getElementById("plot-pareto");
  if (d.why) { div.hidden = !st.search.objectives.length; return why("plot-pareto", d.why); }
  div.hidden = false;
  const [[m0, d0], [m1, d1]] = d.objectives;
  const better = (dir) => (dir === "minimize" ? "lower" : "higher");
  draw("plot-pareto", [
    { x: d.x, y: d.y, text: d.ids.map((i) => `trial ${i}`), mode: "markers", name: "trial",
      marker: { color: COLORS.done, opacity: 0.6 } },
    { x: d.front_x, y: d.front_y, text: d.front_ids.map((i) => `trial ${i}`), mode: "lines+markers",
      name: `Pareto front (${d.front_ids.length})`,
      marker: { color: COLORS.star, size: 9, line: { color: "black", width: 1 } }, line: { color: COLORS.star } },
  ], {
    title: { text: pe(`${m1} against ${m0}`) },
    xaxis: { title: { text: pe(`${m0} (${better(d0)} is better)`) }, type: d.log_x ? "log" : "linear" },
    yaxis: { title: { text: pe(`${m1} (${better(d1)} is better)`) }, type: d.log_y ? "log" : "linear" } });
}

function plotParams(st) {
  const box = document.getElementById("plot-params");
  const d = st.plots.params;
  if (d.why) { for (const c of box.children) Plotly.purge(c); clear(box); box.appendChild(el("div", d.why, "why")); return; }
  if (box.querySelector(".why")) clear(box);
  while (box.children.length > d.panels.length) { Plotly.purge(box.lastChild); box.removeChild(box.lastChild); }
  while (box.children.length < d.panels.length) box.appendChild(el("div"));
  d.panels.forEach((p, k) => {
    const div = box.children[k];
    const jitter = (i) => (p.kind === "numeric" ? 0 : (((i * 0.6180339) % 1) - 0.5) * 0.3);
    const traces = [];
    const xaxis = { title: { text: pe(p.name + (p.log ? " (log scale)" : "")) }, type: p.log ? "log" : "linear" };
    if (p.kind === "categorical") {
      p.groups.forEach((g, j) => { if (g.length) traces.push({ type: "box", x: g.map(() => j), y: g, boxpoints: false,
        showlegend: false, hoverinfo: "y", marker: { color: "#4a6f94" }, fillcolor: "#d8e6f3" }); });
      Object.assign(xaxis, { type: "linear", tickmode: "array", tickvals: p.options.map((_, j) => j),
        ticktext: p.options.map((o) => pe(cut(show(o), 28))), range: [-0.6, p.options.length - 0.4] });
    }
    traces.push({ x: p.x.map((x, i) => x + jitter(i)), y: p.y, text: p.ids.map((i) => `trial ${i}`),
      mode: "markers", type: "scatter", showlegend: false, marker: { color: COLORS.done, opacity: 0.7, size: 6 } });
    if (p.best_x !== null) traces.push({ x: [p.best_x], y: [d.best.value], mode: "markers", showlegend: false,
      text: [`best: trial ${d.best.id}`], marker: { symbol: "star", size: 14, color: COLORS.star, line: { color: "black", width: 1 } } });
    if (p.failed_x.length) {
      const f = failedTrace(p.failed_x.map((x, i) => x + jitter(i)), st);
      f.showlegend = false;
      traces.push(f);
    }
    Plotly.react(div, traces, {
      height: 260, width: 330, margin: { l: 50, r: 10, t: 10, b: 60 }, font: { size: 10 }, hovermode: "closest",
      xaxis, yaxis: { title: { text: k === 0 ? valueTitle(st) : "" }, type: d.log ? "log" : "linear" }, yaxis2: EDGE_AXIS,
    }, PLOT_CONFIG);
  });
}

// ----------------------------------------------------------------- progress --
function card(parent, key, label, value) {
  const c = el("div", null, "card");
  c.appendChild(el("div", label, "k"));
  const v = el("div", value, "v");
  v.id = "card-" + key;
  c.appendChild(v);
  parent.appendChild(c);
}

function kvTable(rows) {
  const table = el("table", null, "kv");
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.appendChild(el("td", k));
    tr.appendChild(el("td", v));
    table.appendChild(tr);
  }
  return table;
}

function drawProgress(st) {
  const s = st.summary, counts = s.counts;
  document.getElementById("search-name").textContent = st.search.name ? "· " + st.search.name : "";
  document.title = `hpo · ${counts.total} trials` + (st.search.name ? ` · ${st.search.name}` : "");
  const cards = document.getElementById("cards");
  clear(cards);
  card(cards, "total", "trials", counts.total);
  for (const k of ["done", "running", "queued", "failed", "pruned", "interrupted"]) {
    if (counts[k] || k === "done" || k === "running") card(cards, k, k, counts[k]);
  }
  if (counts.cache_hits) card(cards, "cache_hits", "cache hits", counts.cache_hits);
  card(cards, "elapsed", "elapsed", duration(s.elapsed_s));
  card(cards, "rate", "trials / hour", fmt(s.trials_per_hour, 3));
  card(cards, "best", `best ${st.search.metric}`, fmt(s.best_value));
  const budget = s.budget || {};
  const bar = document.getElementById("budget-bar");
  let frac = null;
  if (budget.trials) frac = counts.finished / budget.trials;
  else if (budget.seconds && s.elapsed_s !== null) frac = s.elapsed_s / budget.seconds;
  bar.parentElement.hidden = frac === null;
  bar.style.width = `${Math.min(100, 100 * (frac || 0)).toFixed(1)}%`;
  bar.title = "budget: " + JSON.stringify(budget);

  const best = document.getElementById("best");
  clear(best);
  if (!st.best) best.appendChild(el("p", "no finished trial yet", "muted"));
  else {
    const rows = [["trial", `${st.best.id} (#${st.best.number})`], [st.search.metric, fmt(st.best.value, 6)]];
    for (const [k, v] of Object.entries(st.best.params)) rows.push([k, show(v)]);
    best.appendChild(kvTable(rows));
    const metrics = Object.entries(st.best.metrics).filter(([k]) => k !== st.search.metric);
    if (metrics.length) {
      const more = el("details");
      more.appendChild(el("summary", `its other metrics (${metrics.length})`));
      more.appendChild(kvTable(metrics.map(([k, v]) => [k, show(v)])));
      best.appendChild(more);
    }
  }
  const engine = document.getElementById("engine");
  clear(engine);
  engine.appendChild(kvTable([["strategy", show(s.strategy)], ["metric", `${st.search.metric} (${st.search.direction})`],
    ["budget", show(s.budget)], ["seed", show(s.seed)], ["store", show(s.store)]]));
  document.getElementById("config-text").textContent = JSON.stringify(st.search.config, null, 2);
  const running = document.getElementById("running");
  clear(running);
  if (!s.running.length) running.appendChild(el("p", s.writer ? "none right now" : "no search is writing to this store", "muted"));
  else {
    const table = kvTable(s.running.map((r) => [`trial ${r.trial_id} (#${r.number})`, ""]));
    s.running.forEach((r, i) => ticking(table.rows[i].cells[1], r.running_s, `${r.worker || "?"} · `));
    running.appendChild(table);
  }
  if (s.writer && s.elapsed_s !== null) ticking(document.getElementById("card-elapsed"), s.elapsed_s, "");
  if (s.writer) running.appendChild(el("p", "writer: " + s.writer, "muted"));
}

// While a search runs, durations go on between two changes of the store: the page counts on.
function ticking(node, seconds, prefix) {
  node.dataset.base = seconds === null ? "" : String(seconds);
  node.dataset.prefix = prefix;
  node.dataset.since = String(app.stateAt);
  node.classList.add("ticking");
  node.textContent = prefix + duration(seconds);
}
function tick() {
  for (const node of document.querySelectorAll(".ticking")) {
    if (node.dataset.base === "") continue;
    const seconds = Number(node.dataset.base) + (Date.now() - Number(node.dataset.since)) / 1000;
    node.textContent = node.dataset.prefix + duration(seconds);
  }
}
setInterval(tick, 1000);

// -------------------------------------------------------------------- table --
function columns(st) {
  const names = [];
  for (const t of st.trials) for (const k of Object.keys(t.params)) if (!names.includes(k)) names.push(k);
  return [
    { key: "number", label: "#", get: (t) => t.number, num: true },
    { key: "id", label: "id", get: (t) => t.id, num: true },
    { key: "status", label: "status", get: (t) => t.status + (t.cache_hit ? " (cache)" : "") },
    { key: "value", label: st.search.metric, get: (t) => t.value, num: true },
    ...names.map((n) => ({ key: "p:" + n, label: n, get: (t) => t.params[n], num: false })),
    { key: "worker", label: "worker", get: (t) => t.worker },
    { key: "duration", label: "duration", get: (t) => t.duration, num: true, show: duration },
    { key: "error", label: "error", get: (t) => t.error_line },
  ];
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined || a === "") return 1;
  if (b === null || b === undefined || b === "") return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return show(a).localeCompare(show(b), undefined, { numeric: true });
}

function drawTable() {
  const st = app.state;
  if (!st) return;
  const cols = columns(st);
  const table = document.getElementById("trials");
  const head = table.tHead.rows[0];
  clear(head);
  for (const c of cols) {
    const th = el("th", c.label);
    th.dataset.key = c.key;
    if (app.sort.key === c.key) th.className = app.sort.dir > 0 ? "asc" : "desc";
    th.addEventListener("click", () => {
      app.sort = { key: c.key, dir: app.sort.key === c.key ? -app.sort.dir : 1 };
      drawTable();
    });
    head.appendChild(th);
  }
  const select = document.getElementById("status-filter");
  const statuses = [...new Set(st.trials.map((t) => t.status))].sort();
  for (const s of statuses) if (![...select.options].some((o) => o.value === s)) select.appendChild(el("option", s));
  const status = select.value;
  const text = document.getElementById("text-filter").value.trim().toLowerCase();
  const sortCol = cols.find((c) => c.key === app.sort.key) || cols[0];
  const rows = st.trials.filter((t) => (!status || t.status === status) && (!text ||
    [JSON.stringify(t.params), t.worker || "", t.error || "", t.status, String(t.id), String(t.number)]
      .join(" ").toLowerCase().includes(text)));
  rows.sort((a, b) => app.sort.dir * compare(sortCol.get(a), sortCol.get(b)) || a.number - b.number);
  const body = document.createElement("tbody");
  const bestId = st.best ? st.best.id : null;
  for (const t of rows) {
    const tr = el("tr", null, t.id === bestId ? "best" : "");
    tr.dataset.id = t.id;
    for (const c of cols) {
      const v = c.get(t);
      const td = el("td", c.show ? c.show(v) : show(v), c.num ? "num" : "");
      if (c.key === "status") td.className = "status-" + t.status;
      if (c.key === "error" && t.error) td.title = t.error;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  table.replaceChild(body, table.tBodies[0]);
  document.getElementById("shown").textContent = `${rows.length} of ${st.trials.length} trials`;
}

// ------------------------------------------------------------ extra section --
function drawSection(section) {
  const box = document.getElementById("extra-section");
  const same = app.section && section && app.section.trial_id === section.trial_id && app.section.status === section.status;
  if (same) return;
  app.section = section;
  box.hidden = !section;
  if (!section) return;
  document.getElementById("extra-title").textContent = section.title || `Samples of the best model (trial ${section.trial_id})`;
  document.getElementById("extra-status").textContent =
    section.status === "drawing" ? `drawing for trial ${section.trial_id}…` : "";
  // The one HTML the page inserts: Markdown rendered on the server with raw HTML escaped.
  document.getElementById("extra-body").innerHTML = section.html || "";
}

// ------------------------------------------------------------------ polling --
function render() {
  const st = app.state;
  drawProgress(st);
  for (const f of [plotTrials, plotTime, plotGenerations, plotWorkers, plotCurves, plotPareto, plotParams]) {
    try { f(st); } catch (e) { console.warn(f.name, e); }
  }
  drawTable();
}

async function poll() {
  clearTimeout(app.timer);
  const index = app.current;
  try {
    const since = app.version === null ? "" : `?since=${app.version}`;
    const response = await fetch(`/api/state/${index}${since}`, { cache: "no-store" });
    if (!response.ok) {
      let why = `HTTP ${response.status}`;
      try { why = (await response.json()).error || why; } catch (e) { /* not JSON */ }
      throw new Error(why);
    }
    const data = await response.json();
    if (index !== app.current) return;
    if (data.state) {
      app.state = data.state;
      app.stateAt = Date.now() - 1000 * Math.max(0, Date.now() / 1000 - data.state.now);
      app.version = data.version;
      render();
    }
    drawSection(data.section);
    app.lastOk = Date.now();
    const live = document.getElementById("live");
    live.className = "live";
    live.textContent = (app.state.summary.writer ? "live" : "search not running") +
      " · checked " + new Date().toLocaleTimeString();
  } catch (e) {
    const live = document.getElementById("live");
    live.className = "live stale";
    live.textContent = "cannot read the store: " + e.message;
  }
  app.timer = setTimeout(poll, app.refresh);
}

function select(index) {
  app.current = index;
  app.version = null;
  app.section = null;
  document.getElementById("status-filter").value = "";
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", Number(b.dataset.index) === index);
  location.hash = "store-" + index;
  poll();
}

async function start() {
  const config = await (await fetch("/api/config", { cache: "no-store" })).json();
  app.refresh = Math.max(200, 1000 * config.refresh_s);
  app.stores = config.stores;
  const tabs = document.getElementById("tabs");
  for (const s of config.stores) {
    const b = el("button", s.name);
    b.title = s.path;
    b.dataset.index = s.index;
    b.addEventListener("click", () => select(s.index));
    tabs.appendChild(b);
  }
  tabs.hidden = config.stores.length < 2;
  document.getElementById("status-filter").addEventListener("change", drawTable);
  document.getElementById("text-filter").addEventListener("input", drawTable);
  const m = /^#store-(\d+)$/.exec(location.hash);
  select(m && Number(m[1]) < config.stores.length ? Number(m[1]) : 0);
}

start();
