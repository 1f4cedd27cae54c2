// Notifications: receivers (create, test-send), the outbox and its dead letters (retry),
// templates with a live preview, on-call schedules (who now, who next) and escalation
// policies. Each section loads on its own and shows its own error inline.
import { ago, replace } from "../dom.js";
import { guarded, section, table } from "../sections.js";

const STATUSES = ["pending", "sending", "sent", "dead", "expanded", "suppressed"];
const CHANNELS = ["webhook", "slack", "teams", "email", "sms"];
const EXAMPLES = {
  webhook: { url: "https://hooks.example.com/watchkeeper" },
  slack: { webhook_url: "https://hooks.slack.com/services/..." },
  teams: { webhook_url: "https://example.webhook.office.com/..." },
  email: { host: "smtp.example.com", port: 587, from_address: "watchkeeper@example.com", to: ["oncall@example.com"] },
  sms: { account_sid: "AC...", auth_token: "...", from_number: "+15550100", to: ["+15550101"] },
};
const HOUR = 3600_000;
const MAX_SCHEDULES = 30;

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

function describe(integration) {
  const c = integration.config || {};
  const where = c.url || c.webhook_url || (Array.isArray(c.to) ? c.to.join(", ") : "") || c.host || "";
  return where ? `${integration.type} → ${where}` : integration.type;
}

