"""PostgreSQL point-in-time recovery, run as docs/operations.md ("PostgreSQL point-in-time
recovery") describes it: archiving settings, a `pg_basebackup`, then a restore of that base
backup to each of three recorded moments. The restores go to new data folders on new ports
while the original cluster keeps running (the documented restore reuses the old folder after
moving it aside; the PostgreSQL steps are the same)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support import ADMIN_PASSWORD, free_port, missing
from watchkeeper.bootstrap import initialise
from watchkeeper.cli.doctor import run_checks
from watchkeeper.clock import SystemClock
from watchkeeper.tenancy import service
from watchkeeper.tenancy.scope import SessionFactory

pytestmark = [pytest.mark.slow]

TOOLS = ("initdb", "pg_ctl", "pg_basebackup")


def _bin_dir() -> Path:
    """The newest Debian PostgreSQL with every tool the procedure uses."""
    for candidate in sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all((Path(candidate) / tool).exists() for tool in TOOLS):
            return Path(candidate)
    missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    raise AssertionError("unreachable")


class Postgres:
    """Runs the PostgreSQL tools as the `postgres` user when the tests run as root (initdb
    and the server refuse root), in a folder that user owns."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.running: list[Path] = []
        self.as_root = os.geteuid() == 0

    def run(self, *args: str | Path) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        command = [*prefix, *(str(a) for a in args)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{command} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def tool(self, name: str, *args: str | Path) -> str:
        return self.run(self.bin_dir / name, *args)

    def start(self, data: Path, port: int) -> str:
        log = self.root / f"{data.name}.log"
        try:
            self.tool("pg_ctl", "-D", data, "-l", log, "-o", f"-p {port}", "-w", "start")
        except AssertionError as exc:
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise AssertionError(f"{exc}\nserver log:\n{tail}") from exc
        self.running.append(data)
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def stop_all(self) -> None:
        """Stop every cluster started, even when stopping one of them fails."""
        failures: list[str] = []
        while self.running:
            data = self.running.pop()
            try:
                self.tool("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, failures


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="wk-pitr-"))
    server = Postgres(bin_dir, root)
    if server.as_root:
        try:
            shutil.chown(root, "postgres", "postgres")
        except LookupError:
            shutil.rmtree(root)
            missing("running as root and there is no `postgres` user to run PostgreSQL as")
    try:
        yield server
    finally:
        try:
            server.stop_all()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def _tenants(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT name FROM tenants"))}
    finally:
        engine.dispose()


def _archive_through(engine: Engine) -> None:
    """Close the current WAL segment and wait until the archiver has copied it."""
    segment = _scalar(engine, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        archived = _scalar(engine, "SELECT last_archived_wal FROM pg_stat_archiver")
        if isinstance(archived, str) and isinstance(segment, str) and archived >= segment:
            return
        time.sleep(0.05)
    failed = _scalar(engine, "SELECT last_failed_wal FROM pg_stat_archiver")
    raise AssertionError(f"segment {segment} not archived (last failed: {failed})")


def _wait_promoted(url: str) -> None:
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 30
        while _scalar(engine, "SELECT pg_is_in_recovery()"):
            assert time.monotonic() < deadline, "recovery did not finish in 30 s"
            time.sleep(0.05)
    finally:
        engine.dispose()


def test_restore_reaches_exactly_the_rows_of_each_moment(
    postgres: Postgres, tmp_path: Path
) -> None:
    data, archive, base = postgres.root / "data", postgres.root / "archive", postgres.root / "base"
    postgres.run("mkdir", "-m", "0700", archive)
    postgres.tool("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            # Step 1 of the documented procedure.
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'\n"
            "archive_timeout = 60\n"
        )
    port = free_port()
    url = postgres.start(data, port)
    init = initialise(
        tmp_path / "wk", clock=SystemClock(), admin_password=ADMIN_PASSWORD, database_url=url
    )
    # Step 2: the base backup, before any of the moments.
    postgres.tool(
        "pg_basebackup", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
        "-D", base, "-Fp", "-X", "stream", "-c", "fast",
    )  # fmt: skip

    engine = create_engine(url)
    sessions = SessionFactory(engine)
    moments: list[tuple[datetime, set[str]]] = []
    expected = {"default"}
    try:
        for name in ("first", "second", "third", "after"):
            with sessions.system("pitr test") as db:
                service.create_tenant(db, name=name, now=SystemClock().now())
            expected = expected | {name}
            at = _scalar(engine, "SELECT clock_timestamp()")
            assert isinstance(at, datetime)
            moments.append((at, expected))
        # "after" is the commit that shows recovery the third moment has passed.
        del moments[-1]
        _archive_through(engine)
    finally:
        engine.dispose()

    for number, (at, rows) in enumerate(moments, start=1):
        # Step 3: a copy of the base backup, the recovery settings, recovery.signal.
        restored = postgres.root / f"restored-{number}"
        postgres.run("mkdir", "-m", "0700", restored)
        postgres.run("cp", "-a", f"{base}/.", f"{restored}/")
        with (restored / "postgresql.conf").open("a") as conf:
            conf.write(
                f"restore_command = 'cp {archive}/%f %p'\n"
                f"recovery_target_time = '{at.isoformat()}'\n"
                "recovery_target_timeline = 'current'\n"
                "recovery_target_action = 'promote'\n"
            )
        postgres.run("touch", restored / "recovery.signal")
        restored_url = postgres.start(restored, free_port())
        _wait_promoted(restored_url)

        assert _tenants(restored_url) == rows, f"moment {number} ({at.isoformat()})"
        doctor = run_checks(
            init.settings.model_copy(update={"database_url": restored_url}), check_port=False
        )
        migrations = next(check for check in doctor if check.name == "migrations")
        assert migrations.status == "ok", migrations.line()
        _write_and_archive(restored_url, f"restored-{number}")


def _write_and_archive(url: str, tenant: str) -> None:
    """Use the restored database as production would, so that its new timeline reaches the
    archive: the next restores must not follow it (`recovery_target_timeline`)."""
    engine = create_engine(url)
    try:
        with SessionFactory(engine).system("pitr test") as db:
            service.create_tenant(db, name=tenant, now=SystemClock().now())
        _archive_through(engine)
    finally:
        engine.dispose()
