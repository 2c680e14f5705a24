"""Helpers shared by the pipeline benchmarks: a private Redis, an emulator, workers, events.

Everything listens on 127.0.0.1 only and every process started here is ended by
:meth:`Stack.close` (SIGTERM, then SIGKILL after a grace period). The emulator runs in its own
subprocess (``python bench/_stack.py --serve-emulator ...``) so its GIL does not compete with
the producer in the bench process; it is inspected over its ``/_emulator/*`` HTTP API.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._mix import customer, product

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

PIXEL_A = "C9AAAAAAAAAAAAAAAAAA"
PIXEL_B = "C9BBBBBBBBBBBBBBBBBB"
PIXEL_NAIVE = "C9NNNNNNNNNNNNNNNNNN"
TOKEN_A = "bench-token-A-7f3a9c2e51"
TOKEN_B = "bench-token-B-0c4d8e1f62"
TOKEN_NAIVE = "bench-token-N-5d1e2f3a4b"
CREDENTIALS = {TOKEN_A: [PIXEL_A], TOKEN_B: [PIXEL_B], TOKEN_NAIVE: [PIXEL_NAIVE]}
DESTINATIONS = [
    {"id": "brand-a", "pixel_code": PIXEL_A, "access_token": TOKEN_A},
    {"id": "brand-b", "pixel_code": PIXEL_B, "access_token": TOKEN_B},
]


# -- events ---------------------------------------------------------------------------------


def make_events(count: int, prefix: str, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` realistic raw Masivo events with unique ids ``<prefix>-<n>``.

    A quarter each: purchase with three products, add_to_cart, view_item, a custom event
    with nested metadata; 2,000 returning customers; issued a few seconds ago. Each becomes
    exactly one TikTok event.
    """
    rng = random.Random(seed)
    customers = [customer(rng, i) for i in range(2000)]
    issued = datetime.fromtimestamp(int(time.time()) - 5, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for n in range(count):
        base = {"id": f"{prefix}-{n}", "brand_id": "brand_1", "issued_at": issued}
        base.update(customers[rng.randrange(len(customers))])
        kind = n % 4
        if kind == 0:
            products = [product(rng) for _ in range(3)]
            total = round(sum(p["value"] for p in products), 2)
            order = {"purchase_id": f"ord_{prefix}_{n}", "value": total, "currency": "MXN"}
            out.append(base | {"type": "PURCHASE", "order": order | {"products": products}})
        elif kind == 1:
            item = {
                "item_id": f"SKU-{n % 777}",
                "item_name": "Tenis",
                "price": 999.0,
                "quantity": 1,
            }
            out.append(
                base | {"type": "add_to_cart", "items": [item], "value": 999.0, "currency": "MXN"}
            )
        elif kind == 2:
            item = {"id": f"SKU-{n % 901}", "price": 120, "currency": "MXN"}
            out.append(base | {"type": "view_item", "product": item})
        else:
            meta = {"plan": {"name": "Pro", "trial_days": 14}, "source": "app", "flags": ["a", "b"]}
            out.append(base | {"type": "free_trial_started", "metadata": meta})
    return out


def sent_count(events: list[dict[str, Any]], destination: str = "bench") -> int:
    """How many TikTok events ``events`` become (checks the generator against the transform)."""
    from transforms import TransformOptions, transform
    from transforms.outcome import Send

    options = TransformOptions(destination_id=destination)
    now = time.time()
    total = 0
    for raw in events:
        outcome = transform(raw, options, now)
        if isinstance(outcome, Send):
            total += len(outcome.events)
    return total


# -- the emulator in a subprocess -----------------------------------------------------------


def _serve_emulator(rate_limit: float, capacity: int) -> None:
    from emulator import EmulatorConfig, EmulatorServer

    creds = {tok: frozenset(pixels) for tok, pixels in CREDENTIALS.items()}
    server = EmulatorServer(
        EmulatorConfig(credentials=creds, rate_limit=rate_limit, events_capacity=capacity)
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(server.start(), flush=True)
    while not stop.wait(0.2):
        pass
    server.stop(timeout=3)


class Emulator:
    """The emulator subprocess and its inspection API."""

    def __init__(self, rate_limit: float, capacity: int, log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-emulator",
                "--rate-limit",
                str(rate_limit),
                "--capacity",
                str(capacity),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # bounded: the child exits on error
        if not line.startswith("http://127.0.0.1:"):
            terminate([self.proc])
            raise RuntimeError(f"emulator did not start (see {log})")
        self.url = line
        self.http = httpx.Client(base_url=line, timeout=60)

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return orjson.loads(response.content)

    def summary(self) -> dict[str, Any]:
        return self._get("/_emulator/summary")

    def unique(self, pixel: str) -> int:
        return int(self.summary()["by_pixel"].get(pixel, {}).get("unique", 0))

    def events(self, pixel: str, limit: int) -> list[dict[str, Any]]:
        return self._get("/_emulator/events", pixel=pixel, limit=limit)["events"]

    def rate(self, pixel: str) -> dict[int, int]:
        found = self._get("/_emulator/rate", pixel=pixel)["pixels"].get(pixel, {})
        return {int(k): int(v) for k, v in found.get("per_second", {}).items()}

    def reset(self) -> None:
        self.http.post("/_emulator/reset").raise_for_status()

    def close(self) -> None:
        self.http.close()
        terminate([self.proc])
        self._log.close()


# -- processes ------------------------------------------------------------------------------


def terminate(procs: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    """SIGTERM every live process, wait up to ``grace_s`` in all, then SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=5)


def wait_until(condition: Callable[[], bool], timeout_s: float, every_s: float = 0.02) -> bool:
    """Poll ``condition`` until true or ``timeout_s`` passed; returns whether it held."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(every_s)
    return condition()


class Stack:
    """A private Redis and the environment worker processes share; starts and ends workers."""

    def __init__(self, tmp: Path) -> None:
        from worker.embedded import RedisProcess

        self.tmp = tmp
        self.redis_proc = RedisProcess(tmp / "redis", port=0).start()
        self.redis_url = self.redis_proc.url
        dfile = tmp / "destinations.json"
        dfile.write_bytes(orjson.dumps({"destinations": DESTINATIONS}))
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TIKTOK_", "MASIVO_", "REDIS_", "SENTRY_"))
        }
        self.env.update(
            REDIS_URL=self.redis_url,
            MASIVO_TIKTOK_DESTINATIONS=str(dfile),
            MASIVO_TIKTOK_HTTP_TIMEOUT="10",
            MASIVO_TIKTOK_DATA_DIR=str(tmp / "data"),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    def start_workers(
        self,
        app: str,
        count: int,
        concurrency: int,
        env: Mapping[str, str],
        queues: str | None = None,
        pool: str = "prefork",
    ) -> None:
        """``count`` workers; with ``pool="solo"``, ``count * concurrency`` single processes."""
        if pool == "solo":
            count, concurrency = count * concurrency, 1
        for _ in range(count):
            log = (self.tmp / f"worker-{len(self._logs)}.log").open("wb")
            self._logs.append(log)
            cmd = [
                str(BIN / "celery"),
                "-A",
                app,
                "worker",
                "--loglevel=WARNING",
                "-c",
                str(concurrency),
                "-n",
                f"bench-{uuid.uuid4().hex[:8]}@%h",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ]
            if queues:
                cmd += ["-Q", queues]
            if pool != "prefork":
                cmd += ["--pool", pool]
            self.workers.append(
                subprocess.Popen(
                    cmd, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT
                )
            )

    def stop_workers(self) -> None:
        terminate(self.workers, grace_s=15)
        self.workers.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def flushall(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        try:
            self.stop_workers()
        finally:
            self.redis_proc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-emulator", action="store_true")
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=100_000)
    args = parser.parse_args()
    if args.serve_emulator:
        sys.path.insert(0, str(ROOT))
        _serve_emulator(args.rate_limit, args.capacity)
