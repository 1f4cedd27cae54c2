// The session: tokens in sessionStorage (one tab, gone with the tab), refresh before expiry,
// one transparent refresh on a 401, and `api()` that throws the server's message.

export const ROOT = document.querySelector('meta[name="wk-root"]')?.content || "";
const KEY = "watchkeeper.session";
const REFRESH_AT = 0.8; // refresh when this share of the access token's life has passed

let session = load();
let refreshing = null;
let timer = null;
const listeners = new Set();

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(session);
}

/** Called with the new session (or null) whenever it changes. */
export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function current() {
  return session;
}

export function accessToken() {
  return session?.access_token || null;
}

function schedule() {
  clearTimeout(timer);
  if (!session?.refresh_token) return;
  const delay = Math.max(session.expires_at - Date.now() - (1 - REFRESH_AT) * session.expires_in * 1000, 1000);
  timer = setTimeout(() => refresh().catch(() => {}), delay);
}

function store(tokens, username) {
  save({
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_in: tokens.expires_in,
    expires_at: Date.now() + tokens.expires_in * 1000,
    tenant: tokens.tenant,
    role: tokens.role,
    restriction: tokens.restriction || null,
    username: username ?? session?.username ?? "",
  });
}

async function readError(response) {
  let message = `${response.status} ${response.statusText}`;
  let details;
  try {
    const body = await response.json();
    if (typeof body?.error === "string") message = body.error; // Prometheus API format
    else if (body?.error?.message) message = body.error.message;
    else if (typeof body?.detail === "string") message = body.detail;
    details = body?.error?.details;
  } catch {
    /* not JSON: keep the status line */
  }
  const error = new Error(message);
  error.status = response.status;
  error.details = details; // e.g. [{field, message}] of a validation error
  return error;
}

async function post(path, body) {
  const response = await fetch(ROOT + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await readError(response);
  return response.json();
}

/** Log in; returns {challenge} when a second factor is needed, else {session}. */
export async function login(username, password, tenant) {
  const body = { username, password };
  if (tenant) body.tenant = tenant;
  const answer = await post("/auth/login", body);
  if (answer.two_factor_required) return { challenge: answer.challenge_token, username };
  store(answer, username);
  return { session };
}

export async function loginSecondFactor(challenge, code, username) {
  store(await post("/auth/login/2fa", { challenge_token: challenge, code }), username);
  return { session };
}

/** Rotate the refresh token; one refresh at a time however many callers ask. */
export function refresh() {
  if (!session?.refresh_token) return Promise.reject(new Error("not logged in"));
  refreshing ??= post("/auth/refresh", { refresh_token: session.refresh_token })
    .then((tokens) => store(tokens))
    .catch((error) => {
      if (error.status === 401 || error.status === 400) save(null);
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function logout() {
  const token = accessToken();
  save(null);
  if (token) {
    await fetch(ROOT + "/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => {});
  }
}

/** Forget the session without calling the server (after a password change ends it). */
export function forget() {
  save(null);
}

/**
 * JSON API call with the bearer attached. Retries once after a refresh on 401; throws an
 * Error carrying the server's message (and `.status`) on 4xx/5xx.
 */
export async function api(method, path, body, { type: contentType } = {}) {
  const send = () => {
    const headers = { accept: "application/json" };
    const token = accessToken();
    if (token) headers.authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (body !== undefined) {
      // `type` sends a string body as it is (a rule group's YAML); otherwise JSON.
      headers["content-type"] = contentType || "application/json";
      init.body = contentType ? body : JSON.stringify(body);
    }
    return fetch(ROOT + path, init);
  };
  let response = await send();
  if (response.status === 401 && session?.refresh_token) {
    try {
      await refresh();
      response = await send();
    } catch {
      /* the refresh failed: answer with the original 401 */
    }
  }
  if (!response.ok) {
    throw await readError(response);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

schedule();
