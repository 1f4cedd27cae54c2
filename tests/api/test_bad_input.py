"""Bad input gets the right 4xx and a message that says what is wrong; never a 500."""

from __future__ import annotations

from tests.conftest import Env


def _error(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    error: dict[str, object] = body["error"]
    return error


def test_malformed_json_is_a_400(env: Env) -> None:
    response = env.client.post(
        "/auth/login",
        content=b'{"username": "admin",',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


def test_wrong_types_name_the_field(env: Env) -> None:
    response = env.client.post("/auth/login", json={"username": 42, "password": ["x"]})
    assert response.status_code == 422
    message = str(_error(response)["message"])
    assert "body.username" in message and "body.password" in message


def test_unknown_fields_are_rejected(env: Env) -> None:
    response = env.client.post(
        "/auth/login", json={"username": "a", "password": "b", "is_admin": True}
    )
    assert response.status_code == 422
    assert "is_admin" in str(_error(response)["message"])


def test_oversized_body_is_a_413_before_it_is_read(env: Env) -> None:
    limit = env.context.settings.api.max_body_bytes
    response = env.client.post(
        "/auth/login", content=b"x" * (limit + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert str(limit) in str(_error(response)["message"])


def test_unknown_route_and_method(env: Env) -> None:
    assert _error(env.client.get("/no/such/route"))["code"] == "not_found"
    response = env.client.delete("/health/live")
    assert response.status_code == 405 and _error(response)["code"] == "method_not_allowed"


def test_missing_credentials_are_a_401_with_a_hint(env: Env) -> None:
    response = env.client.get("/system/status")
    assert response.status_code == 401
    assert "Authorization: Bearer" in str(_error(response)["message"])
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_malformed_api_key_is_a_401(env: Env) -> None:
    response = env.client.get("/system/status", headers={"X-API-Key": "wk_short"})
    assert response.status_code == 401
    assert "malformed" in str(_error(response)["message"])


def test_non_object_body_is_a_422(env: Env) -> None:
    response = env.client.post("/auth/login", json=[1, 2, 3])
    assert response.status_code == 422
