"""`watchkeeper deploy`: check this machine for a deployment mode and write its files.

The files are the ones shipped in the package (`watchkeeper/deploy_files/`, linked from
`deploy/` in the source tree), copied with the profile set, so what an operator applies is
what the test suite validated. Secrets are never templated into them: the compose mode
generates fresh ones in `secrets/`, the Kubernetes production and staging overlays expect a
Secret created out of band.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli import common
from watchkeeper.cli.common import CliError, ConfigOption
from watchkeeper.cli.doctor import Check
from watchkeeper.config import Profile, load_settings

UNIT_EXECUTABLE = "/opt/watchkeeper/bin/watchkeeper"
"""Where the shipped unit expects the command; `deploy` puts this installation's instead."""


class Mode(StrEnum):
    standalone = "standalone"
    docker = "docker"
    kubernetes = "kubernetes"


class Env(StrEnum):
    dev = "dev"
    staging = "staging"
    production = "production"


@dataclass(frozen=True)
class Plan:
    files: dict[Path, bytes]
    """Relative path -> content."""
    private: frozenset[Path]
    """Files written only when absent (generated secrets), never overwritten."""
    next_command: str


def shipped() -> Traversable:
    return resources.files("watchkeeper").joinpath("deploy_files")


def _tree(folder: Traversable, prefix: Path) -> dict[Path, bytes]:
    out: dict[Path, bytes] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            out.update(_tree(entry, prefix / entry.name))
        elif not entry.name.endswith((".pyc", ".py")):
            out[prefix / entry.name] = entry.read_bytes()
    return out


def _tool(name: str) -> str | None:
    return shutil.which(name)


def _docker_compose() -> str | None:
    """The compose command available: podman-compose, docker-compose or `docker compose`."""
    for name in ("podman-compose", "docker-compose"):
        if _tool(name):
            return name
    docker = _tool("docker")
    if docker:
        found = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=20, check=False
        )
        if found.returncode == 0:
            return "docker compose"
    return None


def _standalone(env: Env, config: Path | None, check: bool) -> tuple[Plan, list[Check]]:
    from watchkeeper.cli.doctor import run_checks

    path = common.find_config(config)
    settings = load_settings(path, overrides={"profile": env.value})
    # The port is not checked: the service this deploys may be running already (an upgrade).
    checks = run_checks(settings, check_port=False) if check else []
    # An upgrade: the unit migrates (`db upgrade` in ExecStartPre) before its own doctor run.
    checks = [
        Check("warn", c.name, f"{c.detail}; the unit's ExecStartPre runs it")
        if c.name == "migrations" and c.status == "fail" and "db upgrade" in c.detail
        else c
        for c in checks
    ]
    files = _tree(shipped().joinpath("systemd"), Path())
    executable = Path(sys.prefix) / "bin" / "watchkeeper"
    unit = files[Path("watchkeeper.service")].decode()
    if executable.exists():
        unit = unit.replace(UNIT_EXECUTABLE, str(executable))
    data_dir = settings.data_dir.resolve()
    unit = unit.replace("/var/lib/watchkeeper", str(data_dir))
    if path is not None:
        unit = unit.replace(
            f"WATCHKEEPER_CONFIG={data_dir}/watchkeeper.yaml",
            f"WATCHKEEPER_CONFIG={path.resolve()}",
        )
    files[Path("watchkeeper.service")] = unit.encode()
    environment = files[Path("watchkeeper.env")].decode()
    environment = environment.replace(
        "WATCHKEEPER_PROFILE=production", f"WATCHKEEPER_PROFILE={env.value}"
    )
    files[Path("watchkeeper.env")] = environment.encode()
    return (
        Plan(
            files,
            frozenset(),
            "sudo install -m 640 {out}/watchkeeper.env /etc/watchkeeper/watchkeeper.env && "
            "sudo install -m 644 {out}/watchkeeper.service /etc/systemd/system/ && "
            "sudo systemctl daemon-reload && sudo systemctl enable --now watchkeeper",
        ),
        checks,
    )


def _compose_secrets() -> dict[Path, bytes]:
    password = secrets.token_hex(24)
    url = f"postgresql+psycopg://watchkeeper:{password}@postgres:5432/watchkeeper"
    values = {
        "postgres_password": password,
        "database_url": url,
        "jwt_secret_key": secrets.token_urlsafe(48),
        "encryption_key": secrets.token_urlsafe(32),  # 32 random bytes, base64 (AES-256)
    }
    return {Path("secrets") / name: (value + "\n").encode() for name, value in values.items()}


