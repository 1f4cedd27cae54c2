// Login (with the 2FA step), the forced password change, and the tenant switch: a new login
// into another tenant the user belongs to (the API issues tokens per tenant).
import * as session from "./api.js";
import { api } from "./api.js";
import { h, replace } from "./dom.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function form(title, fields, submitLabel, onSubmit) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { class: "btn primary", type: "submit" }, submitLabel);
  const el = h("form", { class: "card login-form", novalidate: true }, h("h1", {}, title), fields, error, button);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      await onSubmit();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

export function loginView({ onDone }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: 64, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
  const tenant = h("input", { name: "tenant", autocomplete: "organization", maxlength: 63, placeholder: "only if you belong to several" });
  const wrap = h("main", { id: "main", class: "login" });
  const first = form("Log in to Watchkeeper", [field("Username", username), field("Password", password), field("Tenant", tenant)], "Log in", async () => {
    const answer = await session.login(username.value.trim(), password.value, tenant.value.trim() || undefined);
    if (answer.challenge) {
      replace(wrap, secondFactor(answer.challenge, answer.username, onDone));
      return;
    }
    onDone();
  });
  wrap.append(first);
  return wrap;
}

function secondFactor(challenge, username, onDone) {
  const code = h("input", { name: "code", autocomplete: "one-time-code", inputmode: "numeric", required: true, minlength: 6, maxlength: 32, autofocus: true });
  return form("Two-factor code", [h("p", { class: "muted" }, "Enter the 6-digit code from your authenticator app, or a recovery code."), field("Code", code)], "Verify", async () => {
    await session.loginSecondFactor(challenge, code.value.trim(), username);
    onDone();
  });
}

export function passwordChangeView({ restriction, username, tenant, onDone }) {
  const wrap = h("main", { id: "main", class: "login" });
  if (restriction !== "password_change_required") {
    wrap.append(h("div", { class: "card login-form" }, h("h1", {}, "Action required"),
      h("p", {}, "This tenant requires two-factor login for administrators. Enrol with POST /auth/2fa/setup and /auth/2fa/enable, then log in again."),
      h("button", { class: "btn", onclick: () => session.logout() }, "Log out")));
    return wrap;
  }
  const current = h("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
  const next = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, maxlength: 1024 });
  const again = h("input", { name: "new_password_again", type: "password", autocomplete: "new-password", required: true, maxlength: 1024 });
  wrap.append(form("Choose a new password", [h("p", { class: "muted" }, "Your password must be changed before you continue."), field("Current password", current), field("New password", next), field("New password again", again)], "Change password", async () => {
    if (next.value !== again.value) throw new Error("the two new passwords differ");
    await api("POST", "/auth/password", { current_password: current.value, new_password: next.value });
    // The change ends every session: log in again with the new password.
    session.forget();
    const answer = await session.login(username, next.value, tenant);
    if (answer.challenge) {
      replace(wrap, secondFactor(answer.challenge, username, onDone));
      return;
    }
    onDone();
  }));
  return wrap;
}

export function tenantSwitchView({ username, tenant, canList, onDone }) {
  const options = h("datalist", { id: "tenant-names" });
  const target = h("input", { name: "tenant", required: true, maxlength: 63, autofocus: true, placeholder: "tenant name", list: "tenant-names" });
  if (canList) {
    // Tenant names to pick from, for those allowed to list tenants; typing works for everyone.
    api("GET", "/api/v1/tenants").then((rows) => {
      options.replaceChildren(...rows.filter((t) => t.name !== tenant).map((t) => h("option", { value: t.name })));
    }, () => {});
  }
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
  const dialog = h("dialog", { class: "dialog", "aria-label": "Switch tenant" });
  const close = h("button", { class: "btn", type: "button", onclick: () => { dialog.close(); dialog.remove(); } }, "Cancel");
  const body = form("Switch tenant", [h("p", { class: "muted" }, `Signed in as ${username} in ${tenant}. Tokens are issued per tenant: confirm your password to switch.`), field("Tenant", target), field("Password", password)], "Switch", async () => {
    const answer = await session.login(username, password.value, target.value.trim());
    if (answer.challenge) {
      replace(body, secondFactor(answer.challenge, username, onDone));
      return;
    }
    onDone();
  });
  body.append(close, options);
  dialog.append(body);
  dialog.addEventListener("close", () => dialog.remove());
  return dialog;
}
