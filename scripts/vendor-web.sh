#!/bin/sh
# Vendor uPlot (MIT) into the web console's static files. No build step, no CDN: the console
# ships these three files in the wheel. Re-run after changing UPLOT_VERSION; commit the result.
set -eu
UPLOT_VERSION="${UPLOT_VERSION:-1.6.32}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$HERE/src/watchkeeper/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null
tar xzf "uplot-$UPLOT_VERSION.tgz"
mkdir -p "$DEST"
cp package/dist/uPlot.iife.min.js "$DEST/uPlot.iife.min.js"
cp package/dist/uPlot.min.css "$DEST/uPlot.min.css"
cp package/LICENSE "$DEST/uPlot.LICENSE"
echo "$UPLOT_VERSION" > "$DEST/uPlot.VERSION"
echo "vendored uPlot $UPLOT_VERSION into $DEST"
