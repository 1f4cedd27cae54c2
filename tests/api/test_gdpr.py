"""A person's data: exported for them or a superadmin; erased by a superadmin into a
pseudonym, the audit trail rewritten yet still verifiable."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.conftest import Env, TenantFixture
from tests.support import ADMIN_PASSWORD
from watchkeeper.cli.main import app as cli
from watchkeeper.db.tables import AuditRecord, UserTotp


def _user_id(env: Env, headers: dict[str, str], username: str) -> str:
    listed = env.client.get("/api/v1/users", headers=headers).json()
    return str(next(u["id"] for u in listed if u["username"] == username))


def _incident_with_comment(env: Env, acme: TenantFixture, assignee: str) -> str:
    created = env.client.post(
        "/incidents", headers=acme.admin, json={"title": "db down", "assignee": assignee}
    )
    assert created.status_code == 201, created.text
    incident = str(created.json()["id"])
    comment = env.client.post(
        f"/incidents/{incident}/comments", headers=acme.admin, json={"text": "on it"}
    )
    assert comment.status_code == 201, comment.text
    return incident


def test_a_user_exports_their_own_data_without_secrets(env: Env, acme: TenantFixture) -> None:
    env.client.put("/api/v1/retention", headers=acme.viewer, json={"audit_days": 100})  # 403

    response = env.client.get("/api/v1/me/export", headers=acme.viewer)

    assert response.status_code == 200, response.text
    data = response.json()
    assert data["account"]["username"] == "acme-viewer"
    assert data["memberships"] == [
        {"tenant": "acme", "role": "viewer", "created_at": data["memberships"][0]["created_at"]}
    ]
    actions = {(r["action"], r["outcome"]) for r in data["audit"]}
    assert ("POST /auth/login", "success") in actions
    assert ("PUT /api/v1/retention", "denied") in actions
    assert data["sessions"] and "hash" not in json.dumps(data).replace("last_hash", "")
    assert "password" not in json.dumps(data["account"]).replace("password_change_required", "")


def test_a_superadmin_exports_any_user_and_others_may_not(
    env: Env, root: dict[str, str], acme: TenantFixture
) -> None:
    admin_id = _user_id(env, acme.admin, "acme-admin")
    incident = _incident_with_comment(env, acme, admin_id)

    data = env.client.get(f"/api/v1/users/{admin_id}/export", headers=root).json()
    refused = env.client.get(f"/api/v1/users/{admin_id}/export", headers=acme.admin)

    assert [c["message"] for c in data["comments"]] == ["on it"]
    assert [a["incident_id"] for a in data["assignments"]] == [incident]
    assert [k["name"] for k in data["api_keys"]] == ["machines"]
    assert refused.status_code == 403


def test_erasure_pseudonymises_everywhere_and_the_audit_trail_still_verifies(
    env: Env, root: dict[str, str], acme: TenantFixture
) -> None:
    admin_id = _user_id(env, acme.admin, "acme-admin")
    incident = _incident_with_comment(env, acme, admin_id)
    env.client.post("/auth/login", json={"username": "acme-admin", "password": "wrong-guess-1"})
    now = env.clock.now()
    silence = env.client.post(
        "/api/v2/silences",
        headers=acme.admin,
        json={
            "matchers": [{"name": "alertname", "value": "HighCpu", "isRegex": False}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "comment": "disk swap",
        },
    )
    assert silence.status_code == 200, silence.text
    assert env.client.post("/auth/2fa/setup", headers=acme.admin).status_code == 200

    response = env.client.post(f"/api/v1/users/{admin_id}/erase", headers=root)

    assert response.status_code == 200, response.text
    pseudonym = response.json()["pseudonym"]
    assert pseudonym.startswith("erased-")
    report = env.context.audit.verify()
    assert report.intact, report.problems
    with env.context.sessions.system("test") as db:
        rows = list(db.scalars(select(AuditRecord)))
        assert db.get(UserTotp, admin_id) is None  # the second factor's secret is gone too
    trail = json.dumps([[r.actor_name, r.details, r.path] for r in rows])
    assert "acme-admin" not in trail and pseudonym in trail
    # The erased admin's sessions and the API key they created are revoked.
    assert env.client.get("/api/v1/users", headers=acme.admin).status_code == 401
    assert env.client.get("/api/v1/users", headers=acme.key).status_code == 401
    login = env.client.post(
        "/auth/login",
        json={"username": "acme-admin", "password": ADMIN_PASSWORD, "tenant": "acme"},
    )
    assert login.status_code == 401
    exported = env.client.get(f"/api/v1/users/{admin_id}/export", headers=root).json()
    assert exported["account"]["username"] == pseudonym and exported["account"]["email"] is None
    assert exported["account"]["disabled"] is True
    assert [c["message"] for c in exported["comments"]] == ["on it"]
    assert [a["incident_id"] for a in exported["assignments"]] == [incident]
    assert [r["comment"] for r in exported["silences"]] == ["disk swap"]


def test_a_rewritten_row_tampered_with_afterwards_breaks_the_chain(
    env: Env, root: dict[str, str], acme: TenantFixture
) -> None:
    admin_id = _user_id(env, acme.admin, "acme-admin")
    env.client.post(f"/api/v1/users/{admin_id}/erase", headers=root)
    with env.context.sessions.system("test") as db:
        sealed = db.scalar(select(AuditRecord.id).where(AuditRecord.seal.is_not(None)).limit(1))
        db.execute(update(AuditRecord).where(AuditRecord.id == sealed).values(actor_name="bob"))

    intact, _, bad = env.context.audit.verify_chain()

    assert not intact and bad == sealed


def test_only_a_superadmin_erases_and_not_themselves(
    env: Env, root: dict[str, str], acme: TenantFixture
) -> None:
    viewer = acme.viewer_id
    root_id = env.client.get("/api/v1/me/export", headers=root).json()["account"]["id"]

    assert env.client.post(f"/api/v1/users/{viewer}/erase", headers=acme.admin).status_code == 403
    assert env.client.post(f"/api/v1/users/{root_id}/erase", headers=root).status_code == 409
    assert env.client.post("/api/v1/users/nobody/erase", headers=root).status_code == 404


def test_cli_exports_and_erases(env: Env, acme: TenantFixture) -> None:
    runner = CliRunner()
    config = ["--config", str(env.config_file)]
    exported = runner.invoke(cli, ["user", "export", "acme-viewer", *config])
    refused = runner.invoke(cli, ["user", "erase", "acme-viewer", *config])
    erased = runner.invoke(cli, ["user", "erase", "acme-viewer", "--yes", *config])

    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["account"]["username"] == "acme-viewer"
    assert refused.exit_code != 0
    assert erased.exit_code == 0, erased.output
    assert "erased-" in erased.stdout
    assert env.context.audit.verify().intact
    assert env.client.get("/api/v1/alerts", headers=acme.viewer).status_code == 401
