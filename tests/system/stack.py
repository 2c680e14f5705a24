"""Helpers for tests that run the product as deployed: a Redis, the emulator, worker processes.

The worker and the producer run as subprocesses with the environment an operator would set
(:class:`devstack.Stack`), so this is the product as deployed, minus TikTok. Waits poll for
an outcome with a generous deadline; nothing asserts on how long something took.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import devstack
from devstack import BIN
from devstack.credentials import PIXEL_A, PIXEL_B, PIXEL_BAD, TOKEN_A, TOKEN_B, TOKEN_BAD
from emulator import EmulatorServer

__all__ = [
    "BIN",
    "PIXEL_A",
    "PIXEL_B",
    "PIXEL_BAD",
    "ROOT",
    "TOKEN_A",
    "TOKEN_B",
    "TOKEN_BAD",
    "Stack",
    "events_file",
    "pool_children",
    "wait_for",
]

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], deadline_s: float = 60.0, what: str = "") -> None:
    if not devstack.wait_until(condition, deadline_s, every_s=0.1):
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


class Stack(devstack.Stack):
    """A :class:`devstack.Stack` on the test's Redis and in-process emulator, started.

    brand-a, brand-b and brand-bad (a token the emulator refuses); ``env`` overrides the
    environment (e.g. ``MASIVO_TIKTOK_LEASE="3"``). End it with :meth:`close`.
    """

    def __init__(self, tmp: Path, redis_url: str, emulator: EmulatorServer, **env: str) -> None:
        super().__init__(
            tmp,
            redis_url=redis_url,
            api_base_url=emulator.url,
            env={"MASIVO_TIKTOK_LINGER": "0.2", "MASIVO_TIKTOK_HTTP_TIMEOUT": "5", **env},
        )
        self.emulator = emulator
        self.start()

    def worker(self, concurrency: int = 2, beat: bool = False) -> subprocess.Popen[bytes]:
        return self.start_worker(concurrency=concurrency, beat=beat, name="worker")

    def unique(self, pixel: str) -> int:
        by_pixel: dict[str, Any] = self.emulator.summary()["by_pixel"]
        return int(by_pixel.get(pixel, {}).get("unique", 0))

    def close(self) -> None:
        self.stop()


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
