"""`backup create` against a real `watchkeeper serve`: the CLI cannot open the store the
server holds, so it says so, and `--via URL` has the server take the backup."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.cli.conftest import Result
from tests.test_server_process import Server


def test_cli_backup_via_the_running_server(
    stack_server: Server, run: Callable[..., Result]
) -> None:
    config = str(stack_server.config)
    held = run("backup", "create", "--to", "nightly", "-c", config, check=False)
    assert held.returncode == 1 and "held by a running server" in held.stderr
    with httpx.Client(timeout=30) as client:
        token = stack_server.login(client)["Authorization"].removeprefix("Bearer ")
    made = run(
        "backup",
        "create",
        "--to",
        "nightly",
        "--via",
        stack_server.url,
        env={"WATCHKEEPER_TOKEN": token},
    )
    assert "taken by the server" in made.stdout
    folder = made.stdout.split(" in ", 1)[1].split(" (taken")[0]
    verified = run("backup", "verify", folder)
    assert "verified" in verified.stdout
