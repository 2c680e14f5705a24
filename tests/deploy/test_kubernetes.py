"""deploy/: kustomize files exist, commands exist, env names are settings, ports agree, the
worker can shut down cleanly and scales on real queue names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    BASE,
    DEPLOY,
    base_resources,
    check_command,
    container_argv,
    containers,
    deploy_yaml_files,
    find,
    kustomization,
    load_yaml_docs,
    option_value,
    parse_masivo,
    unknown_env,
    workloads,
)

WORKER = "masivo-tiktok-worker"
BEAT = "masivo-tiktok-beat"
FLOWER = "masivo-tiktok-flower"
METRICS = "masivo-tiktok-metrics"
CONFIG = "masivo-tiktok-config"
DESTINATIONS_SECRET = "masivo-tiktok-destinations"


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return base_resources()


def _kustomize_dirs() -> list[Path]:
    return sorted(p.parent for p in DEPLOY.rglob("kustomization.yaml"))


# -- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", deploy_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_yaml_docs(path)
    assert docs
    for doc in docs:
        assert isinstance(doc, dict)


@pytest.mark.parametrize("directory", _kustomize_dirs(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_kustomization_lists_files_that_exist(directory: Path) -> None:
    kust = kustomization(directory)
    for entry in kust.get("resources", []):
        target = (directory / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), entry
    for patch in kust.get("patches", []):
        if "path" in patch:
            assert (directory / patch["path"]).is_file(), patch["path"]
    for generator in kust.get("secretGenerator", []) + kust.get("configMapGenerator", []):
        for source in generator.get("files", []) + generator.get("envs", []):
            path = directory / source.split("=", 1)[-1]
            # real secrets stay out of git; their templates must be there
            assert path.is_file() or path.with_name(path.name + ".example").is_file(), source


def test_base_lists_every_manifest() -> None:
    listed = set(kustomization(BASE)["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert present == listed


def test_overlay_replaces_only_secrets_the_base_has(resources: list[dict[str, Any]]) -> None:
    for directory in _kustomize_dirs():
        for generator in kustomization(directory).get("secretGenerator", []):
            if generator.get("behavior") == "replace":
                find(resources, "Secret", generator["name"])


def test_overlay_patches_target_base_objects(resources: list[dict[str, Any]]) -> None:
    for directory in _kustomize_dirs():
        for patch in kustomization(directory).get("patches", []):
            for doc in load_yaml_docs(directory / patch["path"]):
                find(resources, doc["kind"], doc["metadata"]["name"])


def test_example_destinations_are_valid() -> None:
    from worker.settings import parse_destinations

    secret = find(base_resources(), "Secret", DESTINATIONS_SECRET)
    sources = {"base Secret": secret["stringData"]["destinations.yaml"]}
    for example in DEPLOY.rglob("destinations.yaml.example"):
        sources[str(example)] = example.read_text(encoding="utf-8")
    for where, text in sources.items():
        assert parse_destinations(yaml.safe_load(text), where)


# -- commands and environment ---------------------------------------------------------------


def _all_containers(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(w["metadata"]["name"], c) for w in workloads(resources) for c in containers(w)]


def test_every_command_exists(resources: list[dict[str, Any]]) -> None:
    found = _all_containers(resources)
    assert {name for name, _ in found} >= {WORKER, BEAT, FLOWER, METRICS}
    for _name, container in found:
        check_command(container_argv(container))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            exec_ = container.get(probe, {}).get("exec")
            if exec_:
                check_command([str(a) for a in exec_["command"]])


def test_env_names_are_settings(resources: list[dict[str, Any]]) -> None:
    for name, container in _all_containers(resources):
        names = {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            obj = find(resources, kind, ref["name"])
            names |= set(obj.get("data", {})) | set(obj.get("stringData", {}))
        assert unknown_env(names) == set(), name


def test_secret_references_resolve(resources: list[dict[str, Any]]) -> None:
    for name, container in _all_containers(resources):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is None or ref.get("optional"):
                continue
            secret = find(resources, "Secret", ref["name"])
            keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
            assert ref["key"] in keys, f"{name}: {ref['name']} has no key {ref['key']}"


def test_destinations_file_is_mounted_where_settings_look(
    resources: list[dict[str, Any]],
) -> None:
    config = find(resources, "ConfigMap", CONFIG)["data"]
    path = Path(config["MASIVO_TIKTOK_DESTINATIONS"])
    for workload in workloads(resources):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
        for container in containers(workload):
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            mount = mounts.get(str(path.parent))
            assert mount is not None, f"{workload['metadata']['name']}: {path.parent} not mounted"
            assert mount.get("readOnly") is True
            assert "subPath" not in mount
            assert volumes[mount["name"]]["secret"]["secretName"] == DESTINATIONS_SECRET
    secret = find(resources, "Secret", DESTINATIONS_SECRET)
    assert path.name in secret["stringData"]


def test_no_pod_relies_on_the_embedded_redis(resources: list[dict[str, Any]]) -> None:
    for name, container in _all_containers(resources):
        env = {e["name"]: e for e in container.get("env", [])}
        assert "REDIS_URL" in env, f"{name} must get REDIS_URL"
        assert "optional" not in env["REDIS_URL"]["valueFrom"]["secretKeyRef"]


# -- security -------------------------------------------------------------------------------


def test_pods_run_non_root_on_a_read_only_root(resources: list[dict[str, Any]]) -> None:
    config = find(resources, "ConfigMap", CONFIG)["data"]
    data_dir = Path(config["MASIVO_TIKTOK_DATA_DIR"])
    for workload in workloads(resources):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod.get("automountServiceAccountToken") is False
        empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in containers(workload):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            writable = [
                Path(m["mountPath"])
                for m in container.get("volumeMounts", [])
                if m["name"] in empty_dirs
            ]
            # the heartbeat file (and beat's schedule) need somewhere to go
            assert any(data_dir.is_relative_to(w) for w in writable), workload["metadata"]
            assert container.get("resources", {}).get("limits", {}).get("memory")


# -- roles ----------------------------------------------------------------------------------


def test_worker_deployment(resources: list[dict[str, Any]]) -> None:
    from worker.settings import Settings

    worker = find(resources, "Deployment", WORKER)
    pod = worker["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    argv = container_argv(container)
    assert argv[:4] == ["celery", "-A", "worker", "worker"]
    assert option_value(argv, "--concurrency") == "4"
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"

    for probe in ("livenessProbe", "startupProbe"):
        argv = [str(a) for a in container[probe]["exec"]["command"]]
        assert argv[:2] == ["masivo-tiktok", "health"]
        args = parse_masivo(argv)
        assert args.redis is False, "liveness must not restart workers when Redis is down"
        assert args.ready is False, "liveness must not restart workers on a bad Secret edit"
    readiness = [str(a) for a in container["readinessProbe"]["exec"]["command"]]
    assert readiness[:2] == ["masivo-tiktok", "health"]
    assert parse_masivo(readiness).ready is True, "configuration errors show on readiness"

    # warm shutdown must outlast the longest task: one TikTok request
    defaults = Settings.model_fields
    http_timeout = float(defaults["http_timeout_s"].default)
    config = find(resources, "ConfigMap", CONFIG)["data"]
    http_timeout = float(config.get("MASIVO_TIKTOK_HTTP_TIMEOUT", http_timeout))
    grace = int(pod["terminationGracePeriodSeconds"])
    assert grace >= 3 * http_timeout
    assert container["resources"]["requests"]


def test_grace_periods_agree_with_compose(resources: list[dict[str, Any]]) -> None:
    from tests.deploy.support import load_compose

    compose = load_compose()["services"]["worker"]["stop_grace_period"]
    pod = find(resources, "Deployment", WORKER)["spec"]["template"]["spec"]
    assert f"{pod['terminationGracePeriodSeconds']}s" == compose


def test_beat_runs_once(resources: list[dict[str, Any]]) -> None:
    beat = find(resources, "Deployment", BEAT)
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    argv = container_argv(beat["spec"]["template"]["spec"]["containers"][0])
    assert argv[:4] == ["celery", "-A", "worker", "beat"]
    schedule = option_value(argv, "--schedule") or option_value(argv, "-s")
    assert schedule is not None
    assert schedule.startswith("/tmp/"), "the root filesystem is read-only"
    for other in find(resources, "Deployment", WORKER), find(resources, "Deployment", FLOWER):
        for container in containers(other):
            assert container_argv(container)[3] != "beat"


def _selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def _target_container_port(
    service: dict[str, Any], workload: dict[str, Any], port: int
) -> tuple[int, dict[str, Any]]:
    (svc_port,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    target = svc_port.get("targetPort", port)
    for container in containers(workload):
        for cport in container.get("ports", []):
            if target in (cport.get("name"), cport["containerPort"]):
                return int(cport["containerPort"]), container
    raise AssertionError(f"{service['metadata']['name']}: targetPort {target} matches no port")


def test_flower_service(resources: list[dict[str, Any]]) -> None:
    flower = find(resources, "Deployment", FLOWER)
    service = find(resources, "Service", FLOWER)
    assert _selects(service, flower)
    port, container = _target_container_port(service, flower, 5555)
    argv = container_argv(container)
    assert argv[3] == "flower"
    assert port == int(option_value(argv, "--port") or 0) == 5555


def test_metrics_service(resources: list[dict[str, Any]]) -> None:
    metrics = find(resources, "Deployment", METRICS)
    service = find(resources, "Service", METRICS)
    assert _selects(service, metrics)
    port, container = _target_container_port(service, metrics, 9108)
    args = parse_masivo(container_argv(container))
    assert args.command == "metrics"
    assert args.host == "0.0.0.0"
    assert port == args.port == 9108
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9108"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_pdb_covers_the_workers(resources: list[dict[str, Any]]) -> None:
    worker = find(resources, "Deployment", WORKER)
    pdbs = [r for r in resources if r.get("kind") == "PodDisruptionBudget"]
    assert pdbs
    labels = worker["spec"]["template"]["metadata"]["labels"]
    for pdb in pdbs:
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert all(labels.get(k) == v for k, v in selector.items())
    assert worker["spec"]["selector"]["matchLabels"] == pdbs[0]["spec"]["selector"]["matchLabels"]


def test_keda_scales_workers_on_the_intake_backlog_the_exporter_exports(
    resources: list[dict[str, Any]], exported_metrics: set[str]
) -> None:
    """KEDA measures work where it lives (our Redis structures, through the exporter), not in
    the broker's coalesced doorbells: every trigger is a Prometheus query naming only metrics
    the exporter really exports, and one of them is the intake backlog."""
    from tests.deploy.promql import metric_names

    scaled = [r for r in resources if r.get("kind") == "ScaledObject"]
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"]["name"] == WORKER
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    queries = []
    for trigger in spec["triggers"]:
        assert trigger["type"] == "prometheus"
        meta = trigger["metadata"]
        assert meta["serverAddress"].startswith("http")
        assert float(meta["threshold"]) > 0
        names = metric_names(meta["query"])
        assert names and names <= exported_metrics, names - exported_metrics
        queries.append(meta["query"])
    assert any("masivo_tiktok_intake_backlog_events" in q for q in queries)


# -- drift ----------------------------------------------------------------------------------

#: ConfigMap values that differ from the Settings defaults on purpose, and why
CONFIG_OVERRIDES = {
    "MASIVO_TIKTOK_DESTINATIONS": "the file mounted from the Secret masivo-tiktok-destinations",
    "MASIVO_TIKTOK_DATA_DIR": "on the /tmp emptyDir: the root filesystem is read-only",
}


def _defaults_by_env() -> dict[str, Any]:
    from worker.settings import Settings, env_name

    return {env_name(name): field.default for name, field in Settings.model_fields.items()}


def _same(value: str, default: Any) -> bool:
    if isinstance(default, bool) or default is None:
        return False
    if isinstance(default, int | float):
        return float(value) == float(default)
    return value == str(default)


def test_configmap_writes_out_defaults_unless_it_says_why(resources: list[dict[str, Any]]) -> None:
    defaults = _defaults_by_env()
    config = find(resources, "ConfigMap", CONFIG)["data"]
    for name, value in config.items():
        assert name in defaults, f"{name} is not a setting"
        if name in CONFIG_OVERRIDES:
            assert not _same(value, defaults[name]), f"{name}: no longer an override"
            continue
        assert _same(value, defaults[name]), (
            f"{name}={value!r} differs from the default {defaults[name]!r} (README): use the "
            "default, or explain the override in CONFIG_OVERRIDES and the ConfigMap"
        )


@pytest.mark.parametrize("path", deploy_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_numbers_quoted_in_comments_are_current(path: Path) -> None:
    """A comment saying ``MASIVO_TIKTOK_X = N`` must say the default (or the ConfigMap's)."""
    defaults = _defaults_by_env()
    config = find(base_resources(), "ConfigMap", CONFIG)["data"]
    text = path.read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for name, number in re.findall(r"\b((?:MASIVO_)?TIKTOK_\w+) = (\d+(?:\.\d+)?)", comments):
        current = config.get(name, defaults.get(name))
        assert current is not None, f"{path.name}: {name} is not a setting"
        assert float(number) == float(current), f"{path.name}: says {name} = {number}, is {current}"
