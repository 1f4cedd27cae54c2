"""`watchkeeper user export|erase`: a person's data, for GDPR requests (operator only).

Registered on the `user` command group in `cli/main.py`.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.audit import CHECKPOINT_FILE, AuditEntry, AuditLog
from watchkeeper.auth import gdpr
from watchkeeper.cli.common import CliError, ConfigOption, open_db


def user_export(
    user: Annotated[str, typer.Argument(help="user id or username")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="file to write (mode 0600); default stdout"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Export everything kept about a user as JSON (account, memberships, audit entries,
    comments, assignments, API keys and sessions metadata)."""
    with open_db(config) as db, db.sessions.system("cli personal data export") as session:
        data = gdpr.export_user(session, user)
    text = json.dumps(data, indent=2, sort_keys=True)
    if output is None:
        typer.echo(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    typer.echo(f"exported user {data['account']['id']} to {output}")


def user_erase(
    user: Annotated[str, typer.Argument(help="user id or username")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase a user: pseudonymise them everywhere (audit trail included, still verifiable),
    clear email and password, disable, revoke sessions and API keys."""
    if not yes:
        raise CliError("erasure cannot be undone: add --yes to confirm")
    with open_db(config) as db:
        audit = AuditLog(
            db.sessions,
            db.settings.jwt_secret_key.get_secret_value(),
            checkpoint_file=db.settings.data_dir / CHECKPOINT_FILE,
        )
        with db.sessions.system("cli personal data erasure") as session:
            done = gdpr.erase_user(session, audit, user, now=db.clock.now())
        audit.record(
            AuditEntry(
                at=db.clock.now(),
                tenant_id=None,
                actor_type="cli",
                actor_id=None,
                actor_name=getpass.getuser(),
                action="CLI user erase",
                method="CLI",
                path=f"user erase {done.user_id}",
                status_code=200,
                request_id=uuid.uuid4().hex,
                details={"erased": done.pseudonym},
            )
        )
    typer.echo(
        f"erased user {done.user_id}: now {done.pseudonym}; {done.audit_records} audit records "
        f"pseudonymised, {len(done.sessions_revoked)} sessions and {done.api_keys_revoked} "
        "API keys revoked"
    )
