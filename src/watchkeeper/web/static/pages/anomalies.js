// Anomalies: the detection loop's events with their score; selecting one draws its series
// around the point with the expected band and the explanation (pattern, deviation,
// contributing features), and takes the operator's verdict (true / false positive).
import { ago, replace } from "../dom.js";

const BEFORE_S = 3600;
const AFTER_S = 1800;
const LABELS = { true_positive: "true positive", false_positive: "false positive" };

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

/** `name{k="v",...}` as a PromQL selector, values escaped. */
export function selector(labels) {
  const esc = (v) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  const name = labels.__name__ || "";
  const rest = Object.entries(labels).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${esc(v)}"`);
  return `${name}{${rest.join(",")}}`;
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString() : Number(v.toPrecision(3)).toString();
}

async function drawSeries(ctx, anomaly, el, note) {
  const at = Date.parse(anomaly.at) / 1000;
  const now = Date.now() / 1000;
  const start = Math.floor(at - BEFORE_S);
  const end = Math.ceil(Math.min(at + AFTER_S, now));
  const step = Math.max(Math.ceil((end - start) / 300), 15);
  const q = new URLSearchParams({ query: selector(anomaly.labels), start, end, step });
  const answer = await ctx.api("GET", `/api/v1/query_range?${q}`);
  const result = answer.data.result[0];
  if (!result || !result.values.length) {
    note.textContent = "No samples of this series around the event (retention may have removed them).";
    return;
  }
  const points = result.values.map(([t, v]) => [t, Number(v)]);
  const e = anomaly.explanation;
  const spec = { series: [{ label: "observed", points }], markers: [{ t: at, label: "anomaly" }], height: 240, xRange: [start, end] };
  if (e.expected !== null && e.band !== null) {
    const lo = e.expected - 3 * e.band;
    const hi = e.expected + 3 * e.band;
    spec.series.push({ label: "expected", points: points.map(([t]) => [t, e.expected]) });
    spec.bands = [{ label: "expected ± 3σ", points: points.map(([t]) => [t, lo, hi]) }];
    note.textContent = `Shaded: expected ${fmt(e.expected)} ± 3σ (σ = ${fmt(e.band)}) for ${e.context}; the dashed line marks the event.`;
  } else {
    note.textContent = "The dashed line marks the event.";
  }
  return ctx.chart(el, spec);
}

function explanation(ctx, a) {
  const { h } = ctx;
  const e = a.explanation;
  const attributions = Object.entries(e.attributions || {}).filter(([, v]) => v !== null).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 8);
  return [
    h("p", { class: "sentence" }, a.sentence),
    h("dl", { class: "facts" },
      h("dt", {}, "Pattern"), h("dd", {}, (e.pattern || a.pattern).replace(/_/g, " ")),
      h("dt", {}, "Observed"), h("dd", {}, `${fmt(e.observed)}${e.unit ? ` ${e.unit}` : ""}`),
      h("dt", {}, "Expected"), h("dd", {}, `${fmt(e.expected)} ± ${fmt(e.band)} (${e.context})`),
      h("dt", {}, "Deviation"), h("dd", {}, e.deviation_sigma === null ? "—" : `${e.deviation_sigma.toFixed(1)}σ`),
      h("dt", {}, "Started"), h("dd", {}, e.started_at ? new Date(e.started_at).toLocaleString() : "—"),
      h("dt", {}, "Detectors"), h("dd", {}, `${(e.detectors_agreeing || []).length} of ${e.detectors_total} agree${(e.detectors_agreeing || []).length ? ` (${e.detectors_agreeing.join(", ")})` : ""}`)),
    attributions.length
      ? [h("h3", {}, "Contributing features"), h("ul", { class: "plain attributions" }, attributions.map(([k, v]) => h("li", {}, h("span", { class: "mono" }, k), ` ${v >= 0 ? "+" : ""}${v.toFixed(2)}`)))]
      : null,
  ];
}

