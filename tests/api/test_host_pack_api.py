"""The default host rule pack is served like any rule group, to the default tenant."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Env


@pytest.fixture
def default_rule_pack() -> bool:
    return True


@pytest.mark.workers
def test_the_pack_is_listed_with_the_default_tenants_rules(env: Env) -> None:
    headers = env.login()
    deadline = time.monotonic() + 20  # the rule worker loads rule files as it starts
    while True:
        groups = env.client.get("/api/v1/rules", headers=headers).json()["data"]["groups"]
        pack = [g for g in groups if g["name"] == "watchkeeper-host"]
        if pack or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (group,) = pack
    assert group["source"] == "file"
    assert "HostFilesystemPredictedFull" in {r["name"] for r in group["rules"]}


@pytest.mark.parametrize("default_rule_pack", [False])
def test_the_pack_can_be_turned_off(env: Env) -> None:
    rules = env.context.rules
    assert rules is not None
    rules.load_files()  # what the worker does at start (it has no files to load)
    groups = env.client.get("/api/v1/rules", headers=env.login()).json()["data"]["groups"]
    assert [g["name"] for g in groups] == []
