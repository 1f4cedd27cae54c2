"""GET/PUT /admin/config: redacted, validated whole, persisted, audited."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import Env


def test_get_config_redacts_secrets(env: Env) -> None:
    config = env.client.get("/admin/config", headers=env.login()).json()
    assert config["jwt_secret_key"] == "********" and config["encryption_key"] == "********"
    assert config["metrics"]["retention_days"] == 90


def test_bad_value_is_rejected_whole_and_nothing_changes(env: Env) -> None:
    headers = env.login()
    before = env.client.get("/admin/config", headers=headers).json()
    file_before = env.config_file.read_text()
    response = env.client.put(
        "/admin/config",
        headers=headers,
        json={"metrics": {"retention_days": 30, "collection_interval": -5}},
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details == [
        {
            "key": "metrics.collection_interval",
            "value": "-5",
            "rule": "Input should be greater than 0",
        }
    ]
    assert env.client.get("/admin/config", headers=headers).json() == before
    assert env.config_file.read_text() == file_before


def test_unknown_key_is_rejected(env: Env) -> None:
    response = env.client.put(
        "/admin/config", headers=env.login(), json={"metrics": {"retention_dayz": 3}}
    )
    assert response.status_code == 422
    assert "unknown key" in response.json()["error"]["details"][0]["rule"]


def test_good_change_is_applied_persisted_and_audited(env: Env) -> None:
    headers = env.login()
    response = env.client.put(
        "/admin/config", headers=headers, json={"metrics": {"retention_days": 30}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["metrics.retention_days"]
    assert (
        env.client.get("/admin/config", headers=headers).json()["metrics"]["retention_days"] == 30
    )
    assert yaml.safe_load(env.config_file.read_text())["metrics"]["retention_days"] == 30
    audit = env.client.get("/api/v1/audit", headers=headers).json()
    assert audit[0]["action"] == "PUT /admin/config" and audit[0]["details"]["changed"] == [
        "metrics.retention_days"
    ]


def test_key_set_by_the_environment_cannot_be_changed_here(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHKEEPER_METRICS__RETENTION_DAYS", "10")
    response = env.client.put(
        "/admin/config", headers=env.login(), json={"metrics": {"retention_days": 30}}
    )
    assert response.status_code == 422
    assert "environment" in response.json()["error"]["details"][0]["rule"]


def test_production_rules_apply_to_runtime_changes(env: Env) -> None:
    response = env.client.put(
        "/admin/config", headers=env.login(), json={"profile": "production", "debug": True}
    )
    assert response.status_code == 422
    assert any(d["key"] == "debug" for d in response.json()["error"]["details"])
