// Native renderers of Grafana panels (time series, stat, gauge, table, heatmap) from the
// dashboard JSON model, over Watchkeeper's Prometheus API. One function per panel kind;
// each gets the panel's body element and the query results, never HTML: every string from
// the server becomes a text node (h()).
import { h, seriesName } from "./dom.js";

export const MAX_SERIES = 50;
export const MAX_ROWS = 200;
const ROW_PX = 30; // Grafana's grid: 30 px per unit of height, 8 px between units
const GAP_PX = 8;

/** A panel's outer height in pixels, from its gridPos.h. */
export function panelHeight(panel) {
  const units = Math.min(Math.max(Number(panel.gridPos?.h) || 8, 1), 60);
  return units * ROW_PX + (units - 1) * GAP_PX;
}

// ---- values and units ------------------------------------------------------------------
const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
const IEC = [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];

function trim(n, digits = 3) {
  return Number(n.toPrecision(digits)).toString();
}

/** `value` formatted in Grafana's `unit` (the common ones; others as plain numbers). */
export function formatValue(value, unit = "short") {
  const v = Number(value);
  if (value === null || value === undefined || Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const abs = Math.abs(v);
  switch (unit) {
    case "percentunit":
      return `${trim(v * 100)} %`;
    case "percent":
      return `${trim(v)} %`;
    case "bytes":
    case "decbytes": {
      for (const [size, suffix] of IEC) if (abs >= size) return `${trim(v / size)} ${suffix}`;
      return `${trim(v)} B`;
    }
    case "Bps":
    case "binBps": {
      for (const [size, suffix] of IEC) if (abs >= size) return `${trim(v / size)} ${suffix}/s`;
      return `${trim(v)} B/s`;
    }
    case "s": {
      if (abs >= 86400) return `${trim(v / 86400)} d`;
      if (abs >= 3600) return `${trim(v / 3600)} h`;
      if (abs >= 60) return `${trim(v / 60)} min`;
      if (abs >= 1 || abs === 0) return `${trim(v)} s`;
      return `${trim(v * 1000)} ms`;
    }
    default: {
      for (const [size, suffix] of SI) if (abs >= size) return `${trim(v / size)}${suffix}`;
      return abs === 0 || abs >= 0.001 ? trim(v, 4) : v.toExponential(2);
    }
  }
}

/** Grafana's `{{label}}` legend format, or the series' name. */
export function legendOf(target, labels) {
  const format = target.legendFormat;
  if (!format || format === "__auto") return seriesName(labels);
  return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name) => labels[name] ?? "");
}

const COLOURS = { green: "good", red: "bad", orange: "warn", yellow: "warn", "dark-red": "bad", "semi-dark-red": "bad" };

/** The colour class ("good", "warn", "bad", "accent") of `value` under the panel's thresholds. */
export function thresholdClass(panel, value) {
  const steps = panel.fieldConfig?.defaults?.thresholds?.steps;
  if (!Array.isArray(steps) || !steps.length || !Number.isFinite(value)) return "accent";
  let colour = steps[0].color;
  for (const step of steps) if (step.value !== null && step.value !== undefined && value >= step.value) colour = step.color;
  return COLOURS[colour] || "accent";
}

function unitOf(panel) {
  return panel.fieldConfig?.defaults?.unit || "short";
}

function noValue(panel) {
  return panel.fieldConfig?.defaults?.noValue || "no data";
}

function empty(panel) {
  return h("p", { class: "muted panel-empty" }, noValue(panel));
}

// ---- renderers ---------------------------------------------------------------------------
// Each takes (body, panel, results, env); results: [{target, result}] with Prometheus'
// `data.result` of each target (a matrix for range targets, a vector for instant ones).
// env: {chart(el, spec), window: {start, end}}.

const BOUND = /^(lo|hi)(\d+)$/;

/** A forecast's `bound="lo80"`/`"hi80"` pair of series, keyed by its other labels. */
function bandKey(labels, level) {
  const rest = Object.entries(labels).filter(([k]) => k !== "bound").sort(([a], [b]) => a.localeCompare(b));
  return `${level}\u0000${JSON.stringify(rest)}`;
}

/**
 * Lines, and forecast intervals as shaded bands: series whose `bound` label is loNN/hiNN
 * (watchkeeper_forecast) pair into one band, as the overview draws its forecast.
 */
