// Alerts: pending and firing alerts with labels, mute status and state history; a silence
// from an alert (its labels prefilled as matchers); the silences with expire; and the route
// test (which receiver an alert with given labels reaches, and why).
import { ago, replace } from "../dom.js";

const DURATIONS = [["1h", 3600], ["2h", 7200], ["4h", 14400], ["12h", 43200], ["1d", 86400], ["7d", 604800]];
// Labels that identify the alert; "severity" and friends are usually left out of a silence.
const SKIP_IN_MATCHERS = new Set(["severity"]);

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

function labelChips(h, labels) {
  return h("span", { class: "labels" }, Object.entries(labels).filter(([k]) => k !== "alertname").map(([k, v]) => h("span", { class: "label mono" }, `${k}=${v}`)));
}

function muteText(alert) {
  const s = alert.status;
  if (!s || s.state !== "suppressed") return "active";
  const parts = [];
  if (s.silencedBy.length) parts.push(`silenced (${s.silencedBy.length})`);
  if (s.inhibitedBy.length) parts.push("inhibited");
  return parts.join(", ") || "suppressed";
}

async function loadHistory(ctx, alert, el) {
  const { h } = ctx;
  try {
    const answer = await ctx.api("GET", `/api/v1/alerts/${encodeURIComponent(alert.fingerprint)}`);
    const d = answer.data;
    replace(el,
      h("p", { class: "muted" }, `rule ${d.rule} in group ${d.group} · value ${d.value}`, d.flapping ? " · flapping" : ""),
      Object.keys(d.annotations).length
        ? h("dl", { class: "annotations" }, Object.entries(d.annotations).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))
        : null,
      h("h4", {}, "State history"),
      d.history.length
        ? h("ol", { class: "timeline" }, d.history.map((t) => h("li", {}, h("time", { datetime: t.at, title: t.at }, ago(t.at)), ` ${t.from} → ${t.to}`, h("span", { class: "muted" }, ` value ${t.value}`))))
        : h("p", { class: "muted" }, "No state changes recorded."));
  } catch (error) {
    replace(el, h("p", { class: "error", role: "alert" }, error.message));
  }
}

function silenceDialog(ctx, alert, onDone) {
  const { h } = ctx;
  const rows = h("div", { class: "matchers" });
  const addRow = (name = "", value = "") => {
    const row = h("div", { class: "matcher-row" },
      h("input", { name: "matcher-name", "aria-label": "Label name", value: name, maxlength: 200, required: true }),
      h("span", { "aria-hidden": "true" }, "="),
      h("input", { name: "matcher-value", "aria-label": "Label value", value, maxlength: 1000 }),
      h("button", { class: "btn icon", type: "button", "aria-label": `Remove matcher ${name}`, onclick: () => row.remove() }, "×"));
    rows.append(row);
  };
  for (const [k, v] of Object.entries(alert.labels)) if (!SKIP_IN_MATCHERS.has(k)) addRow(k, v);
  const duration = h("select", { name: "duration", "aria-label": "Duration" }, DURATIONS.map(([label, s]) => h("option", { value: s, selected: s === 7200 }, label)));
  const comment = h("input", { name: "comment", maxlength: 10000, required: true, value: `silenced from the console: ${alert.labels.alertname || alert.fingerprint}` });
  const error = h("p", { class: "error", role: "alert" });
  const dialog = h("dialog", { class: "dialog wide", "aria-label": "New silence" });
  const submit = h("button", { class: "btn primary", type: "submit" }, "Create silence");
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    const matchers = [...rows.querySelectorAll(".matcher-row")].map((r) => ({
      name: r.querySelector("[name=matcher-name]").value.trim(),
      value: r.querySelector("[name=matcher-value]").value,
      isRegex: false,
      isEqual: true,
    }));
    if (!matchers.length) {
      error.textContent = "A silence needs at least one matcher.";
      return;
    }
    const now = Date.now();
    submit.disabled = true;
    try {
      const answer = await ctx.api("POST", "/api/v2/silences", {
        matchers,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + Number(duration.value) * 1000).toISOString(),
        comment: comment.value,
      });
      dialog.close();
      ctx.toast(`Silence ${answer.silenceID} created`);
      onDone();
    } catch (e) {
      error.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, `Silence ${alert.labels.alertname || alert.fingerprint}`),
  h("p", { class: "muted" }, "Alerts whose labels equal all of these are muted."),
  rows,
  h("button", { class: "btn", type: "button", onclick: () => addRow() }, "Add matcher"),
  h("label", { class: "field" }, "Duration", duration),
  h("label", { class: "field" }, "Comment", comment),
  error,
  h("div", { class: "toolbar" }, submit, h("button", { class: "btn", type: "button", onclick: () => dialog.close() }, "Cancel")));
  dialog.append(form);
  dialog.addEventListener("close", () => dialog.remove());
  return dialog;
}

