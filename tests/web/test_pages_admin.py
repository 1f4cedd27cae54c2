"""The Rules, Notifications and Admin pages in a real Chromium against the seeded server."""

from __future__ import annotations

from tests.web.conftest import Console, Seeded

EDIT_GROUP = """
name: web-edit
interval: 1m
rules:
  - alert: WebEditBefore
    expr: vector(0) > 1
    labels: {severity: info}
"""
BROKEN_YAML = "name: web-edit\nrules:\n  - alert: Broken\n    expr: [unclosed\n"
SAVED_YAML = """name: web-edit
interval: 1m
rules:
  - alert: WebEditAfter
    expr: vector(0) > 2
    labels: {severity: info}
"""
HOSTILE_GROUP = """
name: web-hostile
interval: 1m
rules:
  - alert: HostileMarkup
    expr: vector(0) > 1
    labels: {severity: info, team: "<img src=x onerror=alert(1)>"}
    annotations: {summary: "<b>bold?</b>"}
"""
LIVE_GROUP = """
name: web-rules-live
interval: 1s
rules:
  - alert: WebRulesLive
    expr: vector(3)
    labels: {severity: info}
"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_rules_page_shows_groups_and_server_strings_as_text(
    console: Console, web_server: Seeded
) -> None:
    web_server.put_group(HOSTILE_GROUP)
    console.goto("/ui/rules")
    console.login()
    console.wait_ready("/rules")
    page = console.page
    text = page.locator('[data-group="web-seed"]').inner_text().lower()  # badges: CSS upper
    assert "seeddiskfilling" in text
    assert "firing" in text
    assert "evaluated" in text and "ok" in text
    console.check("rules")
    page.click('[data-group="web-hostile"] .edit-group')
    page.wait_for_selector("#rule-editor:visible")
    text = page.locator("#rule-yaml").input_value()
    assert "<img src=x onerror=alert(1)>" in text and "<b>bold?</b>" in text
    assert page.locator("main img, main b").count() == 0
    # the YAML the editor writes from the stored form parses back to the same group
    with web_server.client() as client:
        before = client.get("/api/v1/rules/groups/web-hostile").json()
        page.click("#rule-save")
        page.wait_for_selector(".toast:has-text('Saved rule group web-hostile')")
        after = client.get("/api/v1/rules/groups/web-hostile").json()
    assert after["revision"] == before["revision"] + 1
    assert after["group"] == before["group"]


def test_a_yaml_error_is_shown_inline_and_a_valid_edit_saves(
    console: Console, web_server: Seeded
) -> None:
    web_server.put_group(EDIT_GROUP)
    console.allow(r"HTTP 4\d\d PUT .*/api/v1/rules/groups/web-edit")
    console.allow(r"status of 4\d\d")
    console.goto("/ui/rules")
    console.login()
    console.wait_ready("/rules")
    page = console.page
    page.click('[data-group="web-edit"] .edit-group')
    page.wait_for_selector("#rule-editor:visible")
    editor = page.locator("#rule-yaml")
    assert "WebEditBefore" in editor.input_value()
    editor.fill(BROKEN_YAML)
    page.click("#rule-save")
    error = page.locator("#rule-error")
    error.wait_for()
    assert error.inner_text().startswith("Line 4: ")  # where the unclosed `[` opens
    selected = "e => e.value.slice(e.selectionStart, e.selectionEnd)"
    assert editor.evaluate(selected) == "    expr: [unclosed"  # the line is selected
    console.check("rules-yaml-error")
    editor.fill(SAVED_YAML)
    editor.press("Control+Enter")  # the keyboard path saves too
    page.wait_for_selector('[data-group="web-edit"] [data-rule="WebEditAfter"]')
    assert page.locator("#rule-editor").is_hidden()
    with web_server.client() as client:
        stored = client.get("/api/v1/rules/groups/web-edit").json()
    assert [r["alert"] for r in stored["group"]["rules"]] == ["WebEditAfter"]
    console.check("rules-saved")


def test_a_rule_from_explore_is_prefilled_and_saved(console: Console, web_server: Seeded) -> None:
    console.goto("/ui/rules?new=node_load1%20%3E%2050")
    console.login()
    console.wait_ready("/rules")
    page = console.page
    text = page.locator("#rule-yaml").input_value()
    assert "expr: 'node_load1 > 50'" in text
    page.click("#rule-save")
    page.wait_for_selector('[data-group="explore"] [data-rule="NewAlert"]')
    with web_server.client() as client:
        stored = client.get("/api/v1/rules/groups/explore").json()
    assert stored["group"]["rules"][0]["expr"] == "node_load1 > 50"
    assert "new=" not in page.url  # a reload does not prefill it again
    # a group that starts firing elsewhere shows up, with its state, without a reload
    page.evaluate("window.__noReload = 'still here'")
    web_server.put_group(LIVE_GROUP)
    page.wait_for_selector('[data-group="web-rules-live"] .state-firing', timeout=30_000)
    assert page.evaluate("window.__noReload") == "still here"


def test_notifications_page_shows_receivers_outbox_templates_and_on_call(
    console: Console, web_server: Seeded
) -> None:
    with web_server.client() as client:
        schedule = {
            "name": "web-primary",
            "timezone": "UTC",
            "rotations": [
                {"users": ["ana", "bo"], "length_hours": 24, "start": "2020-01-01T00:00:00"}
            ],
        }
        made = client.post("/api/v1/schedules", json=schedule)
        assert made.status_code == 201, made.text
        policy = {
            "name": "web-escalate",
            "levels": [{"targets": [{"type": "schedule", "id": "web-primary"}]}],
        }
        made = client.post("/api/v1/escalation-policies", json=policy)
        assert made.status_code == 201, made.text
    console.allow(r"HTTP 422 POST .*/api/v1/templates/preview")
    console.allow(r"status of 422")
    console.goto("/ui/notifications")
    console.login()
    console.wait_ready("/notifications")
    page = console.page
    # create a receiver through the form, then queue a test message to it
    page.fill("#receiver-name", "web-hook")
    page.fill("#receiver-config", '{"url": "https://hooks.example.invalid/watchkeeper"}')
    page.click(".receiver-form button[type=submit]")
    row = page.locator('[data-receiver="web-hook"]')
    row.wait_for()
    assert "webhook → https://hooks.example.invalid/watchkeeper" in row.inner_text()
    row.locator(".test-send").click()
    page.wait_for_selector("#outbox-body tr:has-text('web-hook')")
    # on call now and next, from a daily rotation of two
    schedule_row = page.locator('[data-schedule="web-primary"]')
    now, following = (
        schedule_row.locator(".oncall-now").inner_text(),
        schedule_row.locator(".oncall-next").inner_text(),
    )
    assert {now, following.splitlines()[0]} == {"ana", "bo"}
    policy_text = page.locator('[data-policy="web-escalate"]').inner_text()
    assert "schedule web-primary via email" in policy_text
    # the seeded alert's notification went to the empty default receiver: a dead letter
    dead = page.locator("#dead-body tr[data-notification]").first
    dead.wait_for()
    number = dead.get_attribute("data-notification")
    dead.locator(".retry").click()
    page.wait_for_selector(f".toast:has-text('Notification #{number} queued again')")
    # the template preview renders the sample alert, and follows edits
    preview = page.locator("#preview-subject")
    assert preview.inner_text() != ""
    page.fill("#template-subject", "PREVIEW {{ 40 + 2 }}")
    page.wait_for_selector("#preview-subject:has-text('PREVIEW 42')")
    console.check("notifications")
    page.fill("#template-body", "{% if %}")
    error = page.locator("#template-error")
    error.wait_for()
    assert "template error" in error.inner_text()


def test_admin_page_lists_users_tenants_audit_and_config(
    console: Console, web_server: Seeded
) -> None:
    with web_server.client() as client:
        for _ in range(55):  # audited writes, so the trail is longer than one page
            made = client.post(
                "/api/v1/templates/preview", json={"subject_template": "x", "body_template": "y"}
            )
            assert made.status_code == 200, made.text
    console.allow(r"HTTP 422 PUT .*/admin/config")
    console.allow(r"status of 422")
    console.goto("/ui/admin")
    console.login()
    console.wait_ready("/admin")
    page = console.page
    assert page.locator("nav >> text=Admin").is_visible()
    assert "admin" in page.locator('[data-user="admin"]').inner_text()
    assert page.locator('[data-tenant="default"]').is_visible()
    assert '"metrics"' in page.locator("#config-view").inner_text()
    page.click("#audit-verify")
    page.wait_for_selector("#audit-verify-result .status")
    assert page.locator("#audit-verify-result").inner_text().startswith("Intact")
    console.check("admin")
    # the audit trail pages to older records
    ids = "rs => rs.map(r => Number(r.dataset.audit))"
    rows = page.locator("#audit-body tbody tr")
    first = rows.evaluate_all(ids)
    assert len(first) == 50
    page.click("#audit-older")
    page.wait_for_selector("#audit-body tbody tr:nth-child(51)")
    every = rows.evaluate_all(ids)
    assert every[:50] == first
    assert every == sorted(every, reverse=True) and len(set(every)) == len(every)
    # a bad setting is refused inline; a valid one applies
    page.fill("#config-patch", '{"metrics": {"retention_days": -5}}')
    page.click(".config-form button[type=submit]")
    error = page.locator("#config-error")
    error.wait_for()
    assert "retention_days" in error.inner_text()
    console.check("admin-config-refused")
    page.fill("#config-patch", '{"retrain_interval_hours": 24}')  # the value it has
    page.click(".config-form button[type=submit]")
    page.wait_for_selector("#config-outcome:has-text('Changed: retrain_interval_hours')")
    assert error.is_hidden()


def test_a_user_is_added_given_a_role_and_disabled(console: Console, web_server: Seeded) -> None:
    console.goto("/ui/admin")
    console.login()
    console.wait_ready("/admin")
    page = console.page
    page.fill("#user-name", "web-ops")
    page.fill("#user-password", "ops-password-123!")
    page.click(".user-form button[type=submit]")
    row = page.locator('[data-user="web-ops"]')
    row.wait_for()
    assert row.locator(".user-role").input_value() == "viewer"
    row.locator(".user-role").select_option("editor")
    page.wait_for_selector(".toast:has-text('web-ops: role editor')")
    page.locator('[data-user="web-ops"] .user-toggle').click()
    page.wait_for_selector('[data-user="web-ops"]:has-text("Enable")')
    with web_server.client() as client:
        listed = {u["username"]: u for u in client.get("/api/v1/users").json()}
    assert listed["web-ops"]["role"] == "editor" and listed["web-ops"]["disabled"] is True
    # the signed-in admin gets no controls over their own account
    assert (
        page.locator('[data-user="admin"] .user-role, [data-user="admin"] .user-toggle').count()
        == 0
    )
    console.check("admin-users")


def test_a_new_api_key_shows_its_secret_once(console: Console, web_server: Seeded) -> None:
    console.goto("/ui/admin")
    console.login()
    console.wait_ready("/admin")
    page = console.page
    page.fill("#key-name", "web-ci")
    page.click(".key-form button[type=submit]")
    secret = page.locator("#key-secret")
    secret.wait_for()
    key = secret.inner_text()
    page.wait_for_selector('[data-key="web-ci"]')
    with web_server.client() as client:
        listed = client.get("/api/v1/apikeys").json()
        mine = next(k for k in listed if k["name"] == "web-ci")
        # the secret works, and it starts with the prefix the list shows
        assert mine["prefix"] in key and len(key) > len(mine["prefix"]) + 16
        who = client.get("/auth/me", headers={"authorization": f"Bearer {key}"})
        assert who.status_code == 200, who.text
    console.check("admin-key-created")
    page.reload()
    console.wait_ready("/admin")
    page.wait_for_selector('[data-key="web-ci"]')
    assert key not in page.locator("main").inner_text()
    # revoke it (the confirm dialog accepted)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('[data-key="web-ci"] .revoke')
    page.wait_for_selector('[data-key="web-ci"]:has-text("revoked")')


def test_admin_is_hidden_from_a_viewer(console: Console, web_server: Seeded) -> None:
    with web_server.client() as client:
        made = client.post(
            "/api/v1/users",
            json={"username": "web-viewer", "password": "viewer-password-123!", "role": "viewer"},
        )
        assert made.status_code in (201, 409), made.text
    console.goto("/ui/admin")
    console.login("web-viewer", "viewer-password-123!")
    console.wait_ready("/admin")
    page = console.page
    assert page.locator("nav >> text=Admin").count() == 0
    # a viewer sees the tenant list (its own tenant) and nothing an admin manages
    assert page.locator('[data-tenant="default"]').is_visible()
    for section in ("#users", "#apikeys", "#audit", "#config"):
        assert page.locator(section).count() == 0
    console.check("admin-viewer")


def test_the_three_pages_fit_a_phone(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 800})
    console.goto("/ui/rules")
    console.login()
    for path in ("/rules", "/notifications", "/admin"):
        if path != "/rules":
            page.click(".menu-toggle")
            page.click(f"nav >> text={path[1:].capitalize()}")
        console.wait_ready(path)
        assert page.evaluate(OVERFLOW) == 0, path
        console.check(f"phone-{path[1:]}")