function timeSeries(body, panel, results, env) {
  const series = [];
  const pairs = new Map();
  let count = 0;
  for (const { target, result } of results) {
    for (const r of result) {
      if (count >= MAX_SERIES) break;
      count++;
      const labels = r.metric || {};
      const points = (r.values || (r.value ? [r.value] : [])).map(([t, v]) => [t, Number(v)]);
      const bound = BOUND.exec(labels.bound || "");
      if (!bound) {
        series.push({ label: legendOf(target, labels), points });
        continue;
      }
      const key = bandKey(labels, bound[2]);
      const pair = pairs.get(key) || { label: legendOf(target, { ...labels, bound: `${bound[2]} %` }) };
      pair[bound[1]] = points;
      pair[`${bound[1]}Label`] = legendOf(target, labels);
      pairs.set(key, pair);
    }
  }
  const bands = [];
  for (const pair of pairs.values()) {
    if (!pair.lo || !pair.hi) {
      series.push(pair.lo ? { label: pair.loLabel, points: pair.lo } : { label: pair.hiLabel, points: pair.hi });
      continue;
    }
    const high = new Map(pair.hi);
    const points = pair.lo.filter(([t]) => high.has(t)).map(([t, lo]) => [t, lo, high.get(t)]);
    if (points.length) bands.push({ label: pair.label, points });
  }
  const lines = series.filter((s) => s.points.length);
  if (!lines.length && !bands.length) return body.append(empty(panel));
  const el = h("div", { class: "chart" });
  body.append(el);
  const unit = unitOf(panel);
  const height = Math.max(panelHeight(panel) - 110, 80);
  env.chart(el, { series: lines, bands, height, xRange: [env.window.start, env.window.end], yFormat: (v) => formatValue(v, unit) });
}

/** The reduced value of each series of an instant (or range: last non-null) result. */
function reduce(results) {
  const out = [];
  for (const { target, result } of results) {
    for (const r of result) {
      let value = r.value ? Number(r.value[1]) : NaN;
      if (r.values) {
        for (let i = r.values.length - 1; i >= 0; i--) {
          const v = Number(r.values[i][1]);
          if (!Number.isNaN(v)) {
            value = v;
            break;
          }
        }
      }
      out.push({ label: legendOf(target, r.metric || {}), value });
    }
  }
  return out;
}

function stat(body, panel, results) {
  const values = reduce(results).slice(0, 12);
  if (!values.length) return body.append(empty(panel));
  const unit = unitOf(panel);
  body.append(h("div", { class: "stat-values" }, values.map(({ label, value }) => h("div", { class: "stat-value" },
    h("span", { class: `stat-number tone-${thresholdClass(panel, value)}` }, formatValue(value, unit)),
    values.length > 1 ? h("span", { class: "muted stat-label" }, label) : null))));
}

function arc(fraction, tone) {
  // A 240° arc from 150° to 390° (clockwise), in a 100×80 box.
  const cx = 50, cy = 52, r = 40;
  const point = (deg) => [cx + r * Math.cos((deg * Math.PI) / 180), cy + r * Math.sin((deg * Math.PI) / 180)];
  const path = (from, to) => {
    const [x0, y0] = point(from);
    const [x1, y1] = point(to);
    return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${r} ${r} 0 ${to - from > 180 ? 1 : 0} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
  };
  const f = Math.min(Math.max(fraction, 0), 1);
  return h("svg:svg", { viewBox: "0 0 100 80", class: "gauge-svg", "aria-hidden": "true" },
    h("svg:path", { d: path(150, 390), class: "gauge-track" }),
    f > 0.001 ? h("svg:path", { d: path(150, 150 + 240 * f), class: `gauge-fill tone-${tone}` }) : null);
}

function gauge(body, panel, results) {
  const values = reduce(results).slice(0, 6);
  if (!values.length) return body.append(empty(panel));
  const defaults = panel.fieldConfig?.defaults || {};
  const unit = unitOf(panel);
  const low = Number.isFinite(defaults.min) ? defaults.min : 0;
  const high = Number.isFinite(defaults.max) ? defaults.max : unit === "percentunit" ? 1 : 100;
  body.append(h("div", { class: "gauges" }, values.map(({ label, value }) => {
    const tone = thresholdClass(panel, value);
    const fraction = Number.isFinite(value) && high > low ? (value - low) / (high - low) : 0;
    return h("div", { class: "gauge", role: "meter", "aria-valuemin": low, "aria-valuemax": high, "aria-valuenow": Number.isFinite(value) ? value : false, "aria-label": label || panel.title || "gauge" },
      arc(fraction, tone),
      h("span", { class: `gauge-number tone-${tone}` }, formatValue(value, unit)),
      values.length > 1 ? h("span", { class: "muted stat-label" }, label) : null);
  })));
}