async function loadAlerts(ctx, state, el, onRoute) {
  const { h } = ctx;
  const q = new URLSearchParams();
  if (state) q.append("state", state);
  const answer = await ctx.api("GET", `/api/v1/alerts?${q}`);
  const alerts = answer.data.alerts;
  if (!alerts.length) {
    replace(el, h("p", { class: "muted" }, "No pending or firing alerts."));
    return;
  }
  const tbody = h("tbody");
  for (const a of alerts) {
    const detail = h("tr", { class: "detail", hidden: true }, h("td", { colspan: 6 }, h("div", { class: "history" }, "…")));
    const toggle = h("button", { class: "btn", type: "button", "aria-expanded": "false", onclick: () => {
      const open = detail.hidden;
      detail.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) loadHistory(ctx, a, detail.querySelector(".history"));
    } }, "History");
    const actions = h("td", { class: "actions" }, toggle,
      can(ctx, "silences:write") ? h("button", { class: "btn silence", type: "button", onclick: () => {
        const dialog = silenceDialog(ctx, a, () => el.dispatchEvent(new CustomEvent("changed")));
        document.body.append(dialog);
        dialog.showModal();
      } }, "Silence") : null,
      h("button", { class: "btn route", type: "button", onclick: () => onRoute(a.labels) }, "Route"));
    const suppressed = a.status?.state === "suppressed";
    tbody.append(
      h("tr", { class: "alert-row", dataset: { fingerprint: a.fingerprint, state: a.state, mute: a.status?.state || "" } },
        h("td", {}, h("span", { class: `badge state-${a.state}` }, a.state)),
        h("td", {}, h("span", { class: `badge sev-${a.labels.severity || "none"}` }, a.labels.severity || "—")),
        h("td", { class: "grow" }, h("span", { class: "name" }, a.labels.alertname || a.fingerprint), h("div", { class: "muted" }, a.annotations.summary || ""), labelChips(h, a.labels)),
        h("td", { class: "muted" }, h("time", { datetime: a.startsAt || a.activeAt, title: a.startsAt || a.activeAt }, ago(a.startsAt || a.activeAt))),
        h("td", { class: suppressed ? "muted mute" : "mute" }, muteText(a)),
        actions),
      detail);
  }
  replace(el, h("div", { class: "table-wrap" }, h("table", { class: "table stack alerts-table" },
    h("thead", {}, h("tr", {}, ["State", "Severity", "Alert", "Since", "Notifications", ""].map((t) => h("th", { scope: "col" }, t)))),
    tbody)));
}

function matcherText(m) {
  const op = m.isRegex ? (m.isEqual ? "=~" : "!~") : (m.isEqual ? "=" : "!=");
  return `${m.name}${op}"${m.value}"`;
}