// ---- receivers ------------------------------------------------------------------------
function receivers(ctx, onQueued) {
  const { h } = ctx;
  const body = h("div", { id: "receivers-body" });
  const writable = can(ctx, "receivers:write");
  const error = h("p", { class: "error", id: "receiver-error", role: "alert", hidden: true });

  async function testSend(name, button) {
    button.disabled = true;
    try {
      const row = await ctx.api("POST", `/api/v1/receivers/${encodeURIComponent(name)}/test`, {});
      ctx.toast(`Test message #${row.id} queued for ${name}`);
      await onQueued();
    } catch (err) {
      error.textContent = `Test of ${name}: ${err.message}`;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    const items = await ctx.api("GET", "/api/v1/receivers");
    replace(body, table(h, ["Name", "Integrations", ""], items.map((r) => h("tr", { dataset: { receiver: r.name } },
      h("td", {}, h("span", { class: "name" }, r.name), r.implicit ? h("span", { class: "muted" }, " (from settings)") : null),
      h("td", {}, r.integrations.length ? r.integrations.map((i) => h("div", { class: "mono" }, describe(i))) : h("span", { class: "muted" }, "none")),
      h("td", {}, writable && r.integrations.length ? h("button", { class: "btn test-send", type: "button", onclick: (e) => testSend(r.name, e.currentTarget) }, "Send test") : null))), "No receivers."));
  }

  let form = null;
  if (writable) {
    const name = h("input", { id: "receiver-name", name: "name", required: true, maxlength: 200, autocomplete: "off" });
    const type = h("select", { id: "receiver-type", name: "type" }, CHANNELS.map((c) => h("option", { value: c }, c)));
    const config = h("textarea", { id: "receiver-config", class: "code", rows: 5, maxlength: 20000, spellcheck: "false" });
    const example = () => { config.value = JSON.stringify(EXAMPLES[type.value], null, 2); };
    type.addEventListener("change", example);
    example();
    form = h("form", { class: "receiver-form" },
      h("h3", {}, "New receiver"),
      h("div", { class: "form-row" },
        h("label", { class: "field" }, "Name", name),
        h("label", { class: "field" }, "Type", type)),
      h("label", { class: "field" }, "Configuration (JSON)", config),
      error,
      h("button", { class: "btn primary", type: "submit" }, "Create receiver"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      let parsed;
      try {
        parsed = JSON.parse(config.value);
      } catch (err) {
        error.textContent = `The configuration is not valid JSON: ${err.message}`;
        error.hidden = false;
        return;
      }
      try {
        await ctx.api("POST", "/api/v1/receivers", { name: name.value.trim(), integrations: [{ type: type.value, config: parsed }] });
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        return;
      }
      ctx.toast(`Receiver ${name.value.trim()} created`);
      name.value = "";
      await guarded(ctx, body, load);
    });
  }
  return { el: section(h, "receivers", "Receivers", body, form || error), load: () => guarded(ctx, body, load) };
}

// ---- outbox and dead letters ----------------------------------------------------------
function outbox(ctx) {
  const { h } = ctx;
  const writable = can(ctx, "notifications:write");
  const status = h("select", { id: "outbox-status", "aria-label": "Status" }, h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  const body = h("div", { id: "outbox-body" });
  const deadBody = h("div", { id: "dead-body" });

  function rows(items, withRetry) {
    return items.map((n) => h("tr", { dataset: { notification: n.id } },
      h("td", { class: "num" }, n.id),
      h("td", { title: n.created_at }, ago(n.created_at)),
      h("td", {}, n.channel || "—"), h("td", {}, n.receiver),
      h("td", {}, h("span", { class: `badge status-${n.status}` }, n.status)),
      h("td", { class: "num" }, n.attempts),
      h("td", { class: "muted" }, n.last_error || n.source),
      withRetry ? h("td", {}, writable ? h("button", { class: "btn retry", type: "button", onclick: (e) => retry(n.id, e.currentTarget) }, "Retry") : null) : null));
  }
  const headers = ["#", "Created", "Channel", "Receiver", "Status", "Attempts", "Error / source"];

  async function retry(id, button) {
    button.disabled = true;
    try {
      await ctx.api("POST", `/api/v1/notifications/${id}/retry`);
      ctx.toast(`Notification #${id} queued again`);
      await load();
    } catch (err) {
      deadBody.prepend(h("p", { class: "error", role: "alert" }, `Retry of #${id}: ${err.message}`));
      button.disabled = false;
    }
  }

  async function load() {
    const query = new URLSearchParams({ limit: 50 });
    if (status.value) query.set("status", status.value);
    const [items, dead] = await Promise.all([
      ctx.api("GET", `/api/v1/notifications?${query}`),
      ctx.api("GET", "/api/v1/notifications?status=dead&limit=50"),
    ]);
    replace(body, table(h, headers, rows(items, false), "Nothing in the outbox.", ["Attempts"]));
    replace(deadBody, table(h, [...headers, ""], rows(dead, true), "No dead letters.", ["Attempts"]));
  }
  const reload = () => guarded(ctx, body, load);
  status.addEventListener("change", reload);
  return {
    el: [
      section(h, "outbox", "Outbox", h("div", { class: "toolbar" }, status, h("button", { class: "btn", type: "button", onclick: reload }, "Refresh")), body),
      section(h, "dead-letters", "Dead letters", deadBody),
    ],
    load: reload,
  };
}

// ---- templates with live preview ------------------------------------------------------
function templates(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "templates-body" });
  const picker = h("select", { id: "template-pick", "aria-label": "Template" });
  const subject = h("input", { id: "template-subject", maxlength: 2000, spellcheck: "false", class: "mono" });
  const text = h("textarea", { id: "template-body", class: "code", rows: 8, maxlength: 100000, spellcheck: "false" });
  const error = h("p", { class: "error", id: "template-error", role: "alert", hidden: true });
  const outSubject = h("p", { class: "preview", id: "preview-subject" });
  const outText = h("pre", { class: "preview", id: "preview-text" });
  let list = [];
  let timer = null;
  let seq = 0;

  async function preview() {
    const mine = ++seq;
    const current = list.find((t) => t.id === picker.value);
    if (!current) return;
    try {
      const answer = await ctx.api("POST", "/api/v1/templates/preview", { subject_template: subject.value, body_template: text.value, channels: current.channels, priority: current.priority, variables: current.variables });
      if (mine !== seq) return;
      error.hidden = true;
      outSubject.textContent = answer.subject;
      outText.textContent = answer.text;
    } catch (err) {
      if (mine !== seq) return;
      error.textContent = err.message;
      error.hidden = false;
    }
  }
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  };
  subject.addEventListener("input", schedule);
  text.addEventListener("input", schedule);
  picker.addEventListener("change", () => pick());

  function pick() {
    const current = list.find((t) => t.id === picker.value);
    subject.value = current?.subject_template || "";
    text.value = current?.body_template || "";
    return preview();
  }

  async function load() {
    list = await ctx.api("GET", "/api/v1/templates");
    replace(picker, ...list.map((t) => h("option", { value: t.id }, `${t.name} (${t.id}${t.builtin ? ", built-in" : ""})`)));
    replace(body, 
      h("div", { class: "toolbar" }, picker, h("span", { class: "muted hint" }, "Edits preview against the sample alert; nothing is saved.")),
      h("div", { class: "grid two" },
        h("div", {}, h("label", { class: "field" }, "Subject", subject), h("label", { class: "field" }, "Body", text)),
        h("div", {}, h("h3", {}, "Preview"), error, outSubject, outText)));
    await pick();
  }
  return { el: section(h, "templates", "Templates", body), load: () => guarded(ctx, body, load), destroy: () => clearTimeout(timer) };
}

// ---- on-call schedules and escalation policies ------------------------------------------
/** Wall-clock time of `date` in `zone` as if it were UTC (to do local handoff arithmetic). */
function wallClock(date, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(date).map((p) => [p.type, p.value]));
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
}

