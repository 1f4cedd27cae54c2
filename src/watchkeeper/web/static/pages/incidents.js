// Incidents: the list (open / acknowledged / resolved / all) with MTTA and MTTR over what is
// listed, and one incident (`/ui/incidents?id=<number or id>`) with its alerts and timeline:
// acknowledge, resolve, reopen, assign, comment, merge others into it, split alerts out.
// One page serves both (the page contract loads one page per module); `?id=` picks the view.
import { ago, replace, seriesName } from "../dom.js";

const FILTERS = [
  ["open", "open", ["triggered", "acknowledged"]],
  ["triggered", "triggered", ["triggered"]],
  ["acknowledged", "acknowledged", ["acknowledged"]],
  ["resolved", "resolved", ["resolved"]],
  ["all", "all", []],
];
const PAGE = 50;
const STATS_OVER = 500;

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

/** "4 min", "2.5 h": a duration in seconds for MTTA/MTTR. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function mean(values) {
  const xs = values.filter((v) => v !== null && v !== undefined);
  return xs.length ? { value: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length } : { value: null, n: 0 };
}

function stat(h, label, m, id) {
  return h("div", { class: "count stat", id }, h("strong", {}, duration(m.value)), ` ${label}`, h("span", { class: "muted" }, ` (${m.n} incident${m.n === 1 ? "" : "s"})`));
}

async function renderList(root, ctx) {
  const { h } = ctx;
  let filter = FILTERS.find(([k]) => k === ctx.params.get("status")) ? ctx.params.get("status") : "open";
  let offset = 0;
  const body = h("div", { class: "panel-body", id: "incidents-list" }, "…");
  const stats = h("div", { class: "counts", id: "incident-stats", "aria-live": "polite" });
  const load = async () => {
    try {
      const statuses = FILTERS.find(([k]) => k === filter)[2];
      const q = new URLSearchParams({ limit: PAGE, offset });
      for (const s of statuses) q.append("status", s);
      const answer = await ctx.api("GET", `/incidents?${q}`);
      const rows = answer.incidents;
      replace(body, rows.length
        ? [h("div", { class: "table-wrap" }, h("table", { class: "table stack incidents-table" },
            h("thead", {}, h("tr", {}, ["#", "Severity", "Title", "Status", "Alerts", "Opened", "Ack", "Resolve"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, rows.map((i) => h("tr", { dataset: { incident: i.number, status: i.status } },
              h("td", { class: "num" }, i.number),
              h("td", {}, h("span", { class: `badge sev-${i.severity}` }, i.severity)),
              h("td", { class: "grow" }, h("a", { href: `/ui/incidents?id=${i.number}` }, i.title), i.merged_into ? h("span", { class: "muted" }, " (merged)") : null),
              h("td", {}, h("span", { class: `badge status-${i.status}` }, i.status)),
              h("td", { class: "num", dataset: { label: "alerts" } }, i.alert_count),
              h("td", {}, h("time", { datetime: i.created_at, title: i.created_at }, ago(i.created_at))),
              h("td", { class: "num", dataset: { label: "ack" } }, duration(i.time_to_acknowledge_seconds)),
              h("td", { class: "num", dataset: { label: "resolve" } }, duration(i.time_to_resolve_seconds))))))),
          h("div", { class: "toolbar" },
            offset > 0 ? h("button", { class: "btn", type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Newer") : null,
            answer.next_offset !== null ? h("button", { class: "btn", type: "button", onclick: () => { offset = answer.next_offset; load(); } }, "Older") : null)]
        : h("p", { class: "muted" }, `No ${filter === "all" ? "" : `${filter} `}incidents.`));
    } catch (error) {
      replace(body, h("p", { class: "error", role: "alert" }, error.message));
    }
  };
  // MTTA / MTTR over the latest incidents whatever the filter (an "open" list has no
  // resolve times): the means of the per-incident terms the API computes.
  const loadStats = async () => {
    try {
      const recent = (await ctx.api("GET", `/incidents?limit=${STATS_OVER}`)).incidents.filter((i) => !i.merged_into);
      replace(stats,
        stat(h, "MTTA", mean(recent.map((i) => i.time_to_acknowledge_seconds)), "mtta"),
        stat(h, "MTTR", mean(recent.map((i) => i.time_to_resolve_seconds)), "mttr"),
        h("span", { class: "muted" }, `mean over the latest ${recent.length} incidents`));
    } catch (error) {
      replace(stats, h("p", { class: "error", role: "alert" }, error.message));
    }
  };
  const tabs = h("div", { class: "toolbar", role: "group", "aria-label": "Status" }, FILTERS.map(([k, label]) =>
    h("button", { class: k === filter ? "btn primary" : "btn", type: "button", "aria-pressed": String(k === filter), dataset: { filter: k }, onclick: (event) => {
      filter = k;
      offset = 0;
      for (const b of tabs.children) {
        const on = b === event.currentTarget;
        b.className = on ? "btn primary" : "btn";
        b.setAttribute("aria-pressed", String(on));
      }
      history.replaceState(null, "", `?status=${k}`);
      load();
    } }, label)));
  root.append(h("h1", {}, "Incidents"), tabs, stats, h("section", { class: "card panel", "aria-label": "Incidents" }, body));
  ctx.on("incident", () => Promise.all([load(), loadStats()]));
  await Promise.all([load(), loadStats()]);
}

async function assignField(ctx, incident, act) {
  const { h } = ctx;
  let users = null;
  if (can(ctx, "users:read")) {
    try {
      users = await ctx.api("GET", "/api/v1/users");
    } catch {
      users = null; // fall back to a user id field
    }
  }
  const input = users
    ? h("select", { name: "assignee", "aria-label": "Assignee" }, h("option", { value: "" }, "— unassigned —"), users.map((u) => h("option", { value: u.id, selected: u.id === incident.assignee }, u.username || u.name || u.id)))
    : h("input", { name: "assignee", "aria-label": "Assignee user id", value: incident.assignee || "", maxlength: 32 });
  return h("form", { class: "inline-form", onsubmit: (event) => { event.preventDefault(); act({ assignee: input.value || null }, "Assignee changed"); } },
    h("label", {}, "Assignee ", input), h("button", { class: "btn", type: "submit" }, "Assign"),
    ctx.me?.kind === "user" && incident.assignee !== ctx.me.id ? h("button", { class: "btn", type: "button", onclick: () => act({ assignee: ctx.me.id }, "Assigned to you") }, "Assign to me") : null);
}

async function renderDetail(root, ctx, id) {
  const { h } = ctx;
  const view = h("div", { id: "incident-detail" }, "…");
  root.append(h("p", {}, h("a", { href: "/ui/incidents" }, "← All incidents")), view);
  const error = h("p", { class: "error", role: "alert" });
  const write = can(ctx, "incidents:write");

  const show = async (incident) => {
    const act = async (change, message) => {
      error.textContent = "";
      try {
        await show(await ctx.api("PATCH", `/incidents/${encodeURIComponent(incident.id)}`, change));
        ctx.toast(message);
      } catch (e) {
        error.textContent = e.message;
      }
    };
    const post = async (path, body, message) => {
      error.textContent = "";
      try {
        const answer = await ctx.api("POST", `/incidents/${encodeURIComponent(incident.id)}/${path}`, body);
        await show(answer.source || answer);
        ctx.toast(answer.created ? `${message}: #${answer.created.number}` : message);
      } catch (e) {
        error.textContent = e.message;
      }
    };
    const i = incident;
    const actions = write ? h("div", { class: "toolbar", id: "incident-actions" },
      i.status === "triggered" ? h("button", { class: "btn primary", type: "button", id: "acknowledge", onclick: () => act({ status: "acknowledged" }, "Acknowledged") }, "Acknowledge") : null,
      i.status !== "resolved" ? h("button", { class: "btn", type: "button", id: "resolve", onclick: () => act({ status: "resolved" }, "Resolved") }, "Resolve") : null,
      i.status === "resolved" ? h("button", { class: "btn", type: "button", id: "reopen", onclick: () => act({ status: "triggered" }, "Reopened") }, "Reopen") : null) : null;
    const comment = h("textarea", { name: "comment", rows: 2, maxlength: 10000, required: true, "aria-label": "Comment" });
    const mergeInput = h("input", { name: "merge", maxlength: 2000, placeholder: "e.g. 12, 15", "aria-label": "Incident numbers to merge into this one" });
    const picks = i.alerts.map((a) => h("input", { type: "checkbox", name: "split", value: a.fingerprint, "aria-label": `Split out ${a.alertname}` }));
    const splitTitle = h("input", { name: "split-title", maxlength: 300, placeholder: "title of the new incident (optional)", "aria-label": "Title of the new incident" });
    replace(view,
      h("h1", {}, `#${i.number} ${i.title}`),
      h("div", { class: "toolbar" },
        h("span", { class: `badge sev-${i.severity}` }, i.severity),
        h("span", { class: `badge status-${i.status}`, id: "incident-status" }, i.status),
        h("span", { class: "muted" }, `${i.category} (${i.category_source === "operator" ? "set by an operator" : `classifier, ${Math.round(i.category_confidence * 100)} %`})`),
        i.merged_into ? h("span", { class: "muted" }, `merged into ${i.merged_into}`) : null),
      h("div", { class: "counts" },
        h("div", { class: "count", id: "incident-tta" }, h("strong", {}, duration(i.time_to_acknowledge_seconds)), " to acknowledge"),
        h("div", { class: "count", id: "incident-ttr" }, h("strong", {}, duration(i.time_to_resolve_seconds)), " to resolve"),
        h("div", { class: "count" }, h("strong", {}, i.alert_count), " alerts")),
      h("p", { class: "muted" }, `opened ${new Date(i.created_at).toLocaleString()} · ${i.correlation_reason || ""}`),
      actions,
      write ? await assignField(ctx, i, act) : h("p", {}, `Assignee: ${i.assignee || "nobody"}`),
      error,
      h("div", { class: "grid detail-grid" },
        h("section", { class: "card panel", "aria-labelledby": "tl-title" },
          h("h2", { id: "tl-title" }, "Timeline"),
          h("ol", { class: "timeline", id: "incident-timeline" }, [...i.timeline].reverse().map((e) => h("li", { dataset: { kind: e.kind } },
            h("time", { datetime: e.at, title: e.at }, new Date(e.at).toLocaleString()),
            h("span", { class: "badge" }, e.kind.replace(/_/g, " ")),
            h("span", { class: "muted" }, e.actor),
            h("div", { class: "message" }, e.message)))),
          write ? h("form", { class: "comment-form", onsubmit: (event) => { event.preventDefault(); post("comments", { text: comment.value }, "Comment added"); } },
            h("label", { class: "field" }, "Comment", comment), h("button", { class: "btn", type: "submit" }, "Add comment")) : null),
        h("section", { class: "card panel", "aria-labelledby": "al-title" },
          h("h2", { id: "al-title" }, "Alerts"),
          i.alerts.length
            ? h("ul", { class: "list incident-alerts" }, i.alerts.map((a, k) => h("li", {},
                write && i.alerts.length > 1 ? picks[k] : h("span", {}),
                h("span", { class: "name" }, a.alertname),
                h("span", { class: "muted age" }, a.state),
                h("span", { class: "muted" }, seriesName(a.labels), ` · ${a.reason}`))))
            : h("p", { class: "muted" }, "No alerts."),
          write && i.alerts.length > 1 ? h("form", { class: "inline-form", onsubmit: (event) => {
            event.preventDefault();
            const fingerprints = picks.filter((p) => p.checked).map((p) => p.value);
            if (!fingerprints.length) { error.textContent = "Tick the alerts to move to a new incident."; return; }
            post("split", { fingerprints, title: splitTitle.value.trim() || undefined }, "Split into a new incident");
          } }, splitTitle, h("button", { class: "btn", type: "submit" }, "Split ticked alerts out")) : null,
          write && !i.merged_into ? h("form", { class: "inline-form", onsubmit: (event) => {
            event.preventDefault();
            const incidents = mergeInput.value.split(/[\s,]+/).map((s) => s.replace(/^#/, "")).filter(Boolean);
            if (!incidents.length) { error.textContent = "Name the incidents to merge, e.g. 12, 15."; return; }
            post("merge", { incidents }, "Merged");
          } }, h("label", {}, "Merge into this ", mergeInput), h("button", { class: "btn", type: "submit" }, "Merge")) : null)));
  };

  try {
    await show(await ctx.api("GET", `/incidents/${encodeURIComponent(id)}`));
  } catch (e) {
    replace(view, h("h1", {}, "Incident"), h("p", { class: "error", role: "alert" }, e.message));
  }
}

export default {
  path: "/incidents",
  title: "Incidents",
  nav: true,
  async render(root, ctx) {
    const id = ctx.params.get("id");
    if (id) await renderDetail(root, ctx, id.slice(0, 64));
    else await renderList(root, ctx);
  },
};
