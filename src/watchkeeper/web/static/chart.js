// ctx.chart(): a thin wrapper over uPlot (vendor/uPlot.iife.min.js, loaded by index.html).
//
// chart(el, {series: [{label, points: [[t, v], ...]}],          t in Unix seconds
//            bands?: [{label, points: [[t, lo, hi], ...]}],    forecast intervals
//            markers?: [{t, label?}],                          anomalies
//            height?: 240, yLabel?: "", legend?: true,
//            xRange?: [start, end],                          the x axis span (default: the data's)
//            yFormat?: (value) => string})                   y axis and legend values (e.g. units)
// returns {update(spec), destroy(), plot}. Colours come from the theme's CSS variables.

const PALETTE = ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6"];
let seq = 0;

function css(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Align every series and band on the union of their timestamps (uPlot wants columns). */
export function align(spec) {
  const series = spec.series || [];
  const bands = spec.bands || [];
  const single = series.length === 1 && bands.length === 0;
  let xs;
  if (single) {
    xs = series[0].points.map((p) => p[0]);
  } else {
    const all = new Set();
    for (const s of series) for (const p of s.points) all.add(p[0]);
    for (const b of bands) for (const p of b.points) all.add(p[0]);
    xs = Float64Array.from(all).sort();
  }
  const index = single ? null : new Map(Array.from(xs, (t, i) => [t, i]));
  const column = (points, pick) => {
    if (single) return points.map(pick);
    const out = new Array(xs.length).fill(null);
    for (const p of points) out[index.get(p[0])] = pick(p);
    return out;
  };
  const data = [Array.from(xs)];
  for (const s of series) data.push(column(s.points, (p) => (p[1] === null ? null : Number(p[1]))));
  for (const b of bands) {
    data.push(column(b.points, (p) => Number(p[1])));
    data.push(column(b.points, (p) => Number(p[2])));
  }
  return data;
}

/** Room for the longest formatted tick label ("97.7 KiB/s"), as uPlot's `axis.size`. */
function yAxisSize(u, values) {
  const longest = Math.max(0, ...(values || []).map((v) => String(v).length));
  return Math.max(40, Math.ceil(longest * 7 + 18));
}

function options(el, spec) {
  const text = css("--fg-muted", "#999");
  const grid = css("--grid", "rgba(128,128,128,.2)");
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const series = [{}];
  (spec.series || []).forEach((s, i) => {
    const value = spec.yFormat ? { value: (u, v) => (v === null || v === undefined ? "--" : spec.yFormat(v)) } : {};
    series.push({ label: s.label, stroke: css(PALETTE[i % PALETTE.length], "#4e9af1"), width: 1, spanGaps: false, ...value });
  });
  const bands = [];
  (spec.bands || []).forEach((b) => {
    const colour = css("--band", "rgba(78,154,241,.18)");
    series.push({ label: `${b.label} low`, stroke: "transparent", width: 0, points: { show: false } });
    series.push({ label: `${b.label} high`, stroke: "transparent", width: 0, points: { show: false } });
    bands.push({ series: [series.length - 1, series.length - 2], fill: colour });
  });
  const markers = spec.markers || [];
  return {
    width: Math.max(el.clientWidth, 200),
    height: spec.height || 240,
    series,
    bands,
    scales: spec.xRange ? { x: { time: true, range: () => spec.xRange } } : undefined,
    axes: [axis, { ...axis, size: 56, label: spec.yLabel || undefined, ...(spec.yFormat ? { size: yAxisSize, values: (u, splits) => splits.map((v) => spec.yFormat(v)) } : {}) }],
    cursor: { focus: { prox: 16 } },
    legend: { show: spec.legend !== false },
    hooks: {
      draw: [
        (u) => {
          if (!markers.length) return;
          const c = u.ctx;
          c.save();
          c.strokeStyle = css("--bad", "#e5484d");
          c.fillStyle = c.strokeStyle;
          c.setLineDash([4, 4]);
          for (const m of markers) {
            const x = Math.round(u.valToPos(m.t, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            c.beginPath();
            c.moveTo(x, u.bbox.top);
            c.lineTo(x, u.bbox.top + u.bbox.height);
            c.stroke();
            c.beginPath();
            c.arc(x, u.bbox.top + 5, 4 * devicePixelRatio, 0, 2 * Math.PI);
            c.fill();
          }
          c.restore();
        },
      ],
    },
  };
}

export function chart(el, spec) {
  if (!window.uPlot) throw new Error("uPlot did not load");
  const id = ++seq;
  performance.mark(`wk:chart:${id}:start`);
  let plot = new window.uPlot(options(el, spec), align(spec), el);
  performance.mark(`wk:chart:${id}:end`);
  performance.measure("wk:chart", `wk:chart:${id}:start`, `wk:chart:${id}:end`);
  let width = el.clientWidth;
  const resize = new ResizeObserver(() => {
    if (el.clientWidth && el.clientWidth !== width) {
      width = el.clientWidth;
      plot.setSize({ width: Math.max(width, 200), height: spec.height || 240 });
    }
  });
  resize.observe(el);
  return {
    get plot() {
      return plot;
    },
    update(next) {
      if (!plot) return;
      plot.destroy();
      spec = next;
      plot = new window.uPlot(options(el, spec), align(spec), el);
    },
    destroy() {
      if (!plot) return; // idempotent: a page and the shell may both destroy it
      resize.disconnect();
      plot.destroy();
      plot = null;
    },
  };
}
