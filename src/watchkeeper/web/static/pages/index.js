// Every page of the console, in nav order. Add a page: create pages/<name>.js exporting
// {path, title, nav, render(root, ctx), destroy?()} and add ONE line below
// (docs/design/web.md). The modules load in parallel (the shell preloads them all).
const modules = await Promise.all([
  import("./overview.js"),
  import("./explore.js"),
  import("./dashboards.js"), import("./dashboards.js").then((m) => ({ default: m.view })), // list, one dashboard
  import("./alerts.js"),
  import("./incidents.js"),
  import("./anomalies.js"),
  import("./rules.js"),
  import("./notifications.js"),
  import("./admin.js"),
]);

export default modules.map((module) => module.default);
