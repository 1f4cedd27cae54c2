// Template variables of a Grafana dashboard model, for the native renderer: their options
// (label_values(...) through the Prometheus API, or a custom list) and the expansion of a
// panel's query. `interpolate` is a line-for-line port of dashboards/variables.py (the one
// spec; tests/web/test_dashboards_page.py runs both on the same cases and compares).

const VARIABLE = /\$\{(\w+)\}|\$(\w+)/g;
const REGEX_SPECIAL = /([\\.+*?()|[\]{}^$])/g;
const LABEL_VALUES = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/;
export const MAX_OPTIONS = 500;

/** The regex Grafana substitutes for a multi-value variable (null or [] means All). */
export function regexValue(values) {
  if (!values || values.length === 0) return ".*";
  // Two backslashes: one for the regex, one for the PromQL string literal around it.
  const escaped = values.map((v) => String(v).replace(REGEX_SPECIAL, "\\\\$1"));
  return escaped.length === 1 ? escaped[0] : `(${escaped.join("|")})`;
}

/** `expr` with `$var`/`${var}` replaced; unknown variables mean All (`.*`). */
export function interpolate(expr, values = {}, { rateInterval = "2m", interval = "30s", range = "6h" } = {}) {
  const builtins = { __rate_interval: rateInterval, __interval: interval, __range: range };
  return expr.replace(VARIABLE, (_, braced, bare) => {
    const name = braced || bare;
    if (Object.hasOwn(builtins, name)) return builtins[name];
    return regexValue(Object.hasOwn(values, name) ? values[name] : null);
  });
}

/**
 * Grafana's built-in intervals for a step of `step` seconds over `span` seconds:
 * `$__rate_interval` is max($__interval + scrape interval, 4 × scrape interval) with the
 * 30 s scrape interval variables.py assumes (its default "2m" is 4 × 30 s).
 */
export function builtins(step, span) {
  const scrape = 30;
  return { interval: `${step}s`, rateInterval: `${Math.max(step + scrape, 4 * scrape)}s`, range: `${span}s` };
}

/** The variables of a model we can offer as selects: query (label_values) and custom. */
export function variablesOf(model) {
  const list = model?.templating?.list;
  if (!Array.isArray(list)) return [];
  return list.filter((v) => v && typeof v.name === "string" && (v.type === "query" || v.type === "custom") && v.hide !== 2);
}

/** The value a variable starts with: the URL's `var-<name>`, else the model's current. */
export function initialValue(variable, params) {
  const fromUrl = params.getAll(`var-${variable.name}`);
  if (fromUrl.length) return fromUrl.filter((v) => v !== "$__all");
  const current = variable.current?.value;
  const values = Array.isArray(current) ? current : current === undefined || current === null ? [] : [String(current)];
  return values.filter((v) => v !== "$__all");
}

/**
 * The options of a variable, given the values chosen so far for the others.
 * `label_values(selector, label)` asks `/api/v1/label/<label>/values` with `match[]` set to
 * the selector expanded with the other variables (so instances follow the job).
 */
export async function optionsOf(variable, chosen, api, window) {
  if (variable.type === "custom") {
    return String(variable.query || "").split(",").map((v) => v.trim()).filter(Boolean).slice(0, MAX_OPTIONS);
  }
  const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
  const m = LABEL_VALUES.exec(query || "");
  if (!m) throw new Error(`unsupported variable query: ${query}`);
  const [, selector, label] = m;
  const params = new URLSearchParams({ start: window.start, end: window.end });
  if (selector) params.append("match[]", interpolate(selector, chosen));
  const answer = await api("GET", `/api/v1/label/${encodeURIComponent(label)}/values?${params}`);
  const values = (answer.data || []).slice(0, MAX_OPTIONS);
  return variable.sort === 2 ? values.reverse() : values;
}

/** A panel title with `$var` shown as its values ("web-1, web-2", or "All"), as Grafana shows it. */
export function displayText(text, values = {}) {
  return String(text || "").replace(VARIABLE, (whole, braced, bare) => {
    const name = braced || bare;
    if (!Object.hasOwn(values, name)) return whole;
    return values[name]?.length ? values[name].join(", ") : "All";
  });
}
