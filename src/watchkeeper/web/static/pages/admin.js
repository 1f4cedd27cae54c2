// Admin: users, API keys (a new key's secret is shown once), tenants, the audit trail with
// its verification, and the running configuration (view; change with the server's
// validation shown inline). Each section appears only when `ctx.me` has its permission.
import { ago, replace } from "../dom.js";
import { guarded, section, table } from "../sections.js";

const SCOPES = ["ingest", "read", "write", "admin"];
const AUDIT_PAGE = 50;
const ROLES = ["viewer", "editor", "admin"];
// In the nav for these; `tenant:read` alone (every viewer has it) does not make an admin.
const ADMIN = ["users:read", "apikeys:read", "audit:read", "config:read"];

function has(me, permission) {
  return Boolean(me?.permissions?.includes(permission));
}

function when(h, iso) {
  return iso ? h("span", { title: iso }, ago(iso)) : h("span", { class: "muted" }, "—");
}

function users(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "users-body" });
  const writable = has(ctx.me, "users:write");
  const error = h("p", { class: "error", id: "user-error", role: "alert", hidden: true });

  async function change(user, patch, what) {
    error.hidden = true;
    try {
      await ctx.api("PATCH", `/api/v1/users/${encodeURIComponent(user.id)}`, patch);
      ctx.toast(`${user.username}: ${what}`);
    } catch (err) {
      error.textContent = `${user.username}: ${err.message}`;
      error.hidden = false;
    }
    await load();
  }

  function controls(u) {
    if (!writable || u.username === ctx.me?.name) return [h("span", { class: "badge" }, u.role), null];
    const role = h("select", { "aria-label": `Role of ${u.username}`, class: "user-role", onchange: (e) => change(u, { role: e.currentTarget.value }, `role ${e.currentTarget.value}`) },
      ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
    const toggle = h("button", { class: "btn user-toggle", type: "button", onclick: () => change(u, { disabled: !u.disabled }, u.disabled ? "enabled" : "disabled") }, u.disabled ? "Enable" : "Disable");
    return [role, toggle];
  }

  async function load() {
    const items = await ctx.api("GET", "/api/v1/users");
    replace(body, table(h, ["User", "E-mail", "Role", "State", "Created"], items.map((u) => {
      const [role, toggle] = controls(u);
      return h("tr", { dataset: { user: u.username } },
        h("td", { class: "name" }, u.username), h("td", {}, u.email || ""), h("td", {}, role),
        h("td", {}, u.disabled ? h("span", { class: "badge health-bad" }, "disabled") : "active", toggle ? [" ", toggle] : null), h("td", {}, when(h, u.created_at)));
    }), "No users."));
  }

  let form = null;
  if (writable) {
    const name = h("input", { id: "user-name", required: true, maxlength: 64, autocomplete: "off" });
    const password = h("input", { id: "user-password", type: "password", required: true, maxlength: 1024, autocomplete: "new-password" });
    const email = h("input", { id: "user-email", type: "email", maxlength: 254, autocomplete: "off" });
    const role = h("select", { id: "user-role" }, ROLES.map((r) => h("option", { value: r }, r)));
    form = h("form", { class: "user-form" },
      h("h3", {}, "Add a user"),
      h("div", { class: "form-row" },
        h("label", { class: "field" }, "Username", name),
        h("label", { class: "field" }, "Initial password", password),
        h("label", { class: "field" }, "E-mail (optional)", email),
        h("label", { class: "field" }, "Role", role),
        h("button", { class: "btn primary", type: "submit" }, "Add user")),
      error);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      const request = { username: name.value.trim(), password: password.value, role: role.value };
      if (email.value.trim()) request.email = email.value.trim();
      try {
        await ctx.api("POST", "/api/v1/users", request);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        return;
      }
      ctx.toast(`User ${request.username} added`);
      form.reset();
      await guarded(ctx, body, load);
    });
  }
  return { el: section(h, "users", "Users", body, form || error), load: () => guarded(ctx, body, load) };
}

