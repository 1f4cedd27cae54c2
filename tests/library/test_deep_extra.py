"""Choosing the LSTM/VAE detectors without the `deep` extra (torch) is refused where they are
chosen, with a message naming the extra, instead of a training job failing later."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.conftest import Env, TenantFixture

HINT = "pip install 'watchkeeper[deep]'"


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default install: torch cannot be found (it is installed in the test venv)."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name == "torch" or name.startswith("torch."):
            return None
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("detector", ["lstm", "vae"])
def test_training_a_deep_detector_without_torch_is_a_422_naming_the_extra(
    env: Env, acme: TenantFixture, without_torch: None, detector: str
) -> None:
    response = env.client.post(
        "/ai/train", headers=acme.admin, json={"selector": "cpu_usage", "detector": detector}
    )
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert HINT in message and detector in message


def test_configuring_a_deep_detector_without_torch_is_a_422_naming_the_extra(
    env: Env, without_torch: None
) -> None:
    headers = env.login()
    file_before = env.config_file.read_text()
    response = env.client.put(
        "/admin/config", headers=headers, json={"detection": {"detector": "vae"}}
    )
    assert response.status_code == 422
    (detail,) = response.json()["error"]["details"]
    assert detail["key"] == "detection.detector"
    assert HINT in detail["rule"]
    assert env.config_file.read_text() == file_before


def test_other_detectors_train_without_torch(
    env: Env, acme: TenantFixture, without_torch: None
) -> None:
    response = env.client.post(
        "/ai/train",
        headers=acme.admin,
        json={"selector": "cpu_usage", "detector": "isolation_forest"},
    )
    assert response.status_code == 202


def test_with_torch_the_deep_detectors_are_accepted(env: Env, acme: TenantFixture) -> None:
    response = env.client.post(
        "/ai/train", headers=acme.admin, json={"selector": "cpu_usage", "detector": "lstm"}
    )
    assert response.status_code == 202


def test_a_config_choosing_a_deep_detector_without_torch_fails_at_load(
    without_torch: None,
) -> None:
    from watchkeeper.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as raised:
        load_settings(overrides={"detection": {"detector": "lstm"}})
    (problem,) = raised.value.problems
    assert problem.key == "detection.detector" and HINT in problem.rule
