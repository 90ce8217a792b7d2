// NexusForge dashboard: renders /api/state and every server-sent update; the kill switch dialog.
// Data is only ever written with textContent (never parsed as HTML).
"use strict";

const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const PLOT_LAYOUT = {
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#d8dee9", size: 11 },
  margin: { l: 56, r: 12, t: 8, b: 32 }, legend: { orientation: "h", y: -0.18 },
  xaxis: { type: "date", gridcolor: "#2a303a" }, yaxis: { gridcolor: "#2a303a" },
};
let updates = 0;

// A decimal string or number to dp places; "–" for null/NaN (JSON has no NaN).
function num(s, dp) {
  const x = s == null ? NaN : Number(s);
  return Number.isFinite(x) ? x.toFixed(dp) : "–";
}

function time(ms) {
  return ms == null ? "–" : new Date(ms).toLocaleTimeString();
}

// One <tr>: cells are [field, text, className?, exactValue?].
function row(cells, attrs) {
  const tr = document.createElement("tr");
  Object.assign(tr.dataset, attrs || {});
  for (const [field, text, cls, exact] of cells) {
    const td = document.createElement("td");
    td.dataset.field = field;
    td.textContent = text;
    if (cls) td.className = cls;
    if (exact !== undefined) td.title = exact;
    tr.appendChild(td);
  }
  return tr;
}

