"""The web console: one HTML shell, ES modules and uPlot, served by the API process.

No build step and no CDN: every file under `static/` ships in the wheel and is served as is.
The page contract and routes are described in docs/design/web.md.
"""
