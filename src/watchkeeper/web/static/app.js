// The console's shell: session, layout (nav, tenant switcher, theme), a router over the
// history API under /ui/, and the `ctx` every page receives (docs/design/web.md).
import * as session from "./api.js";
import { ROOT, api } from "./api.js";
import { chart } from "./chart.js";
import { h, replace } from "./dom.js";
import { loginView, passwordChangeView, tenantSwitchView } from "./login.js";
import pages from "./pages/index.js";
import * as ws from "./ws.js";

const BASE = `${ROOT}/ui`;
const THEME_KEY = "watchkeeper.theme";
const app = document.getElementById("app");
let active = null; // {page, cleanups: []}
let me = null;
let renderSeq = 0;

// ---- theme ---------------------------------------------------------------------------
function theme() {
  return localStorage.getItem(THEME_KEY) || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark");
}
function applyTheme(name) {
  document.documentElement.dataset.theme = name;
}
applyTheme(theme());

// ---- toasts --------------------------------------------------------------------------
const toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
export function toast(message, kind = "info") {
  const el = h("div", { class: `toast toast-${kind}` }, message);
  toasts.appendChild(el);
  setTimeout(() => el.remove(), 5000);
}

// ---- routing -------------------------------------------------------------------------
function clientPath() {
  let path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "/";
  if (!path.startsWith("/")) path = `/${path}`;
  return path.length > 1 ? path.replace(/\/+$/, "") : "/";
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The page for a path, and the values of its `:name` segments ("/incidents/:id"). */
function match(path) {
  const exact = pages.find((p) => p.path === path);
  if (exact) return { page: exact, values: {} };
  const parts = path.split("/");
  for (const page of pages) {
    const pattern = page.path.split("/");
    if (!page.path.includes("/:") || pattern.length !== parts.length) continue;
    const values = {};
    let ok = true;
    pattern.forEach((seg, i) => {
      if (!seg.startsWith(":")) ok &&= seg === parts[i];
      else if (!parts[i]) ok = false;
      else values[seg.slice(1)] = safeDecode(parts[i]);
    });
    if (ok) return { page, values };
  }
  return null;
}

/** Go to a client path ("/explore?expr=up"); pushes history and renders. */
export function navigate(path, { replace: replaceState = false } = {}) {
  const url = path.startsWith(BASE) ? path : BASE + (path.startsWith("/") ? path : `/${path}`);
  if (replaceState) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function teardown() {
  if (!active) return;
  for (const fn of active.cleanups.splice(0)) {
    try {
      fn();
    } catch (error) {
      console.warn("cleanup failed", error);
    }
  }
  try {
    active.page.destroy?.();
  } catch (error) {
    console.warn("destroy failed", error);
  }
  active = null;
}

function makeCtx(cleanups, values) {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(values)) params.set(name, value);
  return {
    api,
    params,
    navigate,
    on(type, fn) {
      cleanups.push(ws.subscribe(type, fn));
    },
    chart(el, spec) {
      const c = chart(el, spec);
      cleanups.push(() => c.destroy());
      return c;
    },
    h,
    toast,
    me,
  };
}

// ---- layout --------------------------------------------------------------------------
function navLink(page, path) {
  const current = page.path === path;
  return h("a", { href: BASE + (page.path === "/" ? "/" : page.path), class: current ? "nav-link current" : "nav-link", "aria-current": current ? "page" : false }, page.title);
}

function layout(path) {
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const nav = h("nav", { class: "nav", id: "nav", "aria-label": "Main" }, pages.filter((p) => (typeof p.nav === "function" ? p.nav(me) : p.nav)).map((p) => navLink(p, path)));
  const menu = h("button", { class: "btn icon menu-toggle", "aria-controls": "nav", "aria-expanded": "false", title: "Menu", onclick: (e) => {
    const open = nav.classList.toggle("open");
    e.currentTarget.setAttribute("aria-expanded", String(open));
  } }, "☰");
  const tenant = h("button", { class: "btn tenant", id: "tenant-switch", title: "Switch tenant", onclick: () => showTenantSwitch() }, h("span", { class: "muted" }, "tenant "), me?.tenant || session.current()?.tenant || "?");
  const themeBtn = h("button", { class: "btn icon", id: "theme-toggle", title: "Toggle dark/light theme", "aria-label": "Toggle dark/light theme", onclick: () => {
    const next = theme() === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    render(); // charts read their colours from the theme
  } }, "◐");
  const user = h("span", { class: "user muted", title: me?.role || "" }, me?.name || session.current()?.username || "");
  const out = h("button", { class: "btn", id: "logout", onclick: async () => {
    ws.disconnect();
    await session.logout();
  } }, "Log out");
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: `${BASE}/` }, "Watchkeeper"),
    menu, nav,
    h("div", { class: "top-right" }, tenant, user, themeBtn, out));
  replace(app, header, main, toasts);
  return main;
}

