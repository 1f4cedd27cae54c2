// Every page of the console, in nav order. Add a page: create pages/<name>.js exporting
// {path, title, nav, render(root, ctx), destroy?()} and add one line here (docs/design/web.md).
import explore from "./explore.js";
import overview from "./overview.js";

export default [
  overview,
  explore,
];
