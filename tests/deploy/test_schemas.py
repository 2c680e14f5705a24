"""deploy/ and docker-compose.yml against real schemas, as a cluster and compose would judge.

* ``kubectl kustomize`` renders the base and the production overlay (the overlay with its
  ``secrets/*.example`` files in place of the real, untracked ones);
* every core object of both renders passes ``kubernetes-validate`` in strict mode (unknown
  fields refused) for the oldest Kubernetes we support and the newest it knows;
* KEDA's ScaledObject and the Prometheus Operator's PrometheusRule
  pass their CRD's schema (vendored in tests/deploy/schemas/, made strict; see generate.py
  there for the source and version);
* docker-compose.yml passes the compose specification (the copy check-jsonschema vendors).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import COMPOSE_FILE, DEPLOY, load_compose
from tests.deploy.tooling import require

SCHEMAS = Path(__file__).parent / "schemas"
#: the oldest Kubernetes the manifests promise to work on, and the newest the validator knows
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: custom resources -> their vendored schema
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}
KUBECTL_INSTALL = "kubectl is on the machine image; elsewhere install kubectl (it has kustomize)"


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = require("kubectl", KUBECTL_INSTALL)
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    copy_of = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy_of)
    for example in (copy_of / "overlays").rglob("*.example"):
        example.with_name(example.name.removesuffix(".example")).write_bytes(example.read_bytes())
    return {
        "base": _kustomize(copy_of / "base"),
        "production": _kustomize(copy_of / "overlays" / "production"),
    }


def _core(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if (d["apiVersion"], d["kind"]) not in CUSTOM]


def _schema(api_version: str, kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / CUSTOM[(api_version, kind)]).read_text())
    return schema


def _crd_errors(doc: dict[str, Any]) -> list[str]:
    schema = _schema(doc["apiVersion"], doc["kind"])
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def _name(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("render", ["base", "production"])
def test_kustomize_renders_every_role(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    kinds = {doc["kind"] for doc in rendered[render]}
    assert kinds >= {"Deployment", "Service", "ConfigMap", "Secret", "ScaledObject"}
    assert kinds >= {"PodDisruptionBudget", "PrometheusRule"}
    core = {"v1", "apps/v1", "policy/v1"}
    for doc in rendered[render]:
        known = doc["apiVersion"] in core or (doc["apiVersion"], doc["kind"]) in CUSTOM
        assert known, f"{_name(doc)}: {doc['apiVersion']} is neither core nor a vendored CRD"


def test_overlay_keeps_every_base_object_in_its_namespace(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    base = {_name(d) for d in rendered["base"]}
    production = {_name(d): d for d in rendered["production"]}
    assert base <= set(production), base - set(production)
    for name, doc in production.items():
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "masivo-tiktok", name
    # the generated Secrets replace the placeholders under the same names (no hash suffix)
    secrets = {d["metadata"]["name"] for d in rendered["production"] if d["kind"] == "Secret"}
    assert secrets == {d.split("/", 1)[1] for d in base if d.startswith("Secret/")}


@pytest.mark.parametrize("render", ["base", "production"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_pass_the_kubernetes_schema_strictly(
    rendered: dict[str, list[dict[str, Any]]], render: str, version: str
) -> None:
    problems = []
    for doc in _core(rendered[render]):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{_name(doc)}: {'/'.join(map(str, exc.path))}: {exc.message}")
    assert problems == []


@pytest.mark.parametrize("render", ["base", "production"])
def test_custom_resources_pass_their_crd_schema(
    rendered: dict[str, list[dict[str, Any]]], render: str
) -> None:
    custom = [d for d in rendered[render] if (d["apiVersion"], d["kind"]) in CUSTOM]
    assert {d["kind"] for d in custom} == {kind for _, kind in CUSTOM}
    problems = [f"{_name(d)}: {e}" for d in custom for e in _crd_errors(d)]
    assert problems == []


def test_the_validators_are_strict(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A misspelt field fails each validator: the checks above would notice one."""
    docs = {_name(d): d for d in rendered["base"]}
    worker = copy.deepcopy(docs["Deployment/masivo-tiktok-worker"])
    worker["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, KUBERNETES_VERSIONS[0], strict=True)
    scaled = copy.deepcopy(docs["ScaledObject/masivo-tiktok-worker"])
    scaled["spec"]["minReplicas"] = 2
    assert _crd_errors(scaled)
    scaled = copy.deepcopy(docs["ScaledObject/masivo-tiktok-worker"])
    scaled["spec"]["maxReplicaCount"] = "twenty"
    assert _crd_errors(scaled)
    rule = copy.deepcopy(docs["PrometheusRule/masivo-tiktok"])
    rule["spec"]["groups"][0]["rules"][0]["for_"] = "5m"
    assert _crd_errors(rule)


def test_vendored_schemas_name_their_source() -> None:
    for name in CUSTOM.values():
        comment = json.loads((SCHEMAS / name).read_text())["$comment"]
        assert "generate.py" in comment
        assert "==" in comment, "the package version it came from"
        assert "https://github.com/" in comment, "the upstream CRDs"


def _compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def test_compose_file_passes_the_compose_specification() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(load_compose())
    ]
    assert errors == [], COMPOSE_FILE


def test_compose_validator_is_strict() -> None:
    schema = _compose_schema()
    compose = load_compose()
    compose["services"]["worker"]["stop_grace_periode"] = "90s"
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(compose))
