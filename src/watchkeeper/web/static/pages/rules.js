// Rules: every rule group with its health and last evaluation, and a YAML editor for a
// group. The server validates (its 4xx message is shown inline, with the line when the YAML
// did not parse); `/ui/rules?new=<expr>` opens the editor with a new rule from Explore.
import { ago, replace } from "../dom.js";

const PLAIN = /^[A-Za-z_/][\w .\/@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

function can(ctx, permission) {
  return !ctx.me?.permissions || ctx.me.permissions.includes(permission);
}

/** A YAML scalar: plain when unambiguous, single-quoted on one line, else JSON (valid YAML). */
function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value !== "string") return String(value);
  if (PLAIN.test(value) && !RESERVED.test(value) && !/ $/.test(value) && !/: | #/.test(value)) return value;
  if (!/[\n\r\t\x00-\x1f]/.test(value)) return `'${value.replaceAll("'", "''")}'`;
  return JSON.stringify(value);
}

/** The group's stored JSON form as readable YAML (block style, keys in stored order). */
export function toYaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value.map((item) => {
      const inner = toYaml(item, `${indent}  `);
      return isBlock(item) ? `${indent}- ${inner.trimStart()}` : `${indent}- ${inner}`;
    }).join("\n");
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
    if (!entries.length) return "{}";
    return entries.map(([k, v]) => {
      const key = scalar(k);
      if (isBlock(v)) return `${indent}${key}:\n${toYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
      return `${indent}${key}: ${toYaml(v, `${indent}  `)}`;
    }).join("\n");
  }
  return scalar(value);
}

function isBlock(value) {
  return value !== null && typeof value === "object" && Object.keys(value).length > 0;
}

function newGroupYaml(expr, taken) {
  let name = "explore";
  for (let i = 2; taken.has(name); i++) name = `explore-${i}`;
  return toYaml({
    name,
    interval: "1m",
    rules: [{ alert: "NewAlert", expr, for: "5m", labels: { severity: "warning" }, annotations: { summary: `${expr} matched` } }],
  }) + "\n";
}

/** "... line 3, column 7 ..." in a YAML parser's message. */
function errorLine(message) {
  const m = /line (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  const end = start + (lines[line - 1] || "").length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  const height = textarea.scrollHeight / Math.max(lines.length, 1);
  textarea.scrollTop = Math.max(0, (line - 3) * height);
}

function healthBadge(h, health) {
  const kind = health === "ok" ? "good" : health === "err" ? "bad" : "unknown";
  return h("span", { class: `badge health-${kind}` }, health);
}

function editor(ctx, onSaved) {
  const { h } = ctx;
  const title = h("h2", { id: "rule-editor-title" }, "");
  const textarea = h("textarea", { id: "rule-yaml", class: "yaml mono", rows: 16, maxlength: 1_000_000, spellcheck: "false", autocomplete: "off", "aria-labelledby": "rule-editor-title", "aria-describedby": "rule-error" });
  const error = h("p", { class: "error", id: "rule-error", role: "alert", hidden: true });
  const save = h("button", { class: "btn primary", id: "rule-save", type: "submit" }, "Save");
  const cancel = h("button", { class: "btn", type: "button", onclick: () => close() }, "Cancel");
  const form = h("form", { class: "card rule-editor", id: "rule-editor", hidden: true }, title, textarea, error,
    h("div", { class: "toolbar" }, save, cancel, h("span", { class: "muted hint" }, "YAML: name, interval, rules (Prometheus rule-file form) · Ctrl+Enter saves, Escape cancels")));
  let target = null; // the group name being replaced, or null for a new group
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === "Escape") {
      close();
    }
  });

  function open(name, text) {
    target = name;
    title.textContent = name ? `Edit group ${name}` : "New rule group";
    textarea.value = text;
    error.hidden = true;
    form.hidden = false;
    form.scrollIntoView?.({ block: "nearest" });
    textarea.focus();
  }
  function close() {
    form.hidden = true;
    error.hidden = true;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const m = /^name:\s*['"]?([^'"\s#]+)/m.exec(textarea.value);
    const name = target || m?.[1];
    error.hidden = true;
    if (!name) {
      error.textContent = "The group needs a top-level `name:`.";
      error.hidden = false;
      return;
    }
    save.disabled = true;
    try {
      const path = `/api/v1/rules/groups/${encodeURIComponent(name)}`;
      await ctx.api(target ? "PUT" : "POST", path, textarea.value, { type: "application/yaml" });
    } catch (err) {
      const line = errorLine(err.message);
      error.textContent = line ? `Line ${line}: ${err.message}` : err.message;
      error.hidden = false;
      if (line) selectLine(textarea, line);
      return;
    } finally {
      save.disabled = false;
    }
    close();
    ctx.toast(`Saved rule group ${name}`);
    await onSaved(name);
  });
  return { form, open };
}

function groupCard(ctx, group, onEdit) {
  const { h } = ctx;
  const writable = group.source === "api" && can(ctx, "rules:write");
  const meta = [
    `every ${group.interval} s`,
    group.lastEvaluation ? `evaluated ${ago(group.lastEvaluation)}` : "not evaluated yet",
    `took ${(group.evaluationTime * 1000).toFixed(1)} ms`,
    group.source === "file" ? `from ${group.file}` : "defined over the API",
  ].join(" · ");
  return h("section", { class: "card rule-group", dataset: { group: group.name }, "aria-label": `Rule group ${group.name}` },
    h("div", { class: "card-head" },
      h("h2", {}, group.name), healthBadge(h, group.health),
      writable ? h("button", { class: "btn edit-group", type: "button", onclick: () => onEdit(group.name) }, "Edit YAML") : null),
    h("p", { class: "muted" }, meta),
    group.lastError ? h("p", { class: "error" }, group.lastError) : null,
    h("div", { class: "table-wrap" }, h("table", { class: "table wide" },
      h("thead", {}, h("tr", {}, ["Rule", "State", "Health", "Query", "Last evaluation"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, group.rules.map((r) => h("tr", { dataset: { rule: r.name } },
        h("td", {}, h("span", { class: "name" }, r.name), h("div", { class: "muted" }, `${r.type === "alerting" ? "alert" : "record"} · ${r.ruleType}`)),
        h("td", {}, r.state ? h("span", { class: `badge state-${r.state}` }, r.state) : "—", r.alerts?.length ? h("span", { class: "muted" }, ` ${r.alerts.length} alert${r.alerts.length > 1 ? "s" : ""}`) : null),
        h("td", {}, healthBadge(h, r.health), r.lastError ? h("div", { class: "error" }, r.lastError) : null),
        h("td", { class: "mono query" }, h("a", { href: `/ui/explore?expr=${encodeURIComponent(r.query)}` }, r.query)),
        h("td", { class: "muted" }, r.lastEvaluation ? ago(r.lastEvaluation) : "never")))))));
}

let refresh = null; // the pending event-driven reload, cancelled when the page is left

export default {
  path: "/rules",
  title: "Rules",
  nav: true,
  async render(root, ctx) {
    const { h } = ctx;
    const list = h("div", { class: "rule-groups", id: "rule-groups" });
    const error = h("p", { class: "error", role: "alert", hidden: true });
    let taken = new Set();
    const edit = editor(ctx, () => {
      // saved: a reload must not open the Explore prefill again
      if (ctx.params.has("new")) history.replaceState(null, "", location.pathname);
      return load();
    });
    const writable = can(ctx, "rules:write");
    const newBtn = writable ? h("button", { class: "btn primary", id: "new-group", type: "button", onclick: () => edit.open(null, newGroupYaml("up == 0", taken)) }, "New group") : null;
    root.append(h("div", { class: "page-head" }, h("h1", {}, "Rules"), newBtn), error, edit.form, list);

    async function openGroup(name) {
      try {
        const doc = await ctx.api("GET", `/api/v1/rules/groups/${encodeURIComponent(name)}`);
        edit.open(name, `${toYaml(doc.group)}\n`);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    }

    async function load() {
      let answer;
      try {
        answer = await ctx.api("GET", "/api/v1/rules");
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        return;
      }
      error.hidden = true;
      const groups = answer.data.groups;
      taken = new Set(groups.map((g) => g.name));
      replace(list, ...(groups.length ? groups.map((g) => groupCard(ctx, g, openGroup)) : [h("p", { class: "muted" }, "No rule groups yet.")]));
    }

    await load();
    // Alert transitions change rule states: refresh the list (not an open editor), once per burst.
    ctx.on("alert", () => {
      refresh ??= setTimeout(() => {
        refresh = null;
        load();
      }, 1000);
    });
    const expr = ctx.params.get("new");
    if (expr && writable) edit.open(null, newGroupYaml(expr.slice(0, 16384), taken));
    else if (expr) {
      error.textContent = "Your role cannot create rules (it lacks rules:write).";
      error.hidden = false;
    }
  },
  destroy() {
    clearTimeout(refresh);
    refresh = null;
  },
};
