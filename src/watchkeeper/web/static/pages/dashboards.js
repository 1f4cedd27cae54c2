// Dashboards: the list (/dashboards) and one dashboard rendered natively from its Grafana
// JSON model (/dashboards/:uid): gridPos layout, template variables as selects, a time
// range, refresh. Panel queries go to the Prometheus API with the variables expanded as
// dashboards/variables.py does (dashvars.js); panels are drawn by panels.js.
import { ROOT } from "../api.js";
import { builtins, displayText, initialValue, interpolate, optionsOf, variablesOf } from "../dashvars.js";
import { MAX_SERIES, RENDERERS, wantsInstant } from "../panels.js";

const RANGES = { "15m": 900, "1h": 3600, "3h": 10800, "6h": 21600, "12h": 43200, "24h": 86400, "2d": 172800, "7d": 604800 };
const REFRESH = { off: 0, "10s": 10, "30s": 30, "1m": 60, "5m": 300 };
const MAX_POINTS = 400; // per series and panel: about one per pixel of a half-width panel
const ALL = "$__all";

let timer = null;
let observers = [];

function stopTimers() {
  clearInterval(timer);
  timer = null;
  for (const o of observers) o.disconnect();
  observers = [];
}

function link(uid) {
  return `${ROOT}/ui/dashboards/${encodeURIComponent(uid)}`;
}

// ---- the list ------------------------------------------------------------------------------
/** Delete in two clicks (the first arms the button), so a stray click deletes nothing. */
function deleteButton(ctx, d, item) {
  const { h } = ctx;
  const error = h("span", { class: "error", role: "alert", hidden: true });
  const button = h("button", { class: "btn dash-delete", type: "button", "aria-label": `Delete ${d.title}` }, "Delete");
  let armed = false;
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = "Confirm delete";
      return;
    }
    button.disabled = true;
    try {
      await ctx.api("DELETE", `/dashboards/${encodeURIComponent(d.uid)}`);
      item.remove();
      ctx.toast(`Deleted ${d.title}`);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
  button.addEventListener("blur", () => {
    armed = false;
    button.textContent = "Delete";
  });
  return h("span", { class: "dash-actions" }, button, error);
}

const list = {
  path: "/dashboards",
  title: "Dashboards",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    root.append(h("h1", {}, "Dashboards"));
    let items;
    try {
      items = await ctx.api("GET", "/dashboards");
    } catch (e) {
      root.append(h("p", { class: "error", role: "alert" }, `Cannot list dashboards: ${e.message}`));
      return;
    }
    if (!items.length) {
      root.append(h("p", { class: "muted" }, "No dashboards."));
      return;
    }
    const canWrite = Boolean(ctx.me?.permissions?.includes("dashboards:write"));
    root.append(h("ul", { class: "list dash-list", id: "dashboard-list" }, items.map((d) => {
      const item = h("li", { class: "dash-item", dataset: { uid: d.uid } },
        h("span", { class: `badge ${d.builtin ? "sev-info" : ""}` }, d.builtin ? "built-in" : "custom"),
        h("a", { class: "name", href: link(d.uid) }, d.title),
        h("span", { class: "muted age" }, `v${d.version}`),
        d.tags?.length ? h("span", { class: "muted" }, d.tags.join(" · ")) : null);
      if (canWrite && !d.builtin) item.append(deleteButton(ctx, d, item));
      return item;
    })));
  },
};

// ---- one dashboard -------------------------------------------------------------------------
/** Panels in reading order (y, then x), rows' nested panels after their row. */
function flatten(panels) {
  const out = [];
  for (const p of panels || []) {
    if (!p || typeof p !== "object") continue;
    out.push(p);
    if (p.type === "row" && Array.isArray(p.panels)) out.push(...p.panels.filter((q) => q && typeof q === "object"));
  }
  return out.sort((a, b) => (a.gridPos?.y ?? 0) - (b.gridPos?.y ?? 0) || (a.gridPos?.x ?? 0) - (b.gridPos?.x ?? 0));
}

function place(el, panel) {
  const g = panel.gridPos || {};
  const clamp = (v, lo, hi, d) => Math.min(Math.max(Number.isFinite(v) ? Math.round(v) : d, lo), hi);
  const w = clamp(g.w, 1, 24, 12);
  el.style.setProperty("--x", String(clamp(g.x, 0, 24 - w, 0) + 1));
  el.style.setProperty("--w", String(w));
  el.style.setProperty("--y", String(clamp(g.y, 0, 10000, 0) + 1));
  el.style.setProperty("--h", String(clamp(g.h, 1, 60, 8)));
}

