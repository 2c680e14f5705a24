"""Helpers shared by the pipeline benchmarks: the bench's stack and its events.

The processes come from :class:`devstack.Stack`: a private Redis, the emulator in its own
process (:meth:`devstack.Stack.start_emulator`, so its GIL does not compete with the producer
in the bench process; inspected over its ``/_emulator/*`` HTTP API) and Celery workers.
Everything listens on 127.0.0.1 only and :meth:`devstack.Stack.stop` ends every process
(SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import devstack
from bench._mix import customer, product
from devstack import credentials
from devstack.credentials import PIXEL_A, PIXEL_B, PIXEL_NAIVE, TOKEN_A, TOKEN_B, TOKEN_NAIVE

__all__ = [
    "CREDENTIALS",
    "PIXEL_A",
    "PIXEL_B",
    "PIXEL_NAIVE",
    "ROOT",
    "Stack",
    "make_events",
    "sent_count",
]

ROOT = Path(__file__).resolve().parent.parent

#: what the bench's emulators accept: brand-a, brand-b and the naive baseline's pixel
CREDENTIALS = credentials.emulator_credentials(TOKEN_A, TOKEN_B, TOKEN_NAIVE)


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


# -- the stack ------------------------------------------------------------------------------


class Stack(devstack.Stack):
    """A started :class:`devstack.Stack` with a private Redis and destinations brand-a and
    brand-b; workers come in line-ups (:meth:`start_workers`)."""

    def __init__(self, directory: Path, appendfsync: str | None = None) -> None:
        """``appendfsync`` (``always``/``everysec``/``no``): Redis with an AOF and that policy;
        ``None``: no persistence (the pipeline bench measures the worker, not the disk)."""
        super().__init__(
            directory,
            destinations=[
                credentials.destination("brand-a", PIXEL_A, TOKEN_A),
                credentials.destination("brand-b", PIXEL_B, TOKEN_B),
            ],
            env={"MASIVO_TIKTOK_HTTP_TIMEOUT": "10", "PYTHONPATH": str(ROOT)},
        )
        if appendfsync is not None:
            self.redis_server = devstack.RedisProcess(
                self.directory / "redis",
                port=0,
                appendonly=True,
                extra={"appendfsync": appendfsync},
            )
        self.start()

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
            self.start_worker(
                app=app,
                concurrency=concurrency,
                queues=queues,
                pool=None if pool == "prefork" else pool,
                loglevel="WARNING",
                env=env,
                args=["--without-heartbeat"],
                name="bench",
            )

    def start_emulator(self, name: str = "emulator", **options: Any) -> devstack.EmulatorProcess:
        """The emulator with the bench's credentials (``options``: see EmulatorProcess)."""
        options.setdefault("credentials", CREDENTIALS)
        return super().start_emulator(name, **options)
