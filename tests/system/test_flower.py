"""What operators see in Flower: our task names, summaries instead of raw events, each task's
result (destination, action, counts) from the workers' task-succeeded events although results
are not stored (task_ignore_result), and Flower's own log as one JSON line per record."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from devstack import free_port
from emulator import EmulatorServer
from tests.deploy.support import load_compose, option_value
from tests.system.stack import BIN, PIXEL_A, ROOT, TOKEN_A, Stack, events_file, wait_for

pytestmark = pytest.mark.integration


def test_flower_shows_our_tasks_as_doorbells_without_events(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator)
    port = free_port()
    env = {**stack.env, "FLOWER_UNAUTHENTICATED_API": "true"}
    # the columns the README and the deployments give Flower
    compose = [str(a) for a in load_compose()["services"]["flower"]["command"]]
    columns = option_value(compose, "--tasks_columns")
    assert columns is not None
    assert {"args", "result"} <= set(columns.split(","))
    flower = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "worker",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
            f"--tasks_columns={columns}",
        ],
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
            "enqueue",
            str(events_file(tmp_path / "a.jsonl", 30, "flowerevt")),
            "--destination",
            "brand-a",
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
        # nor raw event ids (a prefix no task id, hex and dashes, can contain)
        assert "flowerevt-" not in shown
        assert TOKEN_A not in shown

        # results, although not stored: Flower reads them from task-succeeded events
        def results(name: str) -> list[dict[str, Any]]:
            found = [t for t in tasks().values() if t.get("name") == name]
            return [ast.literal_eval(t["result"]) for t in found if t.get("result")]

        wait_for(lambda: any(r.get("events") for r in results("tiktok.flush")), 60, "results")
        flushes = [r for r in results("tiktok.flush") if r.get("events")]
        assert {"destination", "action", "events"} <= set(flushes[0])
        assert flushes[0]["destination"] == "brand-a"
        assert sum(r["events"] for r in flushes if r["action"] == "delivered") == 30
        ingests = [r for r in results("tiktok.ingest") if r.get("received")]
        assert ingests
        assert {"destination", "action", "received", "queued", "dropped", "rejected"} <= set(
            ingests[0]
        )
        assert sum(r["received"] for r in ingests) == 30
        assert "user1@shop.mx" not in str(tasks())
    finally:
        stack.close()

    # Flower's own log: one JSON line per record, none twice (tornado's handler removed)
    lines = [
        line
        for line in (tmp_path / "flower.log").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert lines
    records = [orjson.loads(line) for line in lines]  # every line is JSON
    flower_records = [r for r in records if str(r.get("logger", "")).startswith("flower")]
    assert any("Visit me at" in r["msg"] for r in flower_records)
    messages = [r["msg"] for r in flower_records]
    assert len(messages) == len(set(messages)), "a record logged twice"
    assert not any("color" in r for r in records), "tornado's formatter touched the record"