function apiKeys(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "keys-body" });
  const writable = has(ctx.me, "apikeys:write");
  const error = h("p", { class: "error", id: "key-error", role: "alert", hidden: true });
  const created = h("div", { id: "key-created", class: "card", hidden: true, "aria-live": "polite" });

  async function revoke(key, button) {
    if (!confirm(`Revoke the API key ${key.name} (${key.prefix}…)? Clients using it stop working.`)) return;
    button.disabled = true;
    try {
      await ctx.api("DELETE", `/api/v1/apikeys/${encodeURIComponent(key.id)}`);
      ctx.toast(`API key ${key.name} revoked`);
      await load();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      button.disabled = false;
    }
  }

  async function load() {
    const items = await ctx.api("GET", "/api/v1/apikeys");
    replace(body, table(h, ["Name", "Prefix", "Scopes", "Created", "Expires", "State", ""], items.map((k) => h("tr", { dataset: { key: k.name } },
      h("td", { class: "name" }, k.name), h("td", { class: "mono" }, `${k.prefix}…`), h("td", {}, k.scopes.join(", ")),
      h("td", {}, when(h, k.created_at)), h("td", {}, k.expires_at ? new Date(k.expires_at).toLocaleString() : h("span", { class: "muted" }, "never")),
      h("td", {}, k.revoked_at ? h("span", { class: "badge health-bad" }, "revoked") : "active"),
      h("td", {}, writable && !k.revoked_at ? h("button", { class: "btn revoke", type: "button", onclick: (e) => revoke(k, e.currentTarget) }, "Revoke") : null))), "No API keys."));
  }

  let form = null;
  if (writable) {
    const name = h("input", { id: "key-name", name: "name", required: true, maxlength: 100, autocomplete: "off" });
    const expires = h("input", { id: "key-expires", name: "expires", type: "date" });
    const boxes = SCOPES.map((s) => h("input", { type: "checkbox", name: "scope", value: s, checked: s === "read" }));
    form = h("form", { class: "key-form" },
      h("h3", {}, "New API key"),
      h("div", { class: "form-row" },
        h("label", { class: "field" }, "Name", name),
        h("fieldset", { class: "field scopes" }, h("legend", {}, "Scopes"), boxes.map((b) => h("label", {}, b, ` ${b.value} `))),
        h("label", { class: "field" }, "Expires (optional)", expires),
        h("button", { class: "btn primary", type: "submit" }, "Create key")),
      error);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
      const request = { name: name.value.trim(), scopes };
      if (expires.value) request.expires_at = `${expires.value}T00:00:00Z`;
      let key;
      try {
        key = await ctx.api("POST", "/api/v1/apikeys", request);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        return;
      }
      name.value = "";
      // The secret exists only in this answer: show it once, never store it.
      replace(created, 
        h("h3", {}, `API key ${key.name} created`),
        h("p", {}, "Copy the key now: it is not shown again."),
        h("code", { class: "secret", id: "key-secret", tabindex: "0" }, key.key),
        h("div", { class: "toolbar" }, h("button", { class: "btn", type: "button", onclick: () => { created.hidden = true; replace(created); } }, "Done")));
      created.hidden = false;
      created.querySelector("#key-secret").focus();
      await guarded(ctx, body, load);
    });
  }
  return { el: section(h, "apikeys", "API keys", created, body, form), load: () => guarded(ctx, body, load) };
}

function tenants(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "tenants-body" });
  const load = async () => {
    const items = await ctx.api("GET", "/api/v1/tenants");
    replace(body, table(h, ["Tenant", "Display name", "State", "Admin 2FA", "Created"], items.map((t) => h("tr", { dataset: { tenant: t.name } },
      h("td", { class: "name" }, t.name), h("td", {}, t.display_name), h("td", {}, t.disabled ? h("span", { class: "badge health-bad" }, "disabled") : "active"),
      h("td", {}, t.require_admin_2fa ? "required" : "optional"), h("td", {}, when(h, t.created_at)))), "No tenants."));
  };
  return { el: section(h, "tenants", "Tenants", body), load: () => guarded(ctx, body, load) };
}

