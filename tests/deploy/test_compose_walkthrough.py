"""The compose walkthrough works: a ready destinations file aimed at the emulator service,
and ``enqueue --shift-to-now`` on the dated sample delivers every event it should.

Docker cannot run here, so the last test runs the walkthrough's processes as compose would
start them - the emulator's and the worker's commands and environment from
docker-compose.yml, the mounted destinations file - against a private Redis.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from devstack import BIN, RedisProcess, free_port, inherited_env, terminate, wait_until
from devstack.processes import spawn
from tests.deploy.support import COMPOSE_FILE, ROOT, compose_argv, load_compose, parse_masivo

SAMPLE = ROOT / "samples" / "events.jsonl"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    services: dict[str, Any] = load_compose()["services"]
    return services


def _mount(service: dict[str, Any], target: str) -> Path:
    """The host file compose mounts at ``target`` (``${VAR:-default}`` resolved to default)."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":/")
        if "/" + rest.split(":")[0] == target:
            match = re.fullmatch(r"\$\{\w+:-(.*)\}", source)
            return ROOT / (match.group(1) if match else source)
    raise AssertionError(f"nothing mounted at {target}")


def _env(service: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, value in (service.get("environment") or {}).items():
        if value is None:
            continue  # passed through from the shell: unset here
        match = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
        out[name] = match.group(1) if match else str(value)
    return out


@pytest.mark.parametrize("name", ["worker", "emulator", "beat", "metrics", "flower"])
def test_every_app_service_reads_the_ready_destinations_file(
    services: dict[str, Any], name: str
) -> None:
    from worker.settings import parse_destinations

    service = services[name]
    target = _env(service)["MASIVO_TIKTOK_DESTINATIONS"]
    source = _mount(service, target)
    assert source.is_file(), source
    assert str(service["volumes"][0]).endswith(":ro")
    destinations = parse_destinations(yaml.safe_load(source.read_text("utf-8")), str(source))
    # `masivo-tiktok enqueue` without --destination uses `default`
    assert [d.id for d in destinations] == ["default"]


def test_walkthrough_commands_parse() -> None:
    header = [line.lstrip("# ") for line in COMPOSE_FILE.read_text("utf-8").splitlines()]
    steps = [line for line in header if line.startswith("docker compose exec worker ")]
    assert any("enqueue --shift-to-now samples/events.jsonl" in step for step in steps)
    for step in steps:
        argv = shlex.split(step.removeprefix("docker compose exec worker "))
        parse_masivo(argv)
    assert SAMPLE.is_file()
    image = (ROOT / "Dockerfile").read_text("utf-8")
    assert "COPY --chown=10001:10001 samples /home/app/samples" in image
    assert "WORKDIR /home/app" in image  # so samples/events.jsonl resolves in the container


def _sends(now: str) -> int:
    """TikTok events the sample yields when ``now`` is its newest event's time."""
    result = subprocess.run(
        [str(BIN / "masivo-tiktok"), "transform", str(SAMPLE), "--now", now],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=inherited_env(),
    )
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    return sum(len(line["events"]) for line in lines if line["outcome"] == "send")


def _newest_sample_time() -> str:
    from transforms.timestamps import parse_issued_at

    times = [parse_issued_at(orjson.loads(line).get("issued_at")) for line in SAMPLE.open("rb")]
    newest = max(t for t in times if t is not None)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest))


def test_the_sample_without_a_shift_goes_stale() -> None:
    newest = _newest_sample_time()
    shifted = _sends(newest)
    assert shifted >= 15, "most of the sample is sendable at its own time"
    assert _sends("2099-01-01T00:00:00Z") == 0, "a dated sample: too old later on"