/** Prometheus' answer as a list of {metric, value|values}, whatever its result type. */
function resultOf(answer) {
  const data = answer?.data || {};
  if (data.resultType === "scalar" || data.resultType === "string") return [{ metric: {}, value: data.result }];
  return Array.isArray(data.result) ? data.result : [];
}

const view = {
  path: "/dashboards/:uid",
  title: "Dashboard",
  nav: false,
  async render(root, ctx) {
    const { h } = ctx;
    stopTimers();
    const uid = ctx.params.get("uid");
    root.append(h("p", { class: "crumbs" }, h("a", { href: `${ROOT}/ui/dashboards` }, "Dashboards")));
    let model;
    try {
      model = await ctx.api("GET", `/dashboards/${encodeURIComponent(uid)}`);
    } catch (e) {
      root.append(h("h1", {}, uid), h("p", { class: "error", role: "alert" }, `Cannot load this dashboard: ${e.message}`));
      return;
    }
    document.title = `${model.title || uid} · Watchkeeper`;
    root.append(h("h1", {}, model.title || uid));
    if (model.description) root.append(h("p", { class: "muted dash-description" }, model.description));

    // time range and refresh, from the URL or the model's defaults ("now-6h", "30s")
    const modelRange = /^now-(\w+)$/.exec(model.time?.from || "")?.[1];
    const initialRange = [ctx.params.get("range"), modelRange, "6h"].find((r) => r && Object.hasOwn(RANGES, r));
    const initialRefresh = [ctx.params.get("refresh"), model.refresh, "off"].find((r) => r && Object.hasOwn(REFRESH, r));
    const range = h("select", { id: "dash-range", "aria-label": "Time range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === initialRange }, `last ${r}`)));
    const every = h("select", { id: "dash-refresh", "aria-label": "Auto refresh" }, Object.keys(REFRESH).map((r) => h("option", { value: r, selected: r === initialRefresh }, r === "off" ? "auto refresh off" : `every ${r}`)));
    const refreshBtn = h("button", { class: "btn", id: "dash-refresh-now", type: "button" }, "Refresh");
    const status = h("span", { class: "muted hint", id: "dash-status", "aria-live": "polite" });

    // template variables: one select each, chained in model order
    const vars = variablesOf(model).map((v) => ({ spec: v, values: initialValue(v, ctx.params), select: null, error: null }));
    const chosen = () => Object.fromEntries(vars.map((v) => [v.spec.name, v.values]));
    const varBox = h("div", { class: "toolbar dash-vars" });
    for (const v of vars) {
      v.select = h("select", { id: `var-${v.spec.name}`, name: v.spec.name, "aria-label": v.spec.label || v.spec.name });
      v.error = h("span", { class: "error", role: "alert", hidden: true });
      varBox.append(h("label", { class: "dash-var" }, h("span", { class: "muted" }, v.spec.label || v.spec.name), v.select, v.error));
    }
    root.append(h("div", { class: "card dash-controls" }, vars.length ? varBox : null, h("div", { class: "toolbar" }, range, every, refreshBtn, status)));

    const win = () => {
      const span = RANGES[range.value];
      const end = Math.floor(Date.now() / 1000);
      return { start: end - span, end, span, step: Math.max(Math.ceil(span / MAX_POINTS), 15) };
    };

    async function loadOptions(from = 0) {
      const w = win();
      for (const v of vars.slice(from)) {
        let options = [];
        v.error.hidden = true;
        try {
          options = await optionsOf(v.spec, chosen(), ctx.api, w);
        } catch (e) {
          v.error.textContent = e.message;
          v.error.hidden = false;
        }
        const all = v.spec.includeAll ? [h("option", { value: ALL }, "All")] : [];
        v.values = v.values.filter((x) => options.includes(x)).slice(0, v.spec.multi ? undefined : 1);
        if (!v.values.length && !v.spec.includeAll && options.length) v.values = [options[0]];
        v.select.replaceChildren(...all, ...options.map((o) => h("option", { value: o, selected: v.values[0] === o }, o)));
        v.select.value = v.values[0] ?? ALL;
      }
    }

    // the grid
    const grid = h("div", { class: "dash-grid", id: "dash-grid" });
    root.append(grid);
    const panels = [];
    for (const panel of flatten(model.panels)) {
      if (panel.type === "row") {
        const el = h("h2", { class: "dash-row" }, panel.title || "");
        place(el, { gridPos: { ...panel.gridPos, x: 0, w: 24, h: 1 } });
        grid.append(el);
        continue;
      }
      const body = h("div", { class: "panel-body" });
      const title = h("h3", { class: "panel-title", title: panel.description || false });
      const el = h("section", { class: `card dash-panel panel-${String(panel.type).replace(/[^a-z0-9-]/gi, "")}`, dataset: { panelId: String(panel.id ?? ""), type: String(panel.type), title: String(panel.title ?? "") } }, title, body);
      place(el, panel);
      grid.append(el);
      panels.push({ panel, el, title, body, charts: [] });
    }
    if (!panels.length) grid.append(h("p", { class: "muted" }, "This dashboard has no panels."));

    let generation = 0;
    async function draw(state, w, gen) {
      const { panel, body } = state;
      const shown = displayText(panel.title, chosen());
      state.title.textContent = shown;
      state.el.setAttribute("aria-label", shown || String(panel.type));
      const render = RENDERERS[panel.type];
      if (!render) {
        body.replaceChildren(h("p", { class: "muted panel-unsupported" }, `Panel type "${panel.type}" is not rendered in the console; open this dashboard in Grafana.`));
        return;
      }
      const targets = (Array.isArray(panel.targets) ? panel.targets : []).filter((t) => t && !t.hide && typeof t.expr === "string" && t.expr.trim());
      const intervals = builtins(w.step, w.span);
      let results;
      try {
        results = await Promise.all(targets.map(async (target) => {
          const query = interpolate(target.expr, chosen(), intervals);
          const instant = wantsInstant(panel, target);
          const params = instant ? { query, time: w.end } : { query, start: w.start, end: w.end, step: w.step };
          const answer = await ctx.api("GET", `/api/v1/${instant ? "query" : "query_range"}?${new URLSearchParams(params)}`);
          return { target, result: resultOf(answer) };
        }));
      } catch (e) {
        if (gen !== generation) return;
        body.replaceChildren(h("p", { class: "error panel-error", role: "alert" }, e.message));
        return;
      }
      if (gen !== generation) return; // a newer refresh superseded this one
      for (const c of state.charts.splice(0)) c.destroy();
      body.replaceChildren();
      const env = {
        window: w,
        chart: (el, spec) => {
          const c = ctx.chart(el, spec);
          state.charts.push(c);
          return c;
        },
        onResize: (el, fn) => {
          let width = el.clientWidth;
          const o = new ResizeObserver(() => {
            if (el.clientWidth && el.clientWidth !== width) {
              width = el.clientWidth;
              fn();
            }
          });
          o.observe(el);
          observers.push(o);
        },
      };
      try {
        render(body, panel, results, env);
        const total = results.reduce((n, r) => n + r.result.length, 0);
        if (total > MAX_SERIES && panel.type !== "table") body.append(h("p", { class: "muted note" }, `${total} series, first ${MAX_SERIES} shown`));
      } catch (e) {
        body.replaceChildren(h("p", { class: "error panel-error", role: "alert" }, `Cannot draw this panel: ${e.message}`));
      }
    }

    async function refresh() {
      const gen = ++generation;
      const w = win();
      for (const o of observers.splice(0)) o.disconnect();
      status.textContent = "loading…";
      await Promise.all(panels.map((p) => draw(p, w, gen)));
      if (gen === generation) status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    }

    function syncUrl() {
      const params = new URLSearchParams();
      params.set("range", range.value);
      params.set("refresh", every.value);
      for (const v of vars) for (const value of v.values) params.append(`var-${v.spec.name}`, value);
      history.replaceState(null, "", `${location.pathname}?${params}`);
    }

    function schedule() {
      clearInterval(timer);
      // a hidden tab skips its turns: no queries nobody looks at
      timer = REFRESH[every.value] ? setInterval(() => document.hidden || refresh(), REFRESH[every.value] * 1000) : null;
    }

    vars.forEach((v, i) => {
      v.select.addEventListener("change", async () => {
        v.values = v.select.value === ALL ? [] : [v.select.value];
        await loadOptions(i + 1); // later variables may depend on this one
        syncUrl();
        await refresh();
      });
    });
    range.addEventListener("change", async () => {
      syncUrl();
      await loadOptions();
      await refresh();
    });
    every.addEventListener("change", () => {
      syncUrl();
      schedule();
    });
    refreshBtn.addEventListener("click", () => refresh());

    await loadOptions();
    await refresh();
    schedule();
  },
  destroy() {
    stopTimers();
  },
};

export default list;
export { view };
