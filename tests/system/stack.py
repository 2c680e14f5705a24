"""Helpers for tests that run the product as deployed: a Redis, the emulator, worker processes.

The worker and the producer run as subprocesses with the environment an operator would set,
so this is the product as deployed, minus TikTok. Waits poll for an outcome with a generous
deadline; nothing asserts on how long something took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import redis
import yaml

from emulator import EmulatorServer

PIXEL_A = "C9AAAAAAAAAAAAAAAAAA"
PIXEL_B = "C9BBBBBBBBBBBBBBBBBB"
PIXEL_BAD = "C9CCCCCCCCCCCCCCCCCC"
TOKEN_A = "secret-token-A-7f3a9c2e51"
TOKEN_B = "secret-token-B-0c4d8e1f62"
TOKEN_BAD = "secret-token-revoked-99x"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_for(condition: Callable[[], bool], deadline_s: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def events_file(path: Path, n: int, prefix: str) -> Path:
    now = int(time.time())
    with path.open("wb") as f:
        for i in range(n):
            event = {
                "id": f"{prefix}-{i}",
                "type": "add_to_cart" if i % 3 else "view_item",
                "customer_id": f"c{i}",
                "email": f"user{i}@shop.mx",
                "issued_at": now - 5,
                "items": [
                    {"sku": f"sku-{i % 17}", "name": "Tenis", "unit_price": 10, "quantity": 1}
                ],
                "currency": "MXN",
                "value": 10,
            }
            f.write(orjson.dumps(event) + b"\n")
    return path


class Stack:
    """A Redis, an emulator and the environment the worker processes share."""

    def __init__(self, tmp: Path, redis_url: str, emulator: EmulatorServer, **env: str) -> None:
        self.tmp = tmp
        self.emulator = emulator
        dests = [
            {"id": "brand-a", "pixel_code": PIXEL_A, "access_token": TOKEN_A},
            {"id": "brand-b", "pixel_code": PIXEL_B, "access_token": TOKEN_B},
            {"id": "brand-bad", "pixel_code": PIXEL_BAD, "access_token": TOKEN_BAD},
        ]
        dfile = tmp / "destinations.yaml"
        dfile.write_text(yaml.safe_dump({"destinations": dests}))
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TIKTOK_", "MASIVO_", "REDIS_", "SENTRY_"))
        }
        self.env.update(
            REDIS_URL=redis_url,
            TIKTOK_API_BASE_URL=emulator.url,
            MASIVO_TIKTOK_DESTINATIONS=str(dfile),
            MASIVO_TIKTOK_LINGER="0.2",
            MASIVO_TIKTOK_HTTP_TIMEOUT="5",
            PYTHONUNBUFFERED="1",
            MASIVO_TIKTOK_DATA_DIR=str(tmp / "data"),
        )
        self.env.update(env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.redis = redis.Redis.from_url(redis_url)

    def worker(self, concurrency: int = 2, beat: bool = False) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.procs)}.log").open("wb")
        cmd = [
            str(BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "--loglevel=INFO",
            "-c",
            str(concurrency),
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-mingle",
            "--without-gossip",
        ]
        if beat:
            cmd += ["-B", "-s", str(self.tmp / "beat-schedule")]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "masivo-tiktok"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.tmp.glob("worker-*.log"))

    def unique(self, pixel: str) -> int:
        by_pixel: dict[str, Any] = self.emulator.summary()["by_pixel"]
        return int(by_pixel.get(pixel, {}).get("unique", 0))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.redis.close()


def pool_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children
