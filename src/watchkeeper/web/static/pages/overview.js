// Overview: Watchkeeper's own health, firing alerts by severity, open incidents, recent
// anomalies and key host metrics with a forecast band. New alert, incident and anomaly
// events from the WebSocket refresh their panel without a reload.
import { ago, replace, seriesName } from "../dom.js";

const SEVERITIES = ["critical", "page", "error", "warning", "info"];
const HOST_CHARTS = [
  { title: "Load (1 min)", expr: "node_load1", forecast: true },
  { title: "Memory used %", expr: "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)" },
  { title: "Filesystem used % (max)", expr: 'max(100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}))' },
];
const HISTORY_SECONDS = 3 * 3600;

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

function panel(h, id, title, ...body) {
  return h("section", { class: "card panel", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...body);
}

async function loadHealth(ctx, el) {
  const { h } = ctx;
  const status = await ctx.api("GET", "/system/status");
  const bad = status.components.filter((c) => !c.healthy);
  const good = status.components.filter((c) => c.healthy);
  replace(el,
    h("p", { class: bad.length ? "status bad" : "status good" }, bad.length ? `${bad.length} of ${status.components.length} components unhealthy` : `All ${status.components.length} components healthy`),
    h("p", { class: "muted" }, `v${status.version} · ${status.profile} · up ${uptime(status.uptime_seconds)}`),
    bad.length ? h("ul", { class: "components" }, bad.map((c) => h("li", { class: "bad" }, h("span", { class: "dot", "aria-hidden": "true" }), h("strong", {}, c.name), ` — ${c.detail}`))) : null,
    h("details", {}, h("summary", {}, `${good.length} healthy`),
      h("ul", { class: "components" }, good.map((c) => h("li", { class: "ok", title: c.detail }, h("span", { class: "dot", "aria-hidden": "true" }), c.name)))),
  );
}

function uptime(seconds) {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

async function loadAlerts(ctx, el) {
  const { h } = ctx;
  const answer = await ctx.api("GET", "/api/v1/alerts?state=firing");
  const alerts = answer.data.alerts;
  const counts = new Map();
  for (const a of alerts) {
    const s = a.labels.severity || "none";
    counts.set(s, (counts.get(s) || 0) + 1);
  }
  const order = [...SEVERITIES.filter((s) => counts.has(s)), ...[...counts.keys()].filter((s) => !SEVERITIES.includes(s)).sort()];
  replace(el, 
    h("div", { class: "counts" }, order.length
      ? order.map((s) => h("span", { class: `count sev-${s}` }, h("strong", {}, counts.get(s)), ` ${s}`))
      : h("span", { class: "count sev-none" }, h("strong", {}, "0"), " firing")),
    h("ul", { class: "list alerts" }, alerts.slice(0, 10).map((a) =>
      h("li", { class: "alert-item", dataset: { fingerprint: a.fingerprint } },
        h("span", { class: `badge sev-${a.labels.severity || "none"}` }, a.labels.severity || "—"),
        h("span", { class: "name" }, a.labels.alertname || a.fingerprint),
        h("span", { class: "muted" }, a.annotations.summary || seriesName(a.labels)),
        h("span", { class: "muted age" }, a.startsAt ? ago(a.startsAt) : "")))),
    alerts.length > 10 ? h("p", { class: "muted" }, `and ${alerts.length - 10} more`) : null,
  );
}

async function loadIncidents(ctx, el) {
  const { h } = ctx;
  const answer = await ctx.api("GET", "/incidents?status=triggered&status=acknowledged&limit=10");
  replace(el, 
    h("p", { class: "muted" }, `${answer.total} open`),
    answer.incidents.length
      ? h("ul", { class: "list" }, answer.incidents.map((i) =>
          h("li", {}, h("span", { class: `badge sev-${i.severity}` }, i.severity), h("span", { class: "name" }, `#${i.number} ${i.title}`), h("span", { class: "muted" }, i.status), h("span", { class: "muted age" }, ago(i.created_at)))))
      : h("p", { class: "muted" }, "No open incidents."),
  );
}

async function loadAnomalies(ctx, el) {
  const { h } = ctx;
  const answer = await ctx.api("GET", "/ai/anomalies?limit=8");
  replace(el, answer.items.length
    ? h("ul", { class: "list" }, answer.items.map((a) =>
        h("li", {}, h("span", { class: "badge score" }, a.score.toFixed(2)), h("span", { class: "name" }, a.series), h("span", { class: "muted" }, a.sentence), h("span", { class: "muted age" }, ago(a.at)))))
    : h("p", { class: "muted" }, "No anomalies detected recently."));
}

async function hostChart(ctx, spec, el, note) {
  const end = Math.floor(Date.now() / 1000);
  const start = end - HISTORY_SECONDS;
  const step = Math.max(Math.ceil(HISTORY_SECONDS / 240), 15);
  const q = new URLSearchParams({ query: spec.expr, start, end, step });
  const answer = await ctx.api("GET", `/api/v1/query_range?${q}`);
  const series = answer.data.result.slice(0, 6).map((r) => ({ label: seriesName(r.metric) || spec.title, points: r.values.map(([t, v]) => [t, Number(v)]) }));
  const label = series[0]?.label;
  note.textContent = series.length > 1 ? `${series.length} series` : label && label !== "{}" ? label : "";
  if (!series.length || !series.some((s) => s.points.length)) {
    note.textContent = "No data yet.";
    return;
  }
  const xRange = [start, end];
  const chart = ctx.chart(el, { series, height: 180, legend: false, xRange });
  if (!spec.forecast || !can(ctx, "anomalies:read")) return;
  // The forecast is a model fit: fetched after the chart is on screen, never blocking it.
  const p = new URLSearchParams({ metric: spec.expr, horizon_hours: 1, history_hours: 3, limit: 1 });
  ctx.api("GET", `/ai/predictions?${p}`).then((forecast) => {
    const first = forecast.predictions?.[0];
    const history = first && series.find((s) => s.label === seriesName(first.labels));
    if (!first || !first.points.length || !history) return;
    chart.update({
      series: [history, { label: "forecast", points: first.points.map((x) => [x.t, x.mean]) }],
      bands: [{ label: "80 %", points: first.points.map((x) => [x.t, x.lo80, x.hi80]) }],
      height: 180,
      legend: false,
      xRange: [start, first.points[first.points.length - 1].t],
    });
    note.textContent = `${history.label} · forecast for the next hour, 80 % interval shaded`;
  }).catch((error) => {
    note.textContent = `No forecast: ${error.message}`;
  });
}

/** Run a loader into its panel body; a failure is shown in the panel, not thrown. */
async function fill(ctx, el, loader) {
  try {
    await loader(ctx, el);
  } catch (error) {
    replace(el, ctx.h("p", { class: "error" }, error.message));
  }
}

export default {
  path: "/",
  title: "Overview",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    const bodies = {
      health: h("div", { class: "panel-body" }, "…"),
      alerts: h("div", { class: "panel-body", id: "firing-alerts" }, "…"),
      incidents: h("div", { class: "panel-body" }, "…"),
      anomalies: h("div", { class: "panel-body" }, "…"),
    };
    const grid = h("div", { class: "grid" },
      panel(h, "p-health", "Watchkeeper health", bodies.health),
      can(ctx, "alerts:read") ? panel(h, "p-alerts", "Firing alerts", bodies.alerts) : null,
      can(ctx, "incidents:read") ? panel(h, "p-incidents", "Open incidents", bodies.incidents) : null,
      can(ctx, "anomalies:read") ? panel(h, "p-anomalies", "Recent anomalies", bodies.anomalies) : null);
    const charts = h("div", { class: "grid charts" });
    root.append(h("h1", {}, "Overview"), grid, h("h2", { class: "section" }, "Host"), charts);
    const jobs = [fill(ctx, bodies.health, loadHealth)];
    if (can(ctx, "alerts:read")) {
      jobs.push(fill(ctx, bodies.alerts, loadAlerts));
      ctx.on("alert", () => fill(ctx, bodies.alerts, loadAlerts));
    }
    if (can(ctx, "incidents:read")) {
      jobs.push(fill(ctx, bodies.incidents, loadIncidents));
      ctx.on("incident", () => fill(ctx, bodies.incidents, loadIncidents));
    }
    if (can(ctx, "anomalies:read")) {
      jobs.push(fill(ctx, bodies.anomalies, loadAnomalies));
      ctx.on("anomaly", () => fill(ctx, bodies.anomalies, loadAnomalies));
    }
    if (can(ctx, "metrics:read")) {
      for (const spec of HOST_CHARTS) {
        const el = h("div", { class: "chart" });
        const note = h("p", { class: "muted note" });
        charts.append(h("section", { class: "card panel" }, h("h3", {}, spec.title), el, note));
        jobs.push(hostChart(ctx, spec, el, note).catch((error) => {
          note.textContent = error.message;
        }));
      }
    }
    await Promise.all(jobs);
  },
};