/** One row per series, one column per label, a value column per target (Grafana's table). */
function table(body, panel, results) {
  const rows = [];
  const labels = new Set();
  const valueColumns = results.length > 1 ? results.map(({ target }) => `Value #${target.refId || "?"}`) : ["Value"];
  results.forEach(({ result }, i) => {
    for (const r of result) {
      if (rows.length >= MAX_ROWS) break;
      const metric = r.metric || {};
      for (const k of Object.keys(metric)) labels.add(k);
      const last = r.value || (r.values?.length ? r.values[r.values.length - 1] : null);
      rows.push({ metric, column: valueColumns[i], value: last ? Number(last[1]) : NaN });
    }
  });
  if (!rows.length) return body.append(empty(panel));
  const columns = [...labels].sort((a, b) => (a === "__name__" ? -1 : b === "__name__" ? 1 : a.localeCompare(b)));
  const unit = unitOf(panel);
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)), valueColumns.map((c) => h("th", { scope: "col", class: "num" }, c)));
  const bodyRows = rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: "mono" }, row.metric[c] ?? "")),
    valueColumns.map((c) => h("td", { class: "num mono" }, c === row.column ? formatValue(row.value, unit === "short" ? "none" : unit) : ""))));
  body.append(h("div", { class: "table-wrap panel-table" }, h("table", { class: "table" }, h("thead", {}, head), h("tbody", {}, bodyRows))));
}

/**
 * Rows of cells coloured by value, time along x. With `format: heatmap` and `le` labels the
 * cumulative buckets are turned into per-bucket counts, as Grafana's Prometheus source does.
 */
function heatmap(body, panel, results, env) {
  const { target, result } = results[0] || { target: {}, result: [] };
  let rows = result.slice(0, MAX_SERIES).map((r) => ({ label: legendOf(target, r.metric || {}), le: r.metric?.le, values: r.values || [] }));
  rows = rows.filter((r) => r.values.length);
  if (!rows.length) return body.append(empty(panel));
  const times = [...new Set(rows.flatMap((r) => r.values.map((p) => p[0])))].sort((a, b) => a - b);
  const col = new Map(times.map((t, i) => [t, i]));
  let grid = rows.map((r) => {
    const line = new Array(times.length).fill(NaN);
    for (const [t, v] of r.values) line[col.get(t)] = Number(v);
    return line;
  });
  if (target.format === "heatmap" && rows.every((r) => r.le !== undefined)) {
    const le = (r) => (/^\+?Inf$/i.test(r.le) ? Infinity : Number(r.le));
    const order = rows.map((r, i) => i).sort((a, b) => le(rows[a]) - le(rows[b]));
    rows = order.map((i) => rows[i]);
    grid = order.map((i) => grid[i]);
    for (let i = grid.length - 1; i > 0; i--) grid[i] = grid[i].map((v, j) => Math.max(v - (grid[i - 1][j] || 0), 0));
  }
  let max = 0;
  for (const line of grid) for (const v of line) if (Number.isFinite(v) && v > max) max = v;
  const height = Math.max(panelHeight(panel) - 90, 80);
  const canvas = h("canvas", { class: "heatmap-canvas", role: "img", "aria-label": `${panel.title || "heatmap"}: ${rows.length} rows, ${times.length} steps, max ${formatValue(max, unitOf(panel))}` });
  const axis = h("ol", { class: "heatmap-rows muted" }, [...rows].reverse().map((r) => h("li", { title: r.label }, h("span", {}, r.label))));
  body.append(h("div", { class: "heatmap" }, axis, canvas),
    h("p", { class: "muted heatmap-scale" }, `0 → ${formatValue(max, unitOf(panel))} · ${new Date(times[0] * 1000).toISOString().slice(11, 16)}–${new Date(times[times.length - 1] * 1000).toISOString().slice(11, 16)} UTC`));
  const draw = () => {
    const width = Math.max(canvas.clientWidth, 100);
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.height = `${height}px`;
    const c = canvas.getContext("2d");
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--c2").trim() || "#f2a93b";
    const cw = canvas.width / times.length;
    const rh = canvas.height / rows.length;
    c.fillStyle = accent;
    grid.forEach((line, i) => {
      const y0 = Math.round(canvas.height - (i + 1) * rh);
      const y1 = Math.round(canvas.height - i * rh) - (rh > 4 ? 1 : 0); // a hairline between rows
      line.forEach((v, j) => {
        if (!Number.isFinite(v) || v <= 0 || max <= 0) return;
        c.globalAlpha = 0.12 + 0.88 * (v / max);
        const x0 = Math.round(j * cw);
        c.fillRect(x0, y0, Math.round((j + 1) * cw) - x0, y1 - y0);
      });
    });
    c.globalAlpha = 1;
  };
  axis.style.height = `${height}px`;
  requestAnimationFrame(draw);
  env.onResize?.(canvas, draw);
}

export const RENDERERS = { timeseries: timeSeries, graph: timeSeries, stat, gauge, table, heatmap };

/** Whether targets of this panel kind are instant queries when the model does not say. */
export function wantsInstant(panel, target) {
  if (target.instant === true && target.range !== true) return true;
  if (target.range === true) return false;
  return panel.type === "stat" || panel.type === "gauge" || panel.type === "table";
}
