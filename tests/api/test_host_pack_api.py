"""The default host rule pack is served like any rule group, to the default tenant."""

from __future__ import annotations

import time

from tests.conftest import Env


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