function audit(ctx) {
  const { h } = ctx;
  const body = h("div", { id: "audit-body" });
  const result = h("div", { id: "audit-verify-result", "aria-live": "polite" });
  const verify = has(ctx.me, "config:read")
    ? h("button", { class: "btn", id: "audit-verify", type: "button", onclick: async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      replace(result, h("p", { class: "muted" }, "Verifying the whole trail…"));
      try {
        const r = await ctx.api("GET", "/admin/audit/verify");
        replace(result, 
          h("p", { class: r.intact ? "status good" : "status bad" }, r.intact ? `Intact: ${r.checked} records checked` : `Not intact: ${r.checked} records checked${r.first_bad ? `, first altered record #${r.first_bad}` : ""}${r.missing ? `, records #${r.missing[0]}–#${r.missing[1]} missing` : ""}`),
          r.problems.length ? h("ul", {}, r.problems.map((p) => h("li", { class: "error" }, p))) : null,
          r.warnings.length ? h("ul", {}, r.warnings.map((w) => h("li", { class: "muted" }, w))) : null);
      } catch (err) {
        replace(result, h("p", { class: "error", role: "alert" }, err.message));
      } finally {
        button.disabled = false;
      }
    } }, "Verify the chain")
    : null;
  const rows = (items) => items.map((r) => h("tr", { dataset: { audit: r.id } },
      h("td", { class: "num" }, r.id), h("td", {}, when(h, r.at)), h("td", {}, r.actor_name || r.actor_type, r.client_ip ? h("div", { class: "muted" }, r.client_ip) : null),
      h("td", { class: "mono" }, r.action, r.action !== `${r.method} ${r.path}` ? h("div", { class: "muted" }, `${r.method} ${r.path}`) : null),
      h("td", {}, h("span", { class: `badge ${r.status_code < 400 ? "health-good" : "health-bad"}` }, `${r.status_code} ${r.outcome}`))));
  const older = h("button", { class: "btn", id: "audit-older", type: "button", hidden: true }, "Older records");
  let oldest = null;
  const page = async () => {
    const query = new URLSearchParams({ limit: AUDIT_PAGE });
    if (oldest) query.set("before_id", oldest);
    const items = await ctx.api("GET", `/api/v1/audit?${query}`);
    if (items.length) oldest = items[items.length - 1].id;
    older.hidden = items.length < AUDIT_PAGE;
    return items;
  };
  older.addEventListener("click", async () => {
    older.disabled = true;
    try {
      body.querySelector("tbody")?.append(...rows(await page()));
    } catch (err) {
      body.append(h("p", { class: "error", role: "alert" }, err.message));
    } finally {
      older.disabled = false;
    }
  });
  const load = async () => {
    oldest = null;
    replace(body, table(h, ["#", "When", "Who", "Action", "Outcome"], rows(await page()), "No audit records yet."));
  };
  return { el: section(h, "audit", "Audit trail", h("div", { class: "toolbar" }, verify, h("span", { class: "muted hint" }, "This tenant's records, newest first")), result, body, older), load: () => guarded(ctx, body, load) };
}

function configuration(ctx) {
  const { h } = ctx;
  const view = h("pre", { class: "config preview mono", id: "config-view", tabindex: "0" });
  const body = h("div", { id: "config-body" }, view);
  const writable = has(ctx.me, "config:write");
  const error = h("p", { class: "error", id: "config-error", role: "alert", hidden: true });
  const outcome = h("p", { class: "muted", id: "config-outcome", "aria-live": "polite" });
  const load = async () => {
    view.textContent = JSON.stringify(await ctx.api("GET", "/admin/config"), null, 2);
  };
  let form = null;
  if (writable) {
    const patch = h("textarea", { id: "config-patch", class: "code", rows: 4, maxlength: 100000, spellcheck: "false", placeholder: '{"metrics": {"retention_days": 30}}', "aria-label": "Settings to change (JSON)" });
    form = h("form", { class: "config-form" },
      h("h3", {}, "Change settings"),
      h("p", { class: "muted" }, "A JSON object of the sections and keys to change; it is validated whole, and a bad value changes nothing."),
      patch, error, outcome,
      h("button", { class: "btn primary", type: "submit" }, "Apply"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      outcome.textContent = "";
      let parsed;
      try {
        parsed = JSON.parse(patch.value);
      } catch (err) {
        error.textContent = `Not valid JSON: ${err.message}`;
        error.hidden = false;
        return;
      }
      try {
        const r = await ctx.api("PUT", "/admin/config", parsed);
        view.textContent = JSON.stringify(r.config, null, 2);
        outcome.textContent = `Changed: ${r.changed.join(", ") || "nothing"}${r.restart_required.length ? ` · restart required for ${r.restart_required.join(", ")}` : ""}`;
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
  }
  return { el: section(h, "config", "Configuration", body, form), load: () => guarded(ctx, body, load) };
}

export default {
  path: "/admin",
  title: "Admin",
  nav: (me) => ADMIN.some((p) => has(me, p)),
  async render(root, ctx) {
    const { h } = ctx;
    const parts = [
      has(ctx.me, "users:read") && users(ctx),
      has(ctx.me, "apikeys:read") && apiKeys(ctx),
      has(ctx.me, "tenant:read") && tenants(ctx),
      has(ctx.me, "audit:read") && audit(ctx),
      has(ctx.me, "config:read") && configuration(ctx),
    ].filter(Boolean);
    root.append(h("h1", {}, "Admin"));
    if (!parts.length) {
      root.append(h("p", { class: "muted" }, "Your role has no administration permissions in this tenant."));
      return;
    }
    root.append(h("div", { class: "stack" }, parts.map((p) => p.el)));
    await Promise.all(parts.map((p) => p.load()));
  },
};