@pytest.fixture
def stack(tmp_path: Path, services: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The compose stack's emulator and worker as processes, on a private Redis."""
    procs: list[subprocess.Popen[bytes]] = []
    with RedisProcess(tmp_path / "redis", port=0) as redis_server:
        port = free_port()
        worker = services["worker"]
        env = {
            **inherited_env(),
            **_env(worker),
            "REDIS_URL": redis_server.url,
            "TIKTOK_API_BASE_URL": f"http://127.0.0.1:{port}",
            "MASIVO_TIKTOK_DESTINATIONS": str(
                _mount(worker, "/etc/masivo-tiktok/destinations.yaml")
            ),
            "MASIVO_TIKTOK_DATA_DIR": str(tmp_path / "data"),
            "MASIVO_TIKTOK_LINGER": "0.1",
        }
        emulator = compose_argv(services["emulator"])
        assert parse_masivo(emulator).port == 8081
        emulator = [str(BIN / "masivo-tiktok"), *emulator[1:]]
        emulator[emulator.index("--port") + 1] = str(port)
        emulator[emulator.index("--host") + 1] = "127.0.0.1"
        procs.append(spawn(emulator, log=tmp_path / "emulator.log", env=env, cwd=ROOT))
        argv = compose_argv(worker)
        assert argv[:4] == ["celery", "-A", "worker", "worker"]
        worker_argv = [str(BIN / "celery"), *argv[1:], "-c", "2", "--without-mingle"]
        procs.append(spawn(worker_argv, log=tmp_path / "worker.log", env=env, cwd=ROOT))
        try:
            yield {"env": env, "emulator": f"http://127.0.0.1:{port}", "tmp": tmp_path}
        finally:
            terminate(reversed(procs))


@pytest.mark.integration
def test_compose_walkthrough_delivers_the_sample_to_the_emulator(stack: dict[str, Any]) -> None:
    expected = _sends(_newest_sample_time())
    enqueue = subprocess.run(
        [str(BIN / "masivo-tiktok"), "enqueue", "--shift-to-now", "samples/events.jsonl"],
        cwd=ROOT,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert enqueue.returncode == 0, enqueue.stderr
    assert "enqueued 21 events for default" in enqueue.stdout

    def accepted() -> int:
        try:
            summary = httpx.get(f"{stack['emulator']}/_emulator/summary", timeout=2).json()
        except httpx.HTTPError:
            return -1
        return int(summary["accepted"]["unique"])

    delivered = wait_until(lambda: accepted() >= expected, 90)
    logs = {p.name: p.read_text(errors="replace")[-3000:] for p in stack["tmp"].glob("*.log")}
    assert delivered, (accepted(), expected, logs)
    time.sleep(1)
    assert accepted() == expected, "every sendable event once, no more"


def test_shift_to_now_keeps_each_format_and_the_gaps() -> None:
    from cli.enqueue import _shift_to_now
    from transforms.timestamps import parse_issued_at

    now = 1_900_000_000.0
    events = [
        {"id": "iso", "issued_at": "2026-11-24T10:00:00Z"},
        {"id": "offset", "issued_at": "2026-11-24T05:00:00-06:00"},  # 11:00Z: the newest
        {"id": "seconds", "issued_at": 1795510800},  # 2026-11-24T09:00:00Z
        {"id": "ms", "issued_at": "1795510800000"},
        {"id": "none"},
        {"id": "junk", "issued_at": "yesterday"},
        "not an event",
    ]
    out = _shift_to_now(events, now)
    by_id = {e["id"]: e for e in out if isinstance(e, dict)}
    assert parse_issued_at(by_id["offset"]["issued_at"]) == now
    assert parse_issued_at(by_id["iso"]["issued_at"]) == now - 3600
    assert by_id["iso"]["issued_at"].endswith("Z")
    assert by_id["offset"]["issued_at"].endswith("-06:00")
    assert isinstance(by_id["seconds"]["issued_at"], int)
    assert parse_issued_at(by_id["seconds"]["issued_at"]) == now - 2 * 3600
    assert isinstance(by_id["ms"]["issued_at"], str)
    assert by_id["ms"]["issued_at"] == str(int((now - 2 * 3600) * 1000))
    assert by_id["none"] == {"id": "none"}
    assert by_id["junk"]["issued_at"] == "yesterday"
    assert out[-1] == "not an event"
    assert events[0]["issued_at"] == "2026-11-24T10:00:00Z", "the input is not changed"
