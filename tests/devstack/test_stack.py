"""Stack: real redis-server, emulator and Celery processes; everything ends on stop().

Waits poll for an outcome with a generous deadline; nothing asserts on how long anything took.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from devstack import EmulatorProcess, Stack, wait_until
from devstack.credentials import PIXEL_A, PIXEL_BAD, TOKEN_A, TOKEN_BAD
from tests.emulator.conftest import make_body, make_event

pytestmark = pytest.mark.integration


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan is not ours to reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> set[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, p in parent.items() if p in frontier} - found
        found |= frontier
    return found


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_worker_beat_and_emulator_deliver_then_stop_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASIVO_TIKTOK_BATCH_SIZE", "7")  # a developer's shell...
    monkeypatch.setenv("SENTRY_DSN", "https://key@sentry.invalid/1")  # ...stays out
    with Stack(tmp_path / "stack") as stack:
        assert stack.redis_server is not None  # a private Redis
        emulator = stack.start_emulator(rate_limit=0)
        worker = stack.start_worker(concurrency=2)
        beat = stack.start_beat()
        src = tmp_path / "events.jsonl"
        src.write_bytes(
            b"".join(
                orjson.dumps({"id": f"e-{i}", "type": "search", "query": "tenis"}) + b"\n"
                for i in range(20)
            )
        )
        enqueued = stack.cli("enqueue", str(src), "--destination", "brand-a")
        assert enqueued.returncode == 0, enqueued.stderr
        assert wait_until(lambda: emulator.unique(PIXEL_A) == 20, 90), stack.logs()
        assert wait_until(lambda: "beat: Starting" in stack.logs(), 60), stack.logs()

        seen = environ(worker.pid)
        assert seen["REDIS_URL"] == stack.redis_url
        assert seen["TIKTOK_API_BASE_URL"] == emulator.url
        assert seen["MASIVO_TIKTOK_DESTINATIONS"] == str(stack.destinations_file)
        assert "MASIVO_TIKTOK_BATCH_SIZE" not in seen
        assert "SENTRY_DSN" not in seen

        pool = descendants(worker.pid)
        assert pool  # the prefork pool
        redis_pid = stack.redis_server.pid
        everything = {worker.pid, beat.pid, emulator.pid, redis_pid, *pool}
        assert all(pid is not None and running(pid) for pid in everything)
        url = stack.redis_url
    assert not [pid for pid in everything if pid is not None and running(pid)]
    assert not ping(url)
    assert worker.returncode is not None
    assert beat.returncode is not None
    assert (tmp_path / "stack" / "worker.log").exists()
    assert (tmp_path / "stack" / "beat.log").exists()


def test_environment_is_filtered_and_overridden(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", "from-the-shell")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    stack = Stack(
        tmp_path,
        redis_url=redis_url,
        api_base_url="http://127.0.0.1:9",
        env={"MASIVO_TIKTOK_LINGER": "0.3", "MASIVO_TIKTOK_DATA_DIR": str(tmp_path / "d")},
    )
    with stack:
        env = stack.env
        assert env["REDIS_URL"] == redis_url
        assert env["TIKTOK_API_BASE_URL"] == "http://127.0.0.1:9"
        assert env["MASIVO_TIKTOK_LINGER"] == "0.3"
        assert env["MASIVO_TIKTOK_DATA_DIR"] == str(tmp_path / "d")
        assert stack.data_dir == tmp_path / "d"
        assert env["LC_ALL"] == "C.UTF-8"
        assert env["PATH"] == os.environ["PATH"]
        for name in ("TIKTOK_ACCESS_TOKEN", "HTTPS_PROXY", "PYTHONPATH"):
            assert name not in env
        assert stack.destinations_file is not None
        written = orjson.loads(stack.destinations_file.read_bytes())["destinations"]
        assert [d["id"] for d in written] == ["brand-a", "brand-b", "brand-bad"]
        assert stack.destinations_file.stat().st_mode & 0o777 == 0o600
    assert ping(redis_url)  # the caller's Redis is the caller's to stop


def test_a_process_ignoring_sigterm_is_killed_with_its_children(
    tmp_path: Path, redis_url: str
) -> None:
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('ready', child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    with Stack(tmp_path, redis_url=redis_url, destinations=[]) as stack:
        stubborn = stack.spawn("stubborn", [sys.executable, "-c", code])
        assert wait_until(lambda: "ready" in stack.logs(), 60), stack.logs()
        child = int(stack.logs().split()[1])
        assert running(child)
        stack.stop(grace_s=1)
        assert stubborn.returncode == -9
        assert not running(child)
        assert stack.procs == []


def test_embedded_redis_starts_and_stops_with_the_stack(tmp_path: Path) -> None:
    with Stack(tmp_path, embedded_redis=True, destinations=[]) as stack:
        assert stack.redis_server is None
        assert stack.redis.ping()
        assert "MASIVO_TIKTOK_DESTINATIONS" not in stack.env
        assert stack.destinations_file is None
        url = stack.redis_url
    assert not ping(url)


def test_emulator_process_checks_tokens_and_takes_its_options(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path / "emulator.log", rate_limit=0, max_age_s=3600)
    with emulator:
        pid = emulator.pid
        events = [make_event(i, time.time()) for i in range(3)]

        def post(token: str, pixel: str, body: Any = None) -> httpx.Response:
            content = orjson.dumps(body or make_body(events, pixel=pixel))
            return httpx.post(emulator.track_url, content=content, headers={"Access-Token": token})

        assert post(TOKEN_A, PIXEL_A).json()["code"] == 0
        assert emulator.unique(PIXEL_A) == 3
        assert [e["event_id"] for e in emulator.events(PIXEL_A)] == [
            "order_0",
            "order_1",
            "order_2",
        ]
        assert post(TOKEN_BAD, PIXEL_BAD).json()["code"] == 40105  # unknown token
        old = make_body([make_event(9, time.time() - 3601)], pixel=PIXEL_A)
        assert post(TOKEN_A, PIXEL_A, old).json()["message"].endswith("older than 1 hour")
        emulator.set_faults("503=1")
        assert post(TOKEN_A, PIXEL_A).status_code == 503
        emulator.reset()
        assert emulator.summary()["requests"] == 0
    assert pid is not None
    assert not running(pid)
