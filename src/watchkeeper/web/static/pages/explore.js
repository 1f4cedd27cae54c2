// Explore: a PromQL editor with completion of metric and label names, a time range, a chart
// (with anomaly markers for a plain selector) and a table; errors shown inline.
import { seriesName } from "../dom.js";

const RANGES = ["15m", "1h", "3h", "6h", "12h", "1d", "2d", "7d"];
const UNIT = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const MAX_POINTS = 1000; // per series; the step follows from the range
const MAX_SERIES = 50;
const SELECTOR = /^[A-Za-z_:][\w:]*(\{[^{}]*\})?$/;
const WORD = /[A-Za-z_:][\w:]*$/;

export function seconds(range) {
  const m = /^(\d{1,4})([smhdw])$/.exec(range || "");
  return m ? Number(m[1]) * UNIT[m[2]] : null;
}

/** Inside `{...}` at the caret? Then complete label names, else metric names. */
function inBraces(text) {
  return text.lastIndexOf("{") > text.lastIndexOf("}");
}

function completer(ctx, textarea, onRun) {
  const { h } = ctx;
  const list = h("ul", { class: "completions", role: "listbox", id: "expr-completions", hidden: true });
  let names = null;
  let labels = null;
  let items = [];
  let selected = 0;
  let word = "";

  const cache = {}; // kind -> Promise of names, fetched once per page
  let seq = 0;

  function vocabulary(kind) {
    const path = kind === "labels" ? "/api/v1/labels" : "/api/v1/label/__name__/values";
    cache[kind] ??= ctx.api("GET", path).then((a) => a.data || [], () => []);
    return cache[kind];
  }

  function close() {
    seq++;
    list.hidden = true;
    items = [];
    textarea.setAttribute("aria-expanded", "false");
  }

  function show() {
    list.replaceChildren(...items.map((item, i) => h("li", { role: "option", id: `completion-${i}`, class: i === selected ? "selected" : "", "aria-selected": String(i === selected), onmousedown: (e) => { e.preventDefault(); accept(i); } }, item)));
    list.hidden = items.length === 0;
    textarea.setAttribute("aria-expanded", String(!list.hidden));
    if (!list.hidden) textarea.setAttribute("aria-activedescendant", `completion-${selected}`);
  }

  function accept(i) {
    const item = items[i];
    const pos = textarea.selectionStart;
    const before = textarea.value.slice(0, pos - word.length);
    textarea.value = before + item + textarea.value.slice(pos);
    const caret = before.length + item.length;
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.focus();
  }

  textarea.addEventListener("input", async () => {
    const mine = ++seq;
    const text = textarea.value.slice(0, textarea.selectionStart);
    const m = WORD.exec(text);
    if (!m) return close();
    const pool = await vocabulary(inBraces(text) ? "labels" : "names");
    if (mine !== seq) return; // a later keystroke (or an accept) superseded this one
    word = m[0];
    const lower = word.toLowerCase();
    items = pool.filter((n) => n.toLowerCase().startsWith(lower) && n !== word).slice(0, 12);
    selected = 0;
    show();
  });
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey || e.shiftKey)) {
      e.preventDefault();
      close();
      onRun();
      return;
    }
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      selected = (selected + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      show();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      accept(selected);
    } else if (e.key === "Escape") {
      close();
    }
  });
  textarea.addEventListener("blur", () => setTimeout(close, 100));
  return list;
}

