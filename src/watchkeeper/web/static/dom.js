// A tiny DOM builder. Children that are strings or numbers become text nodes: nothing from
// the server is ever parsed as HTML (no innerHTML anywhere in the console).

/**
 * h("a", {href: "/ui/x", class: "btn", onclick: fn}, "text", child, [more, children])
 * Attributes: `class`, `on<event>` (listeners), `dataset` (object), booleans (true sets an
 * empty attribute, false/null/undefined omit it), anything else via setAttribute.
 * `style` attributes are refused: the Content-Security-Policy forbids them; set
 * `el.style.prop` after creation instead.
 */
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style") {
      throw new Error("h(): style attributes are blocked by the CSP; set el.style instead");
    } else if (key === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace every child of `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** "3 min ago" style age of an ISO date or Unix seconds. */
export function ago(when) {
  const t = typeof when === "number" ? when * 1000 : Date.parse(when);
  if (!Number.isFinite(t)) return "";
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** `name{a="b",...}` for a label set. */
export function seriesName(labels) {
  const name = labels.__name__ || "";
  const rest = Object.entries(labels)
    .filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return rest ? `${name}{${rest}}` : name || "{}";
}
