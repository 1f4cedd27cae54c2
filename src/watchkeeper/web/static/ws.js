// One WebSocket to /ws/notifications for the whole console, resumed by last event id after
// a drop, re-authenticated with the current access token on every (re)connection.
import { ROOT, accessToken } from "./api.js";

const handlers = new Map(); // type -> Set(fn); "*" gets every event
let socket = null;
let lastId = null;
let backoff = 1000;
let retry = null;
let wanted = false;

function url() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : "";
  return `${scheme}//${location.host}${ROOT}/ws/notifications${query}`;
}

function dispatch(event) {
  for (const key of [event.type, "*"]) {
    for (const fn of handlers.get(key) || []) {
      try {
        fn(event);
      } catch (error) {
        console.warn("event handler failed", error); // a page's bug must not stop the stream
      }
    }
  }
}

function open() {
  clearTimeout(retry);
  const token = accessToken();
  if (!wanted || !token || socket) return;
  const ws = new WebSocket(url(), ["bearer", token]);
  socket = ws;
  ws.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === "ready") {
      backoff = 1000;
      if (event.data?.last_event_id) lastId = event.data.last_event_id;
      dispatch(event);
      return;
    }
    if (event.type === "error") return;
    if (event.id) lastId = event.id;
    dispatch(event);
  };
  ws.onclose = (event) => {
    if (socket === ws) socket = null;
    if (event.code === 4403 || event.code === 4400) wanted = false; // no events:read, or our bug: retrying cannot help
    if (!wanted) return;
    retry = setTimeout(open, backoff);
    backoff = Math.min(backoff * 2, 30000);
  };
}

/** Start (or keep) the stream; called when a session exists. */
export function connect() {
  wanted = true;
  open();
}

/** Stop the stream (logout). */
export function disconnect() {
  wanted = false;
  clearTimeout(retry);
  socket?.close(1000);
  socket = null;
  lastId = null;
}

/** Subscribe; returns the unsubscribe function. */
export function subscribe(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type)?.delete(fn);
}

export function connected() {
  return socket?.readyState === WebSocket.OPEN;
}