export default {
  path: "/explore",
  title: "Explore",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    const textarea = h("textarea", { id: "expr", class: "expr", rows: 3, maxlength: 16384, spellcheck: "false", autocomplete: "off", "aria-label": "PromQL expression", "aria-autocomplete": "list", "aria-controls": "expr-completions", "aria-expanded": "false", placeholder: "PromQL, e.g. rate(node_cpu_seconds_total[5m])" });
    textarea.value = ctx.params.get("expr") || "";
    const initial = RANGES.includes(ctx.params.get("range")) ? ctx.params.get("range") : "1h";
    const range = h("select", { id: "range", "aria-label": "Time range" }, RANGES.map((r) => h("option", { value: r, selected: r === initial }, `last ${r}`)));
    const run = h("button", { class: "btn primary", id: "run", type: "submit" }, "Run");
    const rule = h("a", { class: "btn", id: "to-rule", href: "#" }, "Create alert rule from this query");
    const error = h("p", { class: "error", id: "query-error", role: "alert", hidden: true });
    const summary = h("p", { class: "muted", id: "query-summary" });
    const chartEl = h("div", { class: "chart", id: "explore-chart" });
    const chartCard = h("section", { class: "card panel", hidden: true }, chartEl);
    const table = h("table", { class: "table", id: "explore-table" });
    let chart = null;

    const form = h("form", { class: "card explore-form" });
    const execute = () => form.requestSubmit();
    form.append(h("div", { class: "editor" }, textarea, completer(ctx, textarea, execute)),
      h("div", { class: "toolbar" }, range, run, rule, h("span", { class: "muted hint" }, "Ctrl+Enter runs")));
    root.append(h("h1", {}, "Explore"), form, error, summary, chartCard, h("div", { class: "table-wrap" }, table));

    const updateRuleLink = () => {
      rule.href = `${location.pathname.replace(/\/explore$/, "")}/rules?new=${encodeURIComponent(textarea.value.trim())}`;
    };
    textarea.addEventListener("input", updateRuleLink);
    updateRuleLink();

    async function query() {
      const expr = textarea.value.trim();
      error.hidden = true;
      if (!expr) return;
      history.replaceState(null, "", `${location.pathname}?${new URLSearchParams({ expr, range: range.value })}`);
      updateRuleLink();
      const span = seconds(range.value);
      const end = Math.floor(Date.now() / 1000);
      const start = end - span;
      const step = Math.max(Math.ceil(span / MAX_POINTS), 1);
      let answer;
      try {
        answer = await ctx.api("GET", `/api/v1/query_range?${new URLSearchParams({ query: expr, start, end, step })}`);
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        summary.textContent = "";
        return;
      }
      const result = answer.data.result;
      const shown = result.slice(0, MAX_SERIES);
      summary.textContent = `${result.length} series${result.length > MAX_SERIES ? `, first ${MAX_SERIES} shown` : ""} · step ${step} s`;
      const series = shown.map((r) => ({ label: seriesName(r.metric), points: r.values.map(([t, v]) => [t, Number(v)]) }));
      let markers = [];
      if (SELECTOR.test(expr)) {
        try {
          const anomalies = await ctx.api("GET", `/ai/anomalies?${new URLSearchParams({ selector: expr, start, end, limit: 200 })}`);
          markers = anomalies.items.map((a) => ({ t: Date.parse(a.at) / 1000, label: a.sentence }));
        } catch {
          markers = []; // no permission or no detector: the chart stands alone
        }
      }
      chart?.destroy();
      chartEl.replaceChildren();
      chartCard.hidden = false;
      chart = series.length ? ctx.chart(chartEl, { series, markers, height: 300, xRange: [start, end] }) : null;
      if (!series.length) chartEl.append(h("p", { class: "muted" }, "No data in this range."));
      table.replaceChildren(h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Series"), h("th", { scope: "col", class: "num" }, "Last value"), h("th", { scope: "col", class: "num" }, "Points"))),
        h("tbody", {}, shown.map((r) => h("tr", {}, h("td", { class: "mono" }, seriesName(r.metric)), h("td", { class: "num mono" }, r.values.length ? r.values[r.values.length - 1][1] : ""), h("td", { class: "num" }, r.values.length)))));
    }

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      query();
    });
    range.addEventListener("change", execute);
    if (textarea.value) await query();
    else textarea.focus();
  },
};
