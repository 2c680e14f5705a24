"""deploy/compose/cluster.yml: the second topology (data on a Redis Cluster, broker apart)
as an override of docker-compose.yml.

No Docker engine runs here, so the override is merged the way compose merges files for the
keys it uses (services and top-level mappings by name; ``environment`` and ``depends_on``
key by key; ``command`` and ``volumes`` replaced) and the result is checked: it passes the
compose specification, every URL is one the worker's own settings accept and resolves to
services of the stack, and the nodes are durable cluster nodes.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.deploy.support import DEPLOY, load_compose, load_yaml_docs, unknown_env

OVERRIDE = DEPLOY / "compose" / "cluster.yml"
APP = ("worker", "beat", "flower", "metrics")
NODES = ("redis-node-1", "redis-node-2", "redis-node-3")
#: per-service keys compose merges key by key; any other key of an override replaces the base's
MERGED_MAPPINGS = ("environment", "depends_on", "labels")


def _override() -> dict[str, Any]:
    docs = load_yaml_docs(OVERRIDE)
    assert len(docs) == 1
    assert isinstance(docs[0], dict)
    return docs[0]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for section in ("services", "volumes", "networks"):
        for name, value in (override.get(section) or {}).items():
            target = merged.setdefault(section, {})
            if section != "services" or name not in target:
                target[name] = copy.deepcopy(value)
                continue
            service = target[name]
            for key, part in value.items():
                if key in MERGED_MAPPINGS and isinstance(service.get(key), dict):
                    service[key] = {**service[key], **part}
                else:
                    service[key] = copy.deepcopy(part)
    return merged


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    return _merge(load_compose(), _override())


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_the_override_and_the_merged_stack_pass_the_compose_specification(
    merged: dict[str, Any],
) -> None:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for doc in (_override(), merged):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        assert errors == []


@pytest.mark.parametrize("name", APP)
def test_app_services_keep_data_on_the_cluster_and_the_broker_apart(
    merged: dict[str, Any], name: str
) -> None:
    from worker.settings import Settings
    from worker.store.connection import is_cluster_url, parse_cluster_url

    services = merged["services"]
    env = services[name]["environment"]
    assert unknown_env(set(env)) == set()
    settings = Settings(redis_url=env["REDIS_URL"], celery_broker_url=env["CELERY_BROKER_URL"])
    assert settings.redis_url is not None and is_cluster_url(settings.redis_url)
    seeds = {host for host, _port in parse_cluster_url(settings.redis_url).nodes}
    assert seeds == set(NODES)
    broker = urlsplit(str(settings.celery_broker_url))
    assert broker.scheme == "redis" and broker.hostname == "redis"
    assert broker.hostname in services
    depends = services[name]["depends_on"]
    assert depends["redis-cluster-init"]["condition"] == "service_completed_successfully"
    assert depends["redis"]["condition"] == "service_healthy"


def test_a_cluster_url_is_refused_as_the_broker() -> None:
    """The one thing the topology must not do: put Celery's broker on the cluster."""
    from pydantic import ValidationError

    from worker.settings import Settings

    with pytest.raises(ValidationError):
        Settings(
            redis_url="redis+cluster://redis-node-1:6379",
            celery_broker_url="redis+cluster://redis-node-1:6379",
        )


@pytest.mark.parametrize("name", NODES)
def test_nodes_are_durable_cluster_nodes_that_announce_their_names(
    merged: dict[str, Any], name: str
) -> None:
    service = merged["services"][name]
    argv = _command(service)
    assert argv[0] == "redis-server"
    assert _option(argv, "--cluster-enabled") == "yes"
    assert _option(argv, "--appendonly") == "yes"
    assert _option(argv, "--appendfsync") == "always"  # everysec can lose acknowledged writes
    assert _option(argv, "--maxmemory-policy") == "noeviction"
    assert _option(argv, "--cluster-announce-hostname") == name
    assert _option(argv, "--cluster-preferred-endpoint-type") == "hostname"
    volume = service["volumes"][0].split(":")
    assert volume == [name, "/data"] and name in merged["volumes"]
    assert service["healthcheck"]["test"][-1] == "ping"


def test_the_init_job_creates_the_cluster_from_every_node_once(merged: dict[str, Any]) -> None:
    init = merged["services"]["redis-cluster-init"]
    script = _command(init)[-1]
    assert "--cluster create" in script and "--cluster-replicas 0" in script
    for node in NODES:
        assert f"getent hosts {node}" in script
        assert init["depends_on"][node]["condition"] == "service_healthy"
    assert script.startswith("redis-cli -h redis-node-1 cluster info | grep -q cluster_state:ok ||")
    assert init["restart"] == "no"


def test_the_broker_is_the_base_stacks_redis(merged: dict[str, Any]) -> None:
    """docker-compose.yml's ``redis`` stays (now the broker only): the override adds, never
    removes, so `docker compose -f docker-compose.yml up` alone is still the first topology."""
    base = load_compose()
    assert set(base["services"]) <= set(merged["services"])
    assert merged["services"]["redis"] == base["services"]["redis"]
    assert base["services"]["worker"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
