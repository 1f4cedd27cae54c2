"""The Kubernetes manifests (Kustomize base + overlays dev/production): rendered by the real
Kustomize (`kubectl kustomize` or `kustomize build`), every object validated offline against
the Kubernetes JSON schemas (kubernetes-validate), and the properties a safe rolling deployment
depends on asserted; the shipped configuration loads as Settings with the pods' environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchkeeper.config import ConfigError, load_settings, serving_problems

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "src" / "watchkeeper" / "deploy_files" / "kubernetes"
OVERLAYS = ("dev", "staging", "production")
KUBERNETES_VERSION = "1.30.0"
"""Oldest Kubernetes the manifests target (autoscaling/v2, policy/v1 are GA there)."""


def _render_command(folder: Path) -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(folder)]
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(folder)]
    pytest.skip("neither kubectl nor kustomize is installed")


_rendered: dict[str, list[dict[str, Any]]] = {}


def render(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _rendered:
        folder = KUBERNETES / "overlays" / overlay
        out = subprocess.run(
            _render_command(folder), capture_output=True, text=True, timeout=60, check=True
        )
        _rendered[overlay] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return _rendered[overlay]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_the_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    objects = render(overlay)
    kinds = sorted(o["kind"] for o in objects)
    for required in (
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ):
        assert required in kinds, f"{overlay}: no {required}"
    assert find(objects, "ConfigMap", "watchkeeper-env")["data"]["WATCHKEEPER_PROFILE"] == overlay
    for obj in objects:
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            continue  # a CRD: checked structurally below
        # strict: unknown fields are errors too (a typo such as `readinessprobe` is caught).
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        suffix = "" if overlay == "production" else f"-{overlay}"
        assert obj["metadata"]["namespace"] == f"watchkeeper{suffix}"


def test_the_validator_rejects_a_broken_object() -> None:
    """The schema check above is not vacuous: a misspelt field in a rendered Deployment fails."""
    import kubernetes_validate

    api = find(render("production"), "Deployment", "watchkeeper-api")
    broken = yaml.safe_load(yaml.safe_dump(api))
    container(broken)["readinessprobe"] = container(broken).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_monitor_scrapes_metrics_of_both_roles(overlay: str) -> None:
    objects = render(overlay)
    monitor = find(objects, "ServiceMonitor", "watchkeeper")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoints = monitor["spec"]["endpoints"]
    assert endpoints and all(e["path"] == "/metrics" for e in endpoints)
    ports = {e["port"] for e in endpoints}
    services = [o for o in objects if o["kind"] == "Service"]
    scraped = [
        s
        for s in services
        if selector.items() <= s["metadata"]["labels"].items()
        and ports & {p["name"] for p in s["spec"]["ports"]}
    ]
    components = {s["spec"]["selector"]["app.kubernetes.io/component"] for s in scraped}
    assert components == {"api", "workers"}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("role", ["api", "workers"])
def test_each_role_deploys_safely(overlay: str, role: str) -> None:
    objects = render(overlay)
    deployment = find(objects, "Deployment", f"watchkeeper-{role}")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    main = container(deployment)

    # The role, from the shipped configuration file.
    args = main["args"]
    assert args[args.index("--roles") + 1] == role
    assert args[args.index("--config") + 1] == "/etc/watchkeeper/watchkeeper.yaml"

    # Rolling updates never lower capacity; pods drain before they stop.
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    sleep = main["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1])

    # Probes on the health endpoints, on the named container port.
    assert main["ports"][0] == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    for probe, path in (
        ("startupProbe", "/health/live"),
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
    ):
        assert main[probe]["httpGet"] == {"path": path, "port": "http"}, probe

    # Least privilege.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/data"]]

    # Requests and limits.
    for kind in ("requests", "limits"):
        assert set(main["resources"][kind]) == {"cpu", "memory"}

    # Secrets only as files, named by *_FILE variables, never as values in the environment.
    secret_volume = volumes[mounts["/run/secrets/watchkeeper"]]["secret"]
    assert secret_volume["secretName"] == "watchkeeper-secrets"
    env = {e["name"]: e for e in main["env"]}
    for name in ("JWT_SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"):
        assert name not in env
        path = env[f"{name}_FILE"]["value"]
        assert path.startswith("/run/secrets/watchkeeper/")
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in main["env"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_alone_is_autoscaled_and_protected_from_drains(overlay: str) -> None:
    objects = render(overlay)
    hpa = find(objects, "HorizontalPodAutoscaler", "watchkeeper-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "watchkeeper-api",
    }
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert len([o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]) == 1
    # The HPA owns the API's replica count: the Deployment does not fight it on re-apply.
    assert "replicas" not in find(objects, "Deployment", "watchkeeper-api")["spec"]
    pdb = find(objects, "PodDisruptionBudget", "watchkeeper-api")
    labels = find(objects, "Deployment", "watchkeeper-api")["spec"]["template"]["metadata"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels["labels"].items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    if overlay == "production":
        assert hpa["spec"]["minReplicas"] >= 3
        assert pdb["spec"]["minAvailable"] >= 2


def test_production_and_staging_ship_no_secret_values() -> None:
    assert not [o for o in render("production") if o["kind"] == "Secret"]
    assert not [o for o in render("staging") if o["kind"] == "Secret"]
    [secret] = [o for o in render("dev") if o["kind"] == "Secret"]
    assert all(
        "CHANGE-ME" in v or set(v) == {"0"} or v.startswith("redis://")
        for v in secret["stringData"].values()
    )


def _pod_settings(
    overlay: str,
    role: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    secrets: dict[str, str] | None = None,
) -> Any:
    """Settings as a pod of this overlay builds them: the ConfigMap's file, its environment
    (plain values and the ConfigMap's variables) and the Secret's keys as files."""
    objects = render(overlay)
    config = find(objects, "ConfigMap", "watchkeeper-config")["data"]["watchkeeper.yaml"]
    config_file = tmp_path / "watchkeeper.yaml"
    config_file.write_text(config)
    main = container(find(objects, "Deployment", f"watchkeeper-{role}"))
    environment = dict(find(objects, "ConfigMap", "watchkeeper-env")["data"])
    dev_secret = find(render("dev"), "Secret", "watchkeeper-secrets")["stringData"]
    dev_secret = {**dev_secret, **(secrets or {})}
    for item in main["env"]:
        value = item["value"]
        if item["name"].endswith("_FILE"):
            key = value.rsplit("/", 1)[-1]
            (tmp_path / key).write_text(dev_secret[key])
            value = str(tmp_path / key)
        environment[item["name"]] = value
    environment["WATCHKEEPER_DATA_DIR"] = str(tmp_path / "data")
    environment["WATCHKEEPER_SERVER__ROLES"] = f'["{role}"]'  # what `serve --roles` sets
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return load_settings(config_file)


@pytest.mark.parametrize("role", ["api", "workers"])
def test_the_dev_pods_configuration_loads(
    role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pod_settings("dev", role, tmp_path, monkeypatch)
    assert settings.server.roles == [role]
    assert settings.storage.backend == "remote"
    assert settings.effective_database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.server.host == "0.0.0.0"


def test_production_refuses_the_placeholder_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should someone apply the dev Secret under the production profile, the pods do not start."""
    with pytest.raises(ConfigError, match="jwt_secret_key"):
        _pod_settings("production", "api", tmp_path, monkeypatch)


def test_production_serves_behind_a_tls_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With real secrets the production configuration loads and `serve` accepts it (TLS at
    the Ingress: security.tls_proxy)."""
    strong = "s3cr3t-abcdefghijklmnopqrstuvwxyz0123456789"
    settings = _pod_settings(
        "production", "api", tmp_path, monkeypatch, secrets={"jwt-secret-key": strong}
    )
    assert settings.profile == "production"
    assert settings.jwt_secret_key.get_secret_value() == strong
    assert serving_problems(settings) == []