def _docker(env: Env) -> tuple[Plan, list[Check]]:
    checks: list[Check] = []
    engine = _tool("podman") or _tool("docker")
    if engine:
        checks.append(Check("ok", "container", engine))
    else:
        checks.append(Check("fail", "container", "neither podman nor docker is installed"))
    compose = _docker_compose()
    if compose:
        checks.append(Check("ok", "compose", compose))
    else:
        checks.append(
            Check(
                "fail",
                "compose",
                "no podman-compose, docker-compose or `docker compose` "
                "(e.g. apt-get install podman-compose)",
            )
        )
    files = _tree(shipped().joinpath("compose"), Path())
    tls_proxy = "true" if env is not Env.dev else "false"
    files[Path(".env")] = (
        "# Read by compose from this folder.\n"
        f"WATCHKEEPER_PROFILE={env.value}\n"
        "WATCHKEEPER_IMAGE=localhost/watchkeeper:latest\n"
        "# A TLS-terminating proxy in front (the staging and production profiles serve HTTPS "
        "only).\n"
        f"WATCHKEEPER_TLS_PROXY={tls_proxy}\n"
    ).encode()
    generated = _compose_secrets()
    files.update(generated)
    command = compose or "podman-compose"
    return (
        Plan(
            files,
            frozenset(generated),
            "podman build -t localhost/watchkeeper:latest <source tree> && "
            f"cd {{out}} && {command} up -d   "
            f"(scale-out: {command} -f compose.scale-out.yaml up -d)",
        ),
        checks,
    )


def _kubernetes(env: Env) -> tuple[Plan, list[Check]]:
    checks: list[Check] = []
    kubectl, kustomize = _tool("kubectl"), _tool("kustomize")
    if kubectl:
        checks.append(Check("ok", "kubectl", kubectl))
    else:
        checks.append(Check("fail", "kubectl", "not installed (needed to apply the manifests)"))
    if not (kubectl or kustomize):
        checks.append(Check("fail", "kustomize", "neither kubectl nor kustomize is installed"))
    files = _tree(shipped().joinpath("kubernetes"), Path())
    overlay = f"overlays/{env.value}"
    secret = (
        ""
        if env is Env.dev
        else "kubectl create secret generic watchkeeper-secrets "
        f"--namespace {'watchkeeper' if env is Env.production else 'watchkeeper-staging'} "
        "--from-file=jwt-secret-key=... --from-file=encryption-key=... "
        "--from-file=database-url=... --from-file=redis-url=... && "
    )
    return Plan(files, frozenset(), f"{secret}kubectl apply -k {{out}}/{overlay}"), checks


def _render_check(out: Path, env: Env) -> Check:
    """Kustomize renders the written overlay (it would refuse a broken patch)."""
    kubectl, kustomize = _tool("kubectl"), _tool("kustomize")
    folder = str(out / "overlays" / env.value)
    command = (
        [kubectl, "kustomize", folder] if kubectl else [kustomize or "kustomize", "build", folder]
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["failed"])[0]
        return Check("fail", "render", f"{' '.join(command)}: {first}")
    objects = sum(1 for line in result.stdout.splitlines() if line.startswith("kind:"))
    return Check("ok", "render", f"overlays/{env.value}: {objects} objects")


def _write(out: Path, plan: Plan, force: bool) -> list[Path]:
    clashes = [p for p in plan.files if p not in plan.private and (out / p).exists() and not force]
    if clashes:
        raise CliError(
            f"{out / clashes[0]} exists ({len(clashes)} file(s) would be replaced); "
            "choose another --out or pass --force"
        )
    written = []
    for relative, content in sorted(plan.files.items()):
        target = out / relative
        if relative in plan.private:
            if target.exists():
                continue  # a generated secret: the running stack uses it
            target.parent.mkdir(parents=True, exist_ok=True)
            target.parent.chmod(0o700)  # the folder keeps others out
            target.write_bytes(content)
            # Readable by the containers' users (bind-mounted alone into each container).
            target.chmod(0o644)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        written.append(relative)
    return written


def deploy(
    mode: Annotated[Mode, typer.Option(help="standalone (systemd), docker (compose), kubernetes")],
    out: Annotated[Path, typer.Option(help="folder to write the files into")],
    env: Annotated[Env, typer.Option(help="profile of the deployment")] = Env.dev,
    config: ConfigOption = None,
    checks: Annotated[
        bool,
        typer.Option("--checks/--no-checks", help="stop when a check fails (default: on)"),
    ] = True,
    force: Annotated[bool, typer.Option(help="replace files that exist in --out")] = False,
) -> None:
    """Check this machine for a deployment mode, write its files (systemd unit, compose files,
    Kubernetes manifests) with the profile set, and print the command that starts it.
    Standalone runs `doctor`'s checks against the configuration; docker and kubernetes check
    the tools they need."""
    profile: Profile = env.value
    if mode is Mode.standalone:
        plan, found = _standalone(env, config, checks)
    elif mode is Mode.docker:
        plan, found = _docker(env)
    else:
        plan, found = _kubernetes(env)
    for check in found:
        typer.echo(check.line())
    failed = [c.name for c in found if c.status == "fail"]
    if failed and checks:
        raise CliError(
            f"{len(failed)} check(s) failed: {', '.join(failed)} "
            "(fix them, or write the files anyway with --no-checks)"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = _write(out, plan, force)
    typer.echo(f"wrote {len(written)} file(s) for {mode.value} ({profile}) to {out}")
    if mode is Mode.kubernetes and (_tool("kubectl") or _tool("kustomize")):
        rendered = _render_check(out, env)
        typer.echo(rendered.line())
        if rendered.status == "fail":
            raise CliError("the written manifests do not render")
    typer.echo("next: " + plan.next_command.format(out=out))
