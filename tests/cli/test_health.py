"""``masivo-tiktok health``: liveness judges liveness only; ``--ready`` also judges the config.

A bad edit of the destinations Secret must not get healthy workers restarted (liveness stays
0), but must show on readiness, naming the destination and the field and never the value.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from devstack import free_port
from tests.cli.support import PIXEL, run
from worker.heartbeat import heartbeat_file, write_heartbeat

pytestmark = pytest.mark.integration

SECRET = "tok-secret-value-123"

BROKEN_FILES = {
    # a pixel code of the wrong shape on brand-b: the destination and the field are named
    "bad_field": (
        "destinations:\n"
        f"  - {{id: brand-a, pixel_code: {PIXEL}, access_token: {SECRET}}}\n"
        f"  - {{id: brand-b, pixel_code: not-a-pixel, access_token: {SECRET}}}\n"
    ),
    "not_yaml": "destinations: [ {id: brand-a, pixel_code: \n",
    "no_list": "brand-a: {}\n",
}


def _env(tmp_path: Path, redis_url: str, text: str | None) -> dict[str, str]:
    env = {"REDIS_URL": redis_url, "MASIVO_TIKTOK_DATA_DIR": str(tmp_path / "data")}
    dfile = tmp_path / "destinations.yaml"
    if text is not None:
        dfile.write_text(text, encoding="utf-8")
    env["MASIVO_TIKTOK_DESTINATIONS"] = str(dfile)
    return env


def _fresh_heartbeat(tmp_path: Path) -> None:
    write_heartbeat(tmp_path / "data", None, hostname="worker-1")


def _stale_heartbeat(tmp_path: Path, age_s: float) -> None:
    path = heartbeat_file(tmp_path / "data")
    path.parent.mkdir(parents=True, exist_ok=True)
    beat = {"hostname": "worker-1", "pid": 1, "at": time.time() - age_s}
    path.write_bytes(orjson.dumps(beat))


@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_liveness_ignores_a_broken_destinations_file(
    tmp_path: Path, redis_url: str, kind: str
) -> None:
    env = _env(tmp_path, redis_url, BROKEN_FILES[kind])
    _fresh_heartbeat(tmp_path)
    result = run("health", "--max-age", "60", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: heartbeat")


def test_liveness_ignores_a_missing_destinations_file(tmp_path: Path, redis_url: str) -> None:
    env = _env(tmp_path, redis_url, None)  # named, never written
    _fresh_heartbeat(tmp_path)
    assert run("health", env=env).returncode == 0


def test_liveness_still_fails_on_a_stale_heartbeat(tmp_path: Path, redis_url: str) -> None:
    env = _env(tmp_path, redis_url, BROKEN_FILES["bad_field"])
    _stale_heartbeat(tmp_path, 300)
    result = run("health", "--max-age", "60", env=env)
    assert result.returncode == 1
    assert "last heartbeat" in result.stderr


def test_readiness_names_destination_and_field_never_the_value(
    tmp_path: Path, redis_url: str
) -> None:
    env = _env(tmp_path, redis_url, BROKEN_FILES["bad_field"])
    _fresh_heartbeat(tmp_path)
    result = run("health", "--ready", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "brand-b" in line
    assert "pixel_code" in line
    assert "not-a-pixel" not in line
    assert SECRET not in line


@pytest.mark.parametrize("kind", ["not_yaml", "no_list"])
def test_readiness_fails_on_an_unreadable_file(tmp_path: Path, redis_url: str, kind: str) -> None:
    env = _env(tmp_path, redis_url, BROKEN_FILES[kind])
    _fresh_heartbeat(tmp_path)
    result = run("health", "--ready", env=env)
    assert result.returncode == 2
    assert str(tmp_path / "destinations.yaml") in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_readiness_passes_with_good_config_fresh_heartbeat_and_redis(
    tmp_path: Path, redis_url: str
) -> None:
    good = f"destinations:\n  - {{id: brand-a, pixel_code: {PIXEL}, access_token: {SECRET}}}\n"
    env = _env(tmp_path, redis_url, good)
    _fresh_heartbeat(tmp_path)
    result = run("health", "--ready", env=env)
    assert result.returncode == 0, result.stderr
    assert "redis ok" in result.stdout


def test_readiness_fails_without_redis(tmp_path: Path) -> None:
    good = f"destinations:\n  - {{id: brand-a, pixel_code: {PIXEL}, access_token: {SECRET}}}\n"
    env = _env(tmp_path, f"redis://127.0.0.1:{free_port()}/0", good)
    _fresh_heartbeat(tmp_path)
    result = run("health", "--ready", env=env)
    assert result.returncode == 1
    assert "redis unreachable" in result.stderr


def test_readiness_fails_on_a_stale_heartbeat(tmp_path: Path, redis_url: str) -> None:
    good = f"destinations:\n  - {{id: brand-a, pixel_code: {PIXEL}, access_token: {SECRET}}}\n"
    env = _env(tmp_path, redis_url, good)
    _stale_heartbeat(tmp_path, 300)
    assert run("health", "--ready", "--max-age", "60", env=env).returncode == 1
