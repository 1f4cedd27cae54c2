"""Two-factor login: TOTP enrolment, the second login step, replay refusal, recovery codes,
disabling, encryption at rest, and a tenant's requirement for its admins."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from tests.conftest import Env, TenantFixture
from tests.security.helpers import configure
from tests.support import ADMIN_PASSWORD
from watchkeeper.db.tables import RecoveryCode, UserTotp

GOOD = {"username": "admin", "password": ADMIN_PASSWORD}


def _enrol(env: Env, headers: dict[str, str]) -> tuple[pyotp.TOTP, list[str]]:
    setup = env.client.post("/auth/2fa/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/Watchkeeper:")
    enabled = env.client.post(
        "/auth/2fa/enable", headers=headers, json={"code": totp.at(env.clock.time())}
    )
    assert enabled.status_code == 200, enabled.text
    return totp, enabled.json()["recovery_codes"]


def _second_step(env: Env, code: str, login: dict[str, str] = GOOD) -> tuple[int, dict[str, str]]:
    first = env.client.post("/auth/login", json=login)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["two_factor_required"] is True and "access_token" not in body
    response = env.client.post(
        "/auth/login/2fa", json={"challenge_token": body["challenge_token"], "code": code}
    )
    headers = (
        {"Authorization": f"Bearer {response.json()['access_token']}"}
        if response.status_code == 200
        else {}
    )
    return response.status_code, headers


def test_enrol_then_log_in_with_a_code_and_never_with_the_same_code_twice(
    env: Env, root: dict[str, str]
) -> None:
    wrong = env.client.post("/auth/2fa/setup", headers=root)
    bad = env.client.post(
        "/auth/2fa/enable",
        headers=root,
        json={"code": pyotp.TOTP(wrong.json()["secret"]).at(env.clock.time() + 600)},
    )
    assert bad.status_code == 422
    totp, recovery = _enrol(env, root)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    # The code that confirmed enrolment was spent: the same time step is refused.
    assert _second_step(env, totp.at(env.clock.time()))[0] == 401
    env.clock.advance(30)
    code = totp.at(env.clock.time())
    status, headers = _second_step(env, code)
    assert status == 200
    assert env.client.get("/auth/me", headers=headers).status_code == 200
    assert _second_step(env, code)[0] == 401  # replayed in the same step
    env.clock.advance(30)
    assert _second_step(env, totp.at(env.clock.time() - 30))[0] == 401  # an older step
    assert _second_step(env, totp.at(env.clock.time()))[0] == 200  # drift of one step is fine


def test_the_challenge_is_not_an_access_token_and_expires(env: Env, root: dict[str, str]) -> None:
    totp, _ = _enrol(env, root)
    challenge = env.client.post("/auth/login", json=GOOD).json()["challenge_token"]
    as_bearer = env.client.get("/auth/me", headers={"Authorization": f"Bearer {challenge}"})
    assert as_bearer.status_code == 401
    env.clock.advance(301)
    late = env.client.post(
        "/auth/login/2fa",
        json={"challenge_token": challenge, "code": totp.at(env.clock.time())},
    )
    assert late.status_code == 401 and "expired" in late.json()["error"]["message"]


def test_a_recovery_code_works_once(env: Env, root: dict[str, str]) -> None:
    _, recovery = _enrol(env, root)
    assert _second_step(env, recovery[0].upper())[0] == 200  # case and dashes do not matter
    assert _second_step(env, recovery[0])[0] == 401
    assert _second_step(env, recovery[1].replace("-", ""))[0] == 200
    with env.context.sessions.system("test") as db:
        hashes = list(db.scalars(select(RecoveryCode.code_hash)))
    assert len(hashes) == 10 and not any(c.replace("-", "") in hashes for c in recovery)


def test_wrong_codes_count_towards_the_login_lockout(env: Env, root: dict[str, str]) -> None:
    configure(env, {"auth": {"login_max_failures": 3}})
    totp, _ = _enrol(env, root)
    challenge = env.client.post("/auth/login", json=GOOD).json()["challenge_token"]
    for _ in range(3):
        wrong = env.client.post(
            "/auth/login/2fa", json={"challenge_token": challenge, "code": "000000"}
        )
        assert wrong.status_code == 401
    env.clock.advance(30)
    right = env.client.post(
        "/auth/login/2fa",
        json={"challenge_token": challenge, "code": totp.at(env.clock.time())},
    )
    assert right.status_code == 429


def test_disable_needs_password_and_code(env: Env, root: dict[str, str]) -> None:
    totp, _ = _enrol(env, root)
    env.clock.advance(30)
    status, headers = _second_step(env, totp.at(env.clock.time()))
    assert status == 200
    env.clock.advance(30)
    no_password = env.client.post(
        "/auth/2fa/disable",
        headers=headers,
        json={"password": "wrong-password-123", "code": totp.at(env.clock.time())},
    )
    assert no_password.status_code == 401
    no_code = env.client.post(
        "/auth/2fa/disable", headers=headers, json={"password": ADMIN_PASSWORD, "code": "123456"}
    )
    assert no_code.status_code == 401
    done = env.client.post(
        "/auth/2fa/disable",
        headers=headers,
        json={"password": ADMIN_PASSWORD, "code": totp.at(env.clock.time())},
    )
    assert done.status_code == 204, done.text
    assert "access_token" in env.client.post("/auth/login", json=GOOD).json()


def test_the_secret_is_encrypted_at_rest(env: Env, root: dict[str, str]) -> None:
    assert env.context.settings.encryption_key is not None  # `init` generates one
    setup = env.client.post("/auth/2fa/setup", headers=root).json()
    with env.context.sessions.system("test") as db:
        stored = db.scalars(select(UserTotp.secret)).one()
    assert stored.startswith("wkenc:") and setup["secret"] not in stored


def test_a_tenant_requiring_2fa_sends_its_admins_to_enrol_first(
    env: Env, acme: TenantFixture
) -> None:
    policy = env.client.put(
        "/api/v1/tenants/acme/security", headers=acme.admin, json={"require_admin_2fa": True}
    )
    assert policy.status_code == 200 and policy.json()["require_admin_2fa"] is True
    assert (
        env.client.put(
            "/api/v1/tenants/acme/security", headers=acme.viewer, json={"require_admin_2fa": False}
        ).status_code
        == 403
    )
    admin = env.login("acme-admin", tenant="acme")
    refused = env.client.get("/api/v1/rules", headers=admin)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_factor_setup_required"
    viewer = env.login("acme-viewer", tenant="acme")
    assert env.client.get("/api/v1/rules", headers=viewer).status_code == 200
    totp, _ = _enrol(env, admin)
    env.clock.advance(30)
    login = {"username": "acme-admin", "password": ADMIN_PASSWORD, "tenant": "acme"}
    status, full = _second_step(env, totp.at(env.clock.time()), login)
    assert status == 200
    assert env.client.get("/api/v1/rules", headers=full).status_code == 200


def test_codes_in_other_scripts_are_refused_not_a_server_error(
    env: Env, root: dict[str, str]
) -> None:
    """Found by the fuzzer: "00000\\u0080" and non-ASCII digits reached hmac.compare_digest."""
    env.client.post("/auth/2fa/setup", headers=root)
    for code in ("00000\u0080", "\u0661\u0662\u0663\u0664\u0665\u0666", "12345\u00e9"):
        response = env.client.post("/auth/2fa/enable", headers=root, json={"code": code})
        assert response.status_code == 422, (code, response.text)
    _enrol(env, root)
    env.clock.advance(30)
    assert _second_step(env, "\u0661\u0662\u0663\u0664\u0665\u0666")[0] == 401