function feedbackBar(ctx, a, onChange) {
  const { h } = ctx;
  const status = h("span", { class: "muted", id: "feedback-status", "aria-live": "polite" }, a.feedback ? `Marked ${LABELS[a.feedback.label]} by ${a.feedback.by}` : "Not reviewed yet");
  const error = h("span", { class: "error", role: "alert" });
  const send = async (method, body) => {
    error.textContent = "";
    try {
      const answer = await ctx.api(method, `/ai/anomalies/${encodeURIComponent(a.id)}/feedback`, body);
      a.feedback = answer;
      onChange();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  if (!can(ctx, "anomalies:feedback")) return h("div", { class: "toolbar" }, status);
  return h("div", { class: "toolbar feedback" },
    Object.entries(LABELS).map(([label, text]) => h("button", {
      class: a.feedback?.label === label ? "btn primary" : "btn",
      type: "button",
      dataset: { label },
      "aria-pressed": String(a.feedback?.label === label),
      onclick: () => send("POST", { label }),
    }, text)),
    a.feedback ? h("button", { class: "btn", type: "button", dataset: { label: "undo" }, onclick: () => send("DELETE") }, "Undo") : null,
    status, error);
}

export default {
  path: "/anomalies",
  title: "Anomalies",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    const list = h("div", { class: "panel-body", id: "anomalies-list" }, "…");
    const detail = h("section", { class: "card panel", id: "anomaly-detail", "aria-live": "polite", hidden: true });
    const minScore = h("select", { name: "min_score", "aria-label": "Minimum score" }, [["", "any score"], ["0.5", "≥ 0.5"], ["0.8", "≥ 0.8"], ["0.95", "≥ 0.95"]].map(([v, t]) => h("option", { value: v }, t)));
    let items = [];
    let selected = ctx.params.get("id");
    let chartHandle = null;

    const select = (a) => {
      selected = a.id;
      for (const row of list.querySelectorAll("tr[data-anomaly]")) row.setAttribute("aria-selected", String(row.dataset.anomaly === a.id));
      chartHandle?.destroy();
      const chartEl = h("div", { class: "chart" });
      const note = h("p", { class: "muted note" });
      const redraw = () => replace(bar, feedbackBar(ctx, a, redrawRow));
      const redrawRow = () => {
        redraw();
        const cell = list.querySelector(`tr[data-anomaly="${CSS.escape(a.id)}"] .verdict`);
        if (cell) cell.textContent = a.feedback ? LABELS[a.feedback.label] : "";
      };
      const bar = h("div");
      redraw();
      detail.hidden = false;
      replace(detail, h("h2", {}, a.series), h("p", { class: "muted" }, `${new Date(a.at).toLocaleString()} · ${a.detector} · score ${a.score.toFixed(2)}`), chartEl, note, explanation(ctx, a), bar);
      drawSeries(ctx, a, chartEl, note).then((c) => {
        chartHandle = c || null;
      }).catch((error) => {
        note.textContent = error.message;
      });
    };

    const load = async () => {
      try {
        const q = new URLSearchParams({ limit: 100 });
        if (minScore.value) q.set("min_score", minScore.value);
        items = (await ctx.api("GET", `/ai/anomalies?${q}`)).items;
      } catch (error) {
        replace(list, h("p", { class: "error", role: "alert" }, error.message));
        return;
      }
      if (!items.length) {
        replace(list, h("p", { class: "muted" }, "No anomalies detected."));
        return;
      }
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "table stack anomalies-table" },
        h("thead", {}, h("tr", {}, ["Score", "Series", "Pattern", "When", "Verdict"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, items.map((a) => h("tr", { dataset: { anomaly: a.id }, "aria-selected": String(a.id === selected) },
          h("td", { class: "num" }, h("span", { class: "badge score" }, a.score.toFixed(2))),
          h("td", { class: "grow" }, h("button", { class: "linkish", type: "button", onclick: () => select(a) }, a.series)),
          h("td", {}, a.pattern.replace(/_/g, " ")),
          h("td", {}, h("time", { datetime: a.at, title: a.at }, ago(a.at))),
          h("td", { class: "verdict muted" }, a.feedback ? LABELS[a.feedback.label] : "")))))));
      const again = items.find((a) => a.id === selected);
      if (again) select(again);
    };
    minScore.addEventListener("change", load);
    root.append(
      h("h1", {}, "Anomalies"),
      h("div", { class: "toolbar" }, h("label", {}, "Show ", minScore), h("button", { class: "btn", type: "button", onclick: load }, "Refresh")),
      h("div", { class: "grid anomalies-grid" }, h("section", { class: "card panel", "aria-label": "Anomalies" }, list), detail));
    ctx.on("anomaly", () => load());
    await load();
  },
};