async function loadSilences(ctx, el) {
  const { h } = ctx;
  const silences = await ctx.api("GET", "/api/v2/silences");
  const shown = silences.filter((s) => s.status.state !== "expired").concat(silences.filter((s) => s.status.state === "expired").slice(0, 10));
  if (!shown.length) {
    replace(el, h("p", { class: "muted" }, "No silences."));
    return;
  }
  replace(el, h("div", { class: "table-wrap" }, h("table", { class: "table stack silences-table" },
    h("thead", {}, h("tr", {}, ["State", "Matchers", "Ends", "By", "Comment", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, shown.map((s) => h("tr", { dataset: { silence: s.id, state: s.status.state } },
      h("td", {}, h("span", { class: `badge silence-${s.status.state}` }, s.status.state)),
      h("td", { class: "mono grow" }, s.matchers.map(matcherText).join(", ")),
      h("td", {}, h("time", { datetime: s.endsAt, title: s.endsAt }, new Date(s.endsAt).toLocaleString())),
      h("td", {}, s.createdBy),
      h("td", { class: "grow" }, s.comment),
      h("td", {}, s.status.state !== "expired" && can(ctx, "silences:write")
        ? h("button", { class: "btn expire", type: "button", onclick: async (event) => {
          event.target.disabled = true;
          try {
            await ctx.api("DELETE", `/api/v2/silence/${encodeURIComponent(s.id)}`);
            ctx.toast("Silence expired");
            el.dispatchEvent(new CustomEvent("changed"));
          } catch (error) {
            ctx.toast(error.message);
            event.target.disabled = false;
          }
        } }, "Expire")
        : null)))))));
}

function parseLabels(text) {
  const labels = {};
  for (const line of text.split(/[\n,]/)) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf("=");
    if (i <= 0) throw new Error(`"${t}" is not name=value`);
    labels[t.slice(0, i).trim()] = t.slice(i + 1).trim().replace(/^"(.*)"$/, "$1");
  }
  return labels;
}

function routeTest(ctx) {
  const { h } = ctx;
  const input = h("textarea", { name: "route-labels", class: "mono", rows: 3, maxlength: 20000, "aria-label": "Alert labels, one name=value per line" });
  const out = h("div", { class: "route-result", "aria-live": "polite" });
  const run = async () => {
    let labels;
    try {
      labels = parseLabels(input.value);
    } catch (error) {
      replace(out, h("p", { class: "error", role: "alert" }, error.message));
      return;
    }
    try {
      const a = await ctx.api("POST", "/api/v1/alerts/route-test", { labels });
      replace(out,
        h("p", { class: a.would_notify ? "status good" : "status bad" }, a.would_notify ? "Would be notified now" : "Would NOT be notified now"),
        h("h4", {}, "Receivers"),
        h("ul", { class: "plain" }, a.routes.map((r) => h("li", { class: "route-receiver" }, h("strong", {}, r.receiver), h("span", { class: "muted" }, ` via ${r.route === "route" ? "the root route" : `route ${r.route}`} · group by ${(r.group_by || []).join(", ") || "—"} · wait ${r.group_wait}s, interval ${r.group_interval}s, repeat ${r.repeat_interval}s`), r.time_muted ? h("span", { class: "muted" }, " · muted by a time interval now") : null))),
        h("h4", {}, "Why"),
        h("ol", { class: "plain steps" }, a.steps.filter((s) => s.evaluated).map((s) => h("li", { class: s.matched ? "ok" : "no" },
          `${"· ".repeat(s.depth)}${s.route} → ${s.receiver}: ${s.matched ? "matched" : "did not match"}`,
          s.matchers.length ? h("span", { class: "muted mono" }, ` (${s.matchers.map((m) => `${m.matcher} ${m.matched ? "✓" : "✗"}`).join(", ")})`) : h("span", { class: "muted" }, " (no matchers)"),
          s.matched && s.continue ? h("span", { class: "muted" }, " · continue") : null))),
        a.muted_by.length ? [h("h4", {}, "Muted by"), h("ul", { class: "plain" }, a.muted_by.map((m) => h("li", {}, m.kind, m.silence_ids?.length ? ` ${m.silence_ids.join(", ")}` : "", m.inhibit_rule != null ? ` rule ${JSON.stringify(m.inhibit_rule)}` : "")))] : null);
    } catch (error) {
      replace(out, h("p", { class: "error", role: "alert" }, error.message));
    }
  };
  const section = h("section", { class: "card panel", id: "route-test", "aria-labelledby": "route-test-title" },
    h("h2", { id: "route-test-title" }, "Route test"),
    h("p", { class: "muted" }, "Labels of an alert, one name=value per line: which receivers get it, and why."),
    h("form", { onsubmit: (event) => { event.preventDefault(); run(); } }, input, h("div", { class: "toolbar" }, h("button", { class: "btn primary", type: "submit" }, "Test route"))),
    out);
  return { section, fill(labels) { input.value = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join("\n"); run(); section.scrollIntoView({ block: "nearest" }); } };
}

export default {
  path: "/alerts",
  title: "Alerts",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    let state = ctx.params.get("state") || "";
    const alertsEl = h("div", { class: "panel-body", id: "alerts-list" }, "…");
    const silencesEl = h("div", { class: "panel-body", id: "silences-list" }, "…");
    const show = (el, loader) => loader().catch((error) => replace(el, h("p", { class: "error", role: "alert" }, error.message)));
    const reloadAlerts = () => show(alertsEl, () => loadAlerts(ctx, state, alertsEl, (labels) => route.fill(labels)));
    const reloadSilences = () => show(silencesEl, () => loadSilences(ctx, silencesEl));
    const filter = h("select", { name: "state", "aria-label": "State", onchange: () => { state = filter.value; reloadAlerts(); } },
      [["", "pending and firing"], ["firing", "firing"], ["pending", "pending"]].map(([v, t]) => h("option", { value: v, selected: v === state }, t)));
    const route = routeTest(ctx);
    alertsEl.addEventListener("changed", () => { reloadAlerts(); if (can(ctx, "silences:read")) reloadSilences(); });
    silencesEl.addEventListener("changed", () => { reloadSilences(); reloadAlerts(); });
    replace(root,
      h("h1", {}, "Alerts"),
      h("div", { class: "toolbar" }, h("label", {}, "Show ", filter), h("button", { class: "btn", type: "button", onclick: reloadAlerts }, "Refresh")),
      h("section", { class: "card panel", "aria-label": "Alerts" }, alertsEl),
      can(ctx, "silences:read") ? [h("h2", { class: "section" }, "Silences"), h("section", { class: "card panel", "aria-label": "Silences" }, silencesEl)] : null,
      h("h2", { class: "section" }, "Routing"),
      route.section);
    ctx.on("alert", () => reloadAlerts());
    await Promise.all([reloadAlerts(), can(ctx, "silences:read") ? reloadSilences() : null]);
  },
};
