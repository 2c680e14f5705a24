"""What operators see in Flower: our task names, and summaries instead of raw events."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import free_port
from emulator import EmulatorServer
from tests.system.stack import BIN, PIXEL_A, ROOT, TOKEN_A, Stack, events_file, wait_for

pytestmark = pytest.mark.integration


def test_flower_shows_our_tasks_as_doorbells_without_events(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator)
    port = free_port()
    env = {**stack.env, "FLOWER_UNAUTHENTICATED_API": "true"}
    flower = subprocess.Popen(
        [str(BIN / "celery"), "-A", "worker", "flower", f"--port={port}", "--address=127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "flower.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    stack.procs.append(flower)
    try:
        stack.worker(concurrency=1)
        base = f"http://127.0.0.1:{port}"

        def flower_up() -> bool:
            try:
                return httpx.get(f"{base}/api/workers", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(flower_up, 60, "flower")
        time.sleep(1)  # let Flower subscribe to task events before any are sent
        enq = stack.cli(
            "enqueue", str(events_file(tmp_path / "a.jsonl", 30, "f")), "--destination", "brand-a"
        )
        assert enq.returncode == 0, enq.stderr
        wait_for(lambda: stack.unique(PIXEL_A) == 30, 60, "delivery")

        def tasks() -> dict[str, Any]:
            found: dict[str, Any] = httpx.get(f"{base}/api/tasks", timeout=5).json()
            return found

        wait_for(
            lambda: {"tiktok.ingest", "tiktok.flush"} <= {t.get("name") for t in tasks().values()},
            60,
            "tasks",
        )
        listed = tasks()
        ingest = [t for t in listed.values() if t.get("name") == "tiktok.ingest"]
        assert ingest
        assert "brand-a" in str(ingest[0]["args"])  # a doorbell: the destination only
        assert "events" not in str(ingest[0]["kwargs"])
        shown = str(listed)
        assert "user1@shop.mx" not in shown  # raw PII never reaches Flower
        assert "f-1" not in shown.replace("f-1'", "")  # nor raw event ids
        assert TOKEN_A not in shown
    finally:
        stack.close()