/** The next moment the answer may change: a rotation's handoff or an override's edge. */
export function nextChange(schedule, now) {
  const local = wallClock(new Date(now), schedule.timezone || "UTC");
  const candidates = [];
  for (const r of schedule.rotations || []) {
    const start = Date.parse(`${r.start}Z`);
    const length = r.length_hours * HOUR;
    const end = r.end ? Date.parse(`${r.end}Z`) : Infinity;
    const next = local < start ? start : start + (Math.floor((local - start) / length) + 1) * length;
    if (next < end) candidates.push(now + (next - local));
    else if (local < end) candidates.push(now + (end - local));
  }
  for (const o of schedule.overrides || []) {
    for (const edge of [Date.parse(o.start), Date.parse(o.end)]) if (edge > now) candidates.push(edge);
  }
  const future = candidates.filter((t) => Number.isFinite(t) && t > now);
  return future.length ? Math.min(...future) : null;
}

function oncall(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "schedules-body" });
  const policiesBody = h("div", { id: "policies-body" });

  async function row(s) {
    const now = Date.now();
    const current = await ctx.api("GET", `/api/v1/schedules/${encodeURIComponent(s.id)}/oncall`);
    const at = nextChange(s, now);
    const next = at ? await ctx.api("GET", `/api/v1/schedules/${encodeURIComponent(s.id)}/oncall?${new URLSearchParams({ at: new Date(at + 1000).toISOString() })}`) : null;
    return h("tr", { dataset: { schedule: s.name } },
      h("td", {}, h("span", { class: "name" }, s.name), h("div", { class: "muted" }, `${s.timezone} · ${s.rotations.length} rotation${s.rotations.length === 1 ? "" : "s"}${s.overrides.length ? ` · ${s.overrides.length} overrides` : ""}`)),
      h("td", { class: "oncall-now" }, current.users.length ? current.users.join(", ") : h("span", { class: "muted" }, "nobody")),
      h("td", { class: "oncall-next" }, next ? [next.users.join(", ") || "nobody", h("div", { class: "muted", title: new Date(at).toISOString() }, `from ${new Date(at).toLocaleString()}`)] : h("span", { class: "muted" }, "no change ahead")));
  }

  async function loadSchedules() {
    const items = await ctx.api("GET", "/api/v1/schedules");
    const rows = await Promise.all(items.slice(0, MAX_SCHEDULES).map(row)); // two lookups each
    replace(body, table(h, ["Schedule", "On call now", "Next"], rows, "No on-call schedules."),
      items.length > MAX_SCHEDULES ? h("p", { class: "muted" }, `First ${MAX_SCHEDULES} of ${items.length} schedules shown.`) : null);
  }

  function target(t) {
    return `${t.type} ${t.id}`;
  }

  async function loadPolicies() {
    const items = await ctx.api("GET", "/api/v1/escalation-policies");
    replace(policiesBody, table(h, ["Policy", "Takes", "Levels"], items.map((p) => h("tr", { dataset: { policy: p.name } },
      h("td", {}, h("span", { class: "name" }, p.name), h("div", { class: "muted" }, `position ${p.position}${p.repeat ? ` · repeated ${p.repeat}×` : ""}${p.reminder_hours ? ` · reminder every ${p.reminder_hours} h` : ""}`)),
      h("td", {}, `severities: ${p.severities.length ? p.severities.join(", ") : "any"}`, p.matchers.length ? h("div", { class: "mono" }, p.matchers.join(", ")) : null),
      h("td", {}, h("ol", { class: "levels" }, p.levels.map((l) => h("li", {}, `${l.targets.map(target).join(", ")} via ${l.channels.join(", ")}`, h("span", { class: "muted" }, `, then ${l.wait_minutes} min`))))))), "No escalation policies."));
  }

  return {
    el: [section(h, "schedules", "On-call schedules", body), section(h, "policies", "Escalation policies", policiesBody)],
    load: () => Promise.all([guarded(ctx, body, loadSchedules), guarded(ctx, policiesBody, loadPolicies)]),
  };
}

let active = [];

export default {
  path: "/notifications",
  title: "Notifications",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    const box = outbox(ctx);
    const parts = [receivers(ctx, box.load), box, templates(ctx), oncall(ctx)];
    active = parts;
    root.append(h("h1", {}, "Notifications"), h("div", { class: "stack" }, parts.flatMap((p) => p.el)));
    // A burst of deliveries is one reload of the outbox, not one per event.
    let pending = null;
    ctx.on("notification", () => {
      pending ??= setTimeout(() => {
        pending = null;
        box.load();
      }, 1000);
    });
    parts.push({ destroy: () => clearTimeout(pending) });
    await Promise.all(parts.map((p) => p.load?.()));
  },
  destroy() {
    for (const part of active) part.destroy?.();
    active = [];
  },
};
