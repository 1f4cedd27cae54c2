// Building blocks shared by the console's management pages (admin, notifications): a titled
// card, a table that says when it is empty, and a loader that shows its failure inline.
import { replace } from "./dom.js";

/** A card `<section>` labelled by its own `<h2>`. */
export function section(h, id, title, ...body) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...body);
}

/** Run `load` and show its failure in `el` instead of throwing. */
export async function guarded(ctx, el, load) {
  try {
    await load();
  } catch (err) {
    replace(el, ctx.h("p", { class: "error", role: "alert" }, err.message));
  }
}

/** A wide table of `rows` under `headers` (those in `numeric` right-aligned), or `empty`. */
export function table(h, headers, rows, empty, numeric = []) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "table wide" },
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col", class: numeric.includes(c) ? "num" : false }, c)))),
    h("tbody", {}, rows)));
}
