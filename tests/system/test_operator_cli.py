"""The operator's commands against a running stack: dlq, status, pause/resume, health, metrics."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from devstack import free_port
from emulator import EmulatorServer
from tests.system.stack import BIN, PIXEL_A, ROOT, TOKEN_A, Stack, events_file, wait_for

pytestmark = pytest.mark.integration


def dlq_size(stack: Stack) -> int:
    out = stack.cli("dlq", "stats", "--json")
    return int(orjson.loads(out.stdout)["size"])


def test_dead_letters_can_be_listed_shown_replayed_and_purged(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator, MASIVO_TIKTOK_MAX_ATTEMPTS="1")
    emulator.set_faults("503=1")
    try:
        stack.worker(concurrency=1)
        src = events_file(tmp_path / "a.jsonl", 10, "d")
        src.write_bytes(src.read_bytes() + b"{this is not json\n")
        enq = stack.cli("enqueue", str(src), "--destination", "brand-a")
        assert enq.returncode == 0
        assert "line 11: not JSON" in enq.stderr
        assert "enqueued 10 events" in enq.stdout
        wait_for(lambda: dlq_size(stack) == 11, 60, "dead letters")

        listed = stack.cli("dlq", "list")
        lines = listed.stdout.splitlines()
        assert len(lines) == 11
        assert any("d-3" in line and "brand-a" in line and "retryable" in line for line in lines)
        rows = [orjson.loads(x) for x in stack.cli("dlq", "list", "--json").stdout.splitlines()]
        assert {r["reason"] for r in rows} == {"retryable", "invalid_json"}
        assert all(r["destination"] == "brand-a" for r in rows)
        only_bad = stack.cli(
            "dlq", "list", "--reason", "invalid_json", "--json"
        ).stdout.splitlines()
        assert len(only_bad) == 1

        entry_id = next(r["id"] for r in rows if r["reason"] == "retryable")
        shown = orjson.loads(stack.cli("dlq", "show", entry_id).stdout)
        assert shown["http_status"] == 503
        assert shown["category"] == "exhausted"
        assert shown["payload"]["event_id"].startswith("d-")
        assert shown["payload"]["user"]["email"] != "user1@shop.mx"  # hashed
        assert stack.cli("dlq", "show", "0-1").returncode == 2
        assert stack.cli("dlq", "replay", "0-1").returncode == 2
        unknown = stack.cli("status", "--destination", "nope")
        assert unknown.returncode == 2
        assert "unknown destination 'nope'" in unknown.stderr

        emulator.set_faults("")
        replay = stack.cli("dlq", "replay", "--reason", "retryable")
        assert "replayed 10 entries" in replay.stdout
        wait_for(lambda: stack.unique(PIXEL_A) == 10, 60, "replayed events delivered")

        assert stack.cli("dlq", "purge").returncode == 2  # no filter: refuse
        purged = stack.cli("dlq", "purge", "--all")
        assert "purged 1 entries" in purged.stdout
        assert dlq_size(stack) == 0
        everything = "".join(p.read_text() for p in tmp_path.glob("*.log")) + listed.stdout
        assert TOKEN_A not in everything
    finally:
        stack.close()


def test_status_pause_resume_health_and_metrics(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator)
    port = free_port()
    metrics = subprocess.Popen(
        [str(BIN / "masivo-tiktok"), "metrics", "--port", str(port)],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.procs.append(metrics)
    try:
        assert stack.cli("health").returncode == 1  # no worker yet: no heartbeat
        stack.worker(concurrency=1)
        wait_for(lambda: stack.cli("health").returncode == 0, 60, "heartbeat")
        assert stack.cli("pause", "brand-a").returncode == 0
        enq = stack.cli(
            "enqueue", str(events_file(tmp_path / "a.jsonl", 20, "s")), "--destination", "brand-a"
        )
        assert enq.returncode == 0
        wait_for(
            lambda: (
                orjson.loads(stack.cli("status", "--json").stdout)["brand-a"]["state"]["outbox"]
                == 20
            ),
            60,
        )
        table = stack.cli("status").stdout
        assert "destination" in table.splitlines()[0]
        assert "yes (operator)" in table
        assert stack.unique(PIXEL_A) == 0
        assert "resumed" in stack.cli("resume", "brand-a").stdout
        wait_for(lambda: stack.unique(PIXEL_A) == 20, 60, "delivery after resume")

        def scrape() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return ""

        wait_for(
            lambda: 'masivo_tiktok_events_delivered_total{destination="brand-a"' in scrape(),
            60,
            "metrics",
        )
        text = scrape()
        assert 'masivo_tiktok_outbox_depth{destination="brand-a"} 0.0' in text
        assert 'masivo_tiktok_celery_queue_length{queue="ingest"}' in text
        assert 'masivo_tiktok_events_received_total{destination="brand-a"} 20.0' in text
        assert "masivo_tiktok_workers_alive 1.0" in text
        assert TOKEN_A not in text
    finally:
        stack.close()


def test_demo_runs_end_to_end_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(BIN / "masivo-tiktok"), "demo", "--events", "300", "--timeout", "120"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Delivered to TikTok, by event name" in out
    for name in (
        "CompletePayment",
        "AddToCart",
        "ViewContent",
        "Search",
        "AudienceUpdated",
        "AudienceRemoved",
    ):
        assert name in out
    assert "too_old" in out
    assert "dead_lettered" in out
    assert "PAUSED (auth" in out
    assert not (tmp_path / ".masivo-tiktok" / "demo" / "redis" / "redis.sock").exists()  # stopped
