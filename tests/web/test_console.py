"""The web console in a real Chromium against a real, seeded `watchkeeper serve`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import ADMIN_PASSWORD
from tests.web.conftest import Console, Seeded

LIVE_GROUP = """
name: web-live
interval: 1s
rules:
  - alert: WebLiveAlert
    expr: vector(2)
    labels: {severity: critical}
    annotations: {summary: "appeared while the overview was open"}
"""


def test_root_redirects_to_the_console_and_login_shows_the_overview(console: Console) -> None:
    console.goto("/")
    assert console.page.url == f"{console.base}/ui/"
    console.login()
    console.wait_ready("/")
    assert console.page.title() == "Overview · Watchkeeper"
    assert console.page.locator("#tenant-switch").inner_text().endswith("default")
    console.check("overview-after-login")


def test_an_unknown_console_path_says_not_found(console: Console) -> None:
    console.goto("/ui/no-such-page")
    console.login()
    console.wait_ready("not-found")
    assert "No page at /no-such-page" in console.page.locator("main").inner_text()
    console.check("not-found")


def test_wrong_password_is_shown_inline(console: Console) -> None:
    console.allow(r"HTTP 401 POST .*/auth/login")
    console.allow(r"status of 401")
    console.goto("/ui/")
    console.login(password="not-the-password", wait=False)
    error = console.page.locator("form .error")
    error.wait_for()
    assert error.inner_text() != ""
    assert console.page.evaluate("document.body.dataset.page") == "login"
    console.check("login-refused")


def test_overview_renders_health_alerts_and_host_charts(console: Console) -> None:
    console.goto("/ui/")
    console.login()
    page = console.page
    page.wait_for_selector("#firing-alerts .alert-item")
    assert "SeedDiskFilling" in page.locator("#firing-alerts").inner_text()
    assert "1 warning" in page.locator("#firing-alerts .counts").inner_text()
    assert "healthy" in page.locator("#p-health").inner_text()
    # the three host charts are drawn from the seeded node_* series
    console.wait_charts(3)
    # the load chart gains a forecast band from /ai/predictions once the model has answered
    page.wait_for_selector(".charts .note:has-text('forecast for the next hour')", timeout=30_000)
    console.check("overview")


def test_a_new_firing_alert_appears_on_the_overview_without_reload(
    console: Console, web_server: Seeded
) -> None:
    console.goto("/ui/")
    console.login()
    page = console.page
    page.wait_for_selector("#firing-alerts .alert-item")
    page.evaluate("window.__noReload = 'still here'")
    assert "WebLiveAlert" not in page.locator("#firing-alerts").inner_text()
    web_server.put_group(LIVE_GROUP)
    page.wait_for_selector("#firing-alerts .alert-item:has-text('WebLiveAlert')", timeout=30_000)
    assert page.evaluate("window.__noReload") == "still here"
    console.check("overview-live-alert")


def test_explore_completes_metric_names_and_charts_a_range_query(console: Console) -> None:
    console.goto("/ui/explore")
    console.login()
    page = console.page
    page.locator("#expr").press_sequentially("node_lo")
    page.wait_for_selector("#expr-completions li:has-text('node_load1')")
    page.locator("#expr").press("Enter")  # accepts the highlighted completion
    assert page.locator("#expr").input_value() == "node_load1"
    page.locator("#expr").press("Control+Enter")
    page.wait_for_selector("#explore-chart .uplot canvas")
    assert 'node_load1{instance="web-1", job="node"}' in page.locator("#explore-table").inner_text()
    assert "expr=node_load1" in page.url
    rule_link = page.locator("#to-rule").get_attribute("href")
    assert rule_link == "/ui/rules?new=node_load1"
    console.check("explore")


def test_explore_shows_a_query_error_inline(console: Console) -> None:
    console.allow(r"HTTP 400 GET .*/api/v1/query_range")
    console.allow(r"status of 400")
    console.goto("/ui/explore")
    console.login()
    page = console.page
    page.fill("#expr", "sum(rate(node_load1[5m]")
    page.click("#run")
    error = page.locator("#query-error")
    error.wait_for()
    assert error.inner_text() != ""
    console.check("explore-error")


def test_prometheus_graph_links_open_explore_with_the_query(console: Console) -> None:
    console.goto("/graph?g0.expr=node_load1&g0.tab=1")
    assert console.page.url == f"{console.base}/ui/explore?expr=node_load1"
    console.login()
    console.wait_ready("/explore")
    assert console.page.locator("#expr").input_value() == "node_load1"
    console.page.wait_for_selector("#explore-chart .uplot canvas")
    console.check("graph-link")


def test_phone_width_has_no_horizontal_overflow(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 800})
    console.goto("/ui/")
    console.login()
    console.wait_charts(3)
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) == 0
    console.check("phone-overview")
    page.click(".menu-toggle")
    page.click("nav >> text=Explore")
    console.wait_ready("/explore")
    assert page.evaluate(overflow) == 0
    console.check("phone-overview-then-explore")


def test_static_assets_are_cached_by_build_and_the_shell_is_not(web_server: Seeded) -> None:
    with httpx.Client(base_url=web_server.url, timeout=10) as client:
        shell = client.get("/ui/alerts")
        assert shell.status_code == 200
        assert shell.headers["cache-control"] == "no-cache"
        build = shell.text.split('name="wk-build" content="')[1].split('"')[0]
        asset = client.get(f"/ui/static/{build}/app.js")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = client.get(
            f"/ui/static/{build}/app.js", headers={"if-none-match": asset.headers["etag"]}
        )
        assert again.status_code == 304
        stale = client.get("/ui/static/0123456789ab/app.js")
        assert (stale.status_code, stale.headers["cache-control"]) == (200, "no-cache")
        assert client.get(f"/ui/static/{build}/missing.js").status_code == 404
        assert client.get(f"/ui/static/{build}/../../../api/app.py").status_code == 404


def test_tenant_switch_logs_into_the_other_tenant(console: Console, web_server: Seeded) -> None:
    with web_server.client() as client:
        created = client.post("/api/v1/tenants", json={"name": "webacme"})
    assert created.status_code == 201, created.text
    web_server.add_member("admin", "webacme", "admin")
    sockets: list[Any] = []
    console.page.on("websocket", lambda ws: sockets.append(ws))
    console.goto("/ui/")
    console.login()
    page = console.page
    page.wait_for_selector("#firing-alerts .alert-item")
    page.click("#tenant-switch")
    page.wait_for_selector("#tenant-names option[value='webacme']", state="attached")
    page.fill("dialog input[name=tenant]", "webacme")
    page.fill("dialog input[name=password]", ADMIN_PASSWORD)
    with page.expect_websocket() as reopened:
        page.click("dialog button[type=submit]")
    page.wait_for_selector("#tenant-switch:has-text('webacme')")
    console.wait_ready("/")
    # the new tenant has no rules: the seeded alert of `default` is not shown here
    page.wait_for_selector("#firing-alerts .counts")
    assert "SeedDiskFilling" not in page.locator("#firing-alerts").inner_text()
    # the event stream of the old tenant's token was closed and a new one opened
    assert reopened.value is not sockets[0]
    if not sockets[0].is_closed():
        sockets[0].wait_for_event("close", timeout=5_000)
    console.check("tenant-switched")


def test_theme_toggle_switches_and_is_remembered(console: Console) -> None:
    console.allow(r"net::ERR_ABORTED")  # the reload cancels the first render's requests
    console.goto("/ui/")
    console.login()
    page = console.page
    before = page.evaluate("document.documentElement.dataset.theme")
    page.click("#theme-toggle")
    after = page.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"dark", "light"}
    page.reload()
    console.wait_ready("/")
    assert page.evaluate("document.documentElement.dataset.theme") == after
    console.wait_charts(3)
    console.check(f"overview-{after}")


def test_a_password_set_by_an_admin_must_be_changed_at_first_login(
    console: Console, web_server: Seeded
) -> None:
    with web_server.client() as client:
        user = client.post(
            "/api/v1/users",
            json={"username": "web-oncall", "password": "first-password-123", "role": "viewer"},
        )
        assert user.status_code == 201, user.text
        reset = client.patch(
            f"/api/v1/users/{user.json()['id']}", json={"password": "chosen-by-admin-456"}
        )
        assert reset.status_code == 200, reset.text
    console.goto("/ui/")
    console.login("web-oncall", "chosen-by-admin-456")
    page = console.page
    console.wait_ready("password")
    page.fill("input[name=current_password]", "chosen-by-admin-456")
    page.fill("input[name=new_password]", "my-own-passphrase-789")
    page.fill("input[name=new_password_again]", "my-own-passphrase-789")
    page.click("form button[type=submit]")
    console.wait_ready("/")
    assert "web-oncall" in page.locator(".user").inner_text()
    console.check("password-changed-then-overview")


def test_the_console_is_usable_with_the_keyboard_alone(console: Console) -> None:
    console.allow(r"net::ERR_ABORTED")  # the reload cancels the first render's requests
    console.goto("/ui/")
    page = console.page
    console.wait_ready("login")
    page.keyboard.type("admin")  # the username field has focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type("default")
    page.keyboard.press("Enter")
    console.wait_ready("/")
    page.reload()
    console.wait_ready("/")
    page.keyboard.press("Tab")  # the first Tab on a page offers to skip the navigation
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(10):  # brand, menu (hidden on desktop), then the nav links
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Explore":
            break
    page.keyboard.press("Enter")
    console.wait_ready("/explore")
    assert page.evaluate("document.activeElement.id") == "expr"  # Explore focuses its editor
    page.keyboard.type("node_load1")
    page.keyboard.press("Escape")  # closes the completion list
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#explore-chart .uplot canvas")
    console.check("keyboard-explore")


def test_two_factor_login_asks_for_the_code_after_the_password(
    console: Console, web_server: Seeded
) -> None:
    import pyotp

    password = "two-factor-user-pass"
    with web_server.client() as client:
        created = client.post(
            "/api/v1/users", json={"username": "web-2fa", "password": password, "role": "viewer"}
        )
        assert created.status_code == 201, created.text
        token = client.post("/auth/login", json={"username": "web-2fa", "password": password})
        own = {"authorization": f"Bearer {token.json()['access_token']}"}
        secret = client.post("/auth/2fa/setup", headers=own).json()["secret"]
        enabled = client.post(
            "/auth/2fa/enable", headers=own, json={"code": pyotp.TOTP(secret).now()}
        )
        assert enabled.status_code == 200, enabled.text
        recovery = enabled.json()["recovery_codes"][0]
    console.goto("/ui/")
    console.login("web-2fa", password, wait=False)
    page = console.page
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", recovery)  # a recovery code: no race with the TOTP step
    page.click("form button[type=submit]")
    console.wait_ready("/")
    assert "web-2fa" in page.locator(".user").inner_text()
    console.check("two-factor-login")