function showTenantSwitch() {
  const dialog = tenantSwitchView({ username: me?.name || session.current()?.username || "", tenant: me?.tenant || "", canList: Boolean(me?.permissions?.includes("tenant:read")), onDone: () => {
    dialog.close();
    dialog.remove();
    me = null;
    ws.disconnect(); // the stream belongs to the old tenant's token: reopen it with the new one
    navigate("/", { replace: true });
    toast(`Switched to tenant ${session.current()?.tenant}`);
  } });
  document.body.appendChild(dialog);
  dialog.showModal();
}

// ---- render --------------------------------------------------------------------------
async function render() {
  const seq = ++renderSeq;
  teardown();
  const s = session.current();
  if (!s) {
    ws.disconnect();
    me = null;
    document.title = "Log in · Watchkeeper";
    replace(app, loginView({ onDone: () => render() }), toasts);
    markRendered("login");
    return;
  }
  if (s.restriction) {
    document.title = "Change password · Watchkeeper";
    replace(app, passwordChangeView({ restriction: s.restriction, username: s.username, tenant: s.tenant, onDone: () => render() }), toasts);
    markRendered("password");
    return;
  }
  if (!me) {
    try {
      me = await api("GET", "/auth/me");
    } catch (error) {
      if (seq !== renderSeq) return;
      if (!session.current()) return; // the 401 ended the session: onSession renders the login
      replace(app, h("main", { class: "main" }, h("p", { class: "error" }, `Cannot load your profile: ${error.message}`)), toasts);
      return;
    }
    if (seq !== renderSeq) return;
  }
  ws.connect();
  const path = clientPath();
  const found = match(path);
  const page = found?.page;
  const main = layout(path);
  const cleanups = [];
  active = { page: page || { path }, cleanups };
  if (!page) {
    document.title = "Not found · Watchkeeper";
    main.append(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), ". ", h("a", { href: `${BASE}/` }, "Back to the overview")));
    markRendered("not-found");
    return;
  }
  document.title = `${page.title} · Watchkeeper`;
  try {
    await page.render(main, makeCtx(cleanups, found.values));
  } catch (error) {
    if (seq !== renderSeq) return;
    main.append(h("p", { class: "error", role: "alert" }, `This page failed: ${error.message}`));
  }
  if (seq !== renderSeq) return;
  markRendered(page.path);
}

/** performance marks for bench/ui.py and a DOM flag tests wait for. */
function markRendered(name) {
  performance.mark(`wk:rendered:${name}`);
  document.body.dataset.page = name;
  document.body.dataset.ready = String(renderSeq);
}

// Links inside the console navigate without a reload.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest?.("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`) && url.pathname !== BASE) return;
  if (url.pathname.startsWith(`${BASE}/static/`)) return;
  event.preventDefault();
  document.getElementById("nav")?.classList.remove("open");
  history.pushState(null, "", url.pathname + url.search + url.hash);
  render().then(() => {
    // Keyboard users land on the new content, unless the page focused a field itself.
    const main = document.getElementById("main");
    if (main && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  });
});
window.addEventListener("popstate", () => render());

// The session ends elsewhere (refresh refused, logout): show the login.
let hadSession = Boolean(session.current());
session.onSession((s) => {
  const has = Boolean(s);
  if (has !== hadSession) {
    hadSession = has;
    if (!has) render();
  }
});

render();