function fillBody(tableId, rows, empty) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) {
    const cols = $(tableId).tHead.rows[0].cells.length;
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = cols;
    td.className = "muted";
    td.textContent = empty;
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

const signClass = (s) => (Number(s) > 0 ? "pos" : Number(s) < 0 ? "neg" : "");

function renderModels(models) {
  fillBody("models", models.map((m) => row([
    ["slot", String(m.slot)],
    ["name", m.name],
    ["state", m.state, "state-" + m.state],
    ["weight", num(m.weight, 3), "", m.weight],
    ["equity", num(m.equity, 2), "", m.equity],
    ["realized", num(m.realized, 2), signClass(m.realized), m.realized],
    ["unrealized", num(m.unrealized, 2), signClass(m.unrealized), m.unrealized],
    ["fees", num(m.fees, 4), "", m.fees],
    ["inventory", m.inventory, signClass(m.inventory), m.inventory],
    ["avg_entry", num(m.avg_entry, 2), "", m.avg_entry],
    ["drawdown", (100 * Number(m.drawdown_fraction)).toFixed(2) + " %", "", m.drawdown],
    ["fills", String(m.fills)],
    ["orders", String(m.orders)],
  ], { model: m.name })), "no models");
}

function renderCharts(s) {
  if (typeof Plotly === "undefined") return;
  const line = (name, series, dash) => ({
    name, type: "scatter", mode: "lines", line: { dash },
    x: series.map((p) => new Date(p[0])), y: series.map((p) => Number(p[1])),
  });
  // champions solid, shadow challengers dotted: the comparison the Pit Crew decides on
  const equity = [
    ...s.models.map((m) => line(m.name, m.equity_series, "solid")),
    ...s.challengers.map((c) => line(c.name + " (shadow)", c.equity_series, "dot")),
  ];
  Plotly.react("chart-equity", equity, { ...PLOT_LAYOUT, yaxis: { ...PLOT_LAYOUT.yaxis, title: "USDT" } }, PLOT_CONFIG);
  const names = s.models.map((m) => m.name);
  // weights hold until the next CWO round: draw the last ones up to now
  const history = s.weight_history.length
    ? [...s.weight_history, { ...s.weight_history[s.weight_history.length - 1], ts_ms: s.ts_ms }]
    : [];
  const weights = names.map((name) => ({
    name, type: "scatter", mode: "lines", stackgroup: "w", line: { shape: "hv" },
    x: history.map((p) => new Date(p.ts_ms)),
    y: history.map((p) => Number((p.weights.find((w) => w[0] === name) || [name, 0])[1])),
  }));
  Plotly.react("chart-weights", weights, PLOT_LAYOUT, PLOT_CONFIG);
}

function renderVenue(s) {
  const r = s.reconciliation;
  $("recon").textContent = "reconciliation: " + r.status + (r.detail ? " — " + r.detail : "");
  $("recon").className = "status " + ({ ok: "ok", alert: "bad" }[r.status] || "muted");
  fillBody("venues", s.venues.map((v) => row([
    ["name", v.name, "", v.url],
    ["connected", v.connected ? "yes" : "no", v.connected ? "ok" : "bad"],
    ["book", v.book_valid == null ? "–" : v.book_valid ? "valid" : "INVALID", v.book_valid === false ? "bad" : ""],
    ["messages", String(v.messages)],
    ["rate", v.messages_per_s.toFixed(1)],
    ["gaps", String(v.gaps), v.gaps ? "warn" : ""],
    ["reconnects", String(v.reconnects), v.reconnects ? "warn" : ""],
    ["malformed", String(v.malformed), v.malformed ? "warn" : ""],
    ["stale", String(v.stale), v.stale ? "warn" : ""],
  ], { stream: v.name })), s.source === "journal" ? "not recorded in a journal" : "no streams");
  const us = (x) => (x == null ? "–" : (x * 1e6).toFixed(0) + " µs");
  fillBody("latencies", s.latencies.map((h) => row([
    ["name", h.name], ["p50", us(h.percentiles_s.p50)], ["p90", us(h.percentiles_s.p90)],
    ["p99", us(h.percentiles_s.p99)], ["count", String(h.count)],
  ], { latency: h.name })), "no latencies recorded");
}

function renderAlerts(alerts) {
  const items = alerts.map((a) => {
    const li = document.createElement("li");
    li.className = a.level;
    li.textContent = time(a.ts_ms) + " " + a.text;
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "no alerts";
    items.push(li);
  }
  $("alerts").replaceChildren(...items);
}

function renderChallengers(list) {
  fillBody("challengers", list.map((c) => row([
    ["name", c.name], ["champion", c.champion], ["since", time(c.since_ms)],
    ["score", num(c.score, 3)], ["champion_score", num(c.champion_score, 3)],
    ["uplift", c.uplift == null ? "–" : (100 * c.uplift).toFixed(1) + " %", c.uplift > 0.1 ? "ok" : ""],
  ], { challenger: c.name })), "no challengers in shadow mode");
}

function renderActivity(models) {
  const side = (x) => (x > 0 ? "Buy" : x < 0 ? "Sell" : "–");
  const fills = models.flatMap((m) => m.recent_fills.map((f) => ({ ...f, model: m.name })));
  fills.sort((a, b) => b.ts_ms - a.ts_ms);
  fillBody("fills", fills.slice(0, 30).map((f) => row([
    ["time", time(f.ts_ms)], ["model", f.model], ["side", side(f.side), f.side > 0 ? "pos" : "neg"],
    ["qty", f.qty], ["price", f.price], ["fee", f.fee], ["type", f.exec_type],
  ], { execId: f.exec_id })), "no fills yet");
  const orders = models.flatMap((m) => m.recent_orders.map((o) => ({ ...o, model: m.name })));
  orders.sort((a, b) => b.ts_ms - a.ts_ms);
  fillBody("orders", orders.slice(0, 30).map((o) => row([
    ["time", time(o.ts_ms)], ["model", o.model], ["side", side(o.side), o.side > 0 ? "pos" : "neg"],
    ["qty", o.qty], ["reason", o.reason + (o.reduce_only ? " (reduce-only)" : "")],
    ["status", o.status + (Number(o.filled) > 0 && o.status !== "Filled" ? ` (${o.filled} filled)` : "")],
  ], { orderLinkId: o.order_link_id })), "no orders yet");
}

function renderHeader(s) {
  $("source").textContent = s.source;
  $("session").textContent = s.session ? "session " + s.session : "";
  $("updated").textContent = "updated " + time(s.ts_ms);
  const k = s.kill_switch;
  $("kill-state").textContent = k.tripped ? "KILL SWITCH TRIPPED: " + (k.reason || "") : "kill switch: off";
  $("kill-state").className = "badge " + (k.tripped ? "tripped" : "on");
  const open = $("kill-open");
  open.disabled = !s.actions || k.tripped;
  open.title = s.actions ? "" : "read-only: started without a token, or a journal is being read";
}

function render(s) {
  renderHeader(s);
  renderModels(s.models);
  renderCharts(s);
  renderVenue(s);
  renderAlerts(s.alerts);
  renderChallengers(s.challengers);
  renderActivity(s.models);
  updates += 1;
  document.body.dataset.updates = String(updates);
}

function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("state", (ev) => {
    $("link").textContent = "live";
    $("link").className = "badge on";
    render(JSON.parse(ev.data));
  });
  es.onerror = () => {
    $("link").textContent = "reconnecting";
    $("link").className = "badge off";
  };
}

// ---- research reports: the folder's index, refreshed now and then (not on every update) ----

const REPORTS_EVERY_MS = 5000;

function reportRow(r) {
  const tr = row([["kind", r.kind], ["title", ""], ["path", r.path], ["modified", new Date(r.modified_ms).toLocaleString()]],
    { report: r.path });
  const a = document.createElement("a");
  // each path segment encoded; the server resolves it inside the reports folder or refuses
  a.href = "/reports/" + r.path.split("/").map(encodeURIComponent).join("/");
  a.target = "_blank";
  a.rel = "noopener";
  a.textContent = r.title;
  tr.cells[1].appendChild(a);
  return tr;
}

async function loadReports() {
  try {
    const index = await (await fetch("/api/reports")).json();
    $("reports-folder").textContent = index.folder
      ? (index.exists ? "from " : "no folder yet at ") + index.folder : "no reports folder configured";
    fillBody("reports", index.reports.map(reportRow), "no reports yet: write them into the folder");
    document.body.dataset.reports = String(index.reports.length);
  } catch (e) {
    $("reports-folder").textContent = "reports unavailable";
  }
}

// ---- kill switch: arm with the token, then type back the one-time code ----

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "authorization": "Bearer " + $("kill-token").value, "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function resetKillDialog() {
  $("kill-code-label").hidden = true;
  $("kill-confirm").hidden = true;
  $("kill-arm").hidden = false;
  $("kill-step").textContent = "Step 1: arm with your token.";
  $("kill-error").textContent = "";
  $("kill-code-input").value = "";
}

function setupKill() {
  $("kill-open").addEventListener("click", () => { resetKillDialog(); $("kill-dialog").showModal(); });
  $("kill-cancel").addEventListener("click", () => { $("kill-token").value = ""; $("kill-dialog").close(); });
  $("kill-arm").addEventListener("click", async () => {
    try {
      const armed = await post("/api/kill/arm");
      $("kill-code").textContent = armed.code;
      $("kill-code-label").hidden = false;
      $("kill-confirm").hidden = false;
      $("kill-arm").hidden = true;
      $("kill-step").textContent = "Step 2: type the code within " + armed.expires_s + " s.";
      $("kill-error").textContent = "";
    } catch (e) {
      $("kill-error").textContent = e.message;
    }
  });
  $("kill-confirm").addEventListener("click", async () => {
    try {
      await post("/api/kill/confirm", { code: $("kill-code-input").value, reason: $("kill-reason").value });
      $("kill-token").value = "";
      $("kill-dialog").close();
    } catch (e) {
      $("kill-error").textContent = e.message;
      resetKillDialog();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupKill();
  fetch("/api/state").then((r) => r.json()).then(render).catch(() => {});
  connect();
  loadReports();
  setInterval(loadReports, REPORTS_EVERY_MS);
});
