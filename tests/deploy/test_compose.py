"""docker-compose.yml: every command exists, ports agree, Redis is durable, workers scale."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.support import (
    check_command,
    compose_argv,
    load_compose,
    option_value,
    parse_masivo,
    unknown_env,
)

APP_SERVICES = ("worker", "beat", "flower", "metrics", "emulator")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def _default(value: str) -> str:
    """``${VAR:-default}`` -> default; a plain value -> itself."""
    match = re.fullmatch(r"\$\{\w+:?-(.*)\}", value)
    return match.group(1) if match else value


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in service.get("ports", [])}


def test_the_stack_has_every_role(services: dict[str, Any]) -> None:
    assert set(services) >= {"redis", *APP_SERVICES}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_image(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service.get("build") in (".", {"context": "."})
    assert service.get("image") == services["worker"].get("image")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_commands_exist(services: dict[str, Any], name: str) -> None:
    check_command(compose_argv(services[name]))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_environment_names_are_settings(services: dict[str, Any], name: str) -> None:
    assert unknown_env(set(_env(services[name]))) == set()


def test_secrets_pass_through_without_empty_values(services: dict[str, Any]) -> None:
    # An empty value is still a value: SENTRY_DSN="" would be read as a setting.
    env = _env(services["worker"])
    assert "SENTRY_DSN" in env
    assert env["SENTRY_DSN"] is None, "SENTRY_DSN must be passed through from the shell, not set"
    # credentials come from the mounted destinations file only (tests/deploy/
    # test_compose_walkthrough.py): a `default` from TIKTOK_* as well would be defined twice
    for name in ("TIKTOK_PIXEL_CODE", "TIKTOK_ACCESS_TOKEN", "TIKTOK_TEST_EVENT_CODE"):
        assert name not in env


def test_redis_is_durable_and_healthchecked(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert str(redis["image"]).split(":")[0] == "redis"
    assert str(redis["image"]).split(":")[1].startswith("7")
    command = redis["command"]
    argv = command.split() if isinstance(command, str) else [str(a) for a in command]
    assert argv[0] == "redis-server"
    assert option_value(argv, "--appendonly") == "yes"
    assert option_value(argv, "--appendfsync") == "always"
    assert option_value(argv, "--maxmemory-policy") == "noeviction"
    assert any(str(v).endswith(":/data") for v in redis.get("volumes", []))
    test = redis["healthcheck"]["test"]
    assert "redis-cli" in test
    assert "ping" in test


def test_worker_is_scalable(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "fixed host ports prevent --scale worker=N"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert compose_argv(worker)[:4] == ["celery", "-A", "worker", "worker"]


def test_worker_shutdown_and_health(services: dict[str, Any]) -> None:
    worker = services["worker"]
    grace = re.fullmatch(r"(\d+)s", str(worker["stop_grace_period"]))
    assert grace is not None
    # covers the longest task (one TikTok request: 10 s read timeout + 5 s connect)
    assert int(grace.group(1)) >= 30
    test = [str(a) for a in worker["healthcheck"]["test"]]
    assert test[0] == "CMD"
    assert test[1:3] == ["masivo-tiktok", "health"]
    parse_masivo(test[1:])


def test_beat_runs_once(services: dict[str, Any]) -> None:
    beat = services["beat"]
    assert compose_argv(beat)[:4] == ["celery", "-A", "worker", "beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat


def test_redis_url_points_at_the_redis_service(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        url = _env(services[name]).get("REDIS_URL")
        if url is None:
            continue
        parts = urlsplit(_default(str(url)))
        assert parts.hostname == "redis"
        assert (parts.port or 6379) == 6379


def test_flower_port(services: dict[str, Any]) -> None:
    argv = compose_argv(services["flower"])
    assert argv[3] == "flower"
    assert option_value(argv, "--port") == "5555"
    assert 5555 in _container_ports(services["flower"])


def test_metrics_port(services: dict[str, Any]) -> None:
    args = parse_masivo(compose_argv(services["metrics"]))
    assert args.command == "metrics"
    assert args.port == 9108
    assert args.host == "0.0.0.0"
    assert 9108 in _container_ports(services["metrics"])


def test_worker_talks_to_the_emulator_by_default(services: dict[str, Any]) -> None:
    emulator = parse_masivo(compose_argv(services["emulator"]))
    assert emulator.command == "emulator"
    assert emulator.host == "0.0.0.0"
    assert emulator.port == 8081
    raw = str(_env(services["worker"])["TIKTOK_API_BASE_URL"])
    assert raw.startswith("${TIKTOK_API_BASE_URL:-"), "must stay overridable from the shell"
    url = urlsplit(_default(raw))
    assert url.hostname == "emulator"
    assert url.port == emulator.port
