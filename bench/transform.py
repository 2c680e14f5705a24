"""Throughput of the pure transform on one core, against the JSON floor.

Run: ``.venv/bin/python bench/transform.py [--events N] [--rounds R]``

Builds a realistic mix of Masivo events (purchases with three products, add_to_cart,
view_item, search, custom events with nested metadata, audiences) from a pool of returning
customers, then measures in the same run:

* **floor** - ``orjson.loads`` + ``orjson.dumps`` of every event (what any worker pays);
* **full** - ``orjson.loads`` + :func:`transforms.transform` + ``orjson.dumps`` of the outcome.

It prints events/s of both (best of R rounds) and their ratio. Goals: full >= 50,000 events/s
and within 10x of the floor.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._mix import customer, product
from transforms import TransformOptions, transform

NOW = 1795521600.0  # 2026-11-24T12:00:00Z
OPTIONS = TransformOptions(destination_id="bench", default_currency="MXN", phone_region="MX")


def _event(rng: random.Random, customers: list[dict[str, Any]], n: int) -> dict[str, Any]:
    base = {"id": str(uuid.UUID(int=rng.getrandbits(128))), "brand_id": "brand_1"}
    base["issued_at"] = f"2026-11-24T{rng.randint(0, 11):02d}:{rng.randint(0, 59):02d}:00Z"
    base.update(rng.choice(customers))
    roll = n % 20
    if roll < 5:
        products = [product(rng) for _ in range(3)]
        total = round(sum(p["value"] for p in products), 2)
        order = {"purchase_id": f"ord_{n}", "value": total, "currency": "MXN"}
        return base | {"type": "PURCHASE", "order": order | {"products": products}}
    if roll < 9:
        item = {"item_id": f"SKU-{n % 777}", "item_name": "Tenis", "price": 999.0, "quantity": 1}
        return base | {"type": "add_to_cart", "items": [item], "value": 999.0}
    if roll < 13:
        return base | {"type": "view_item", "product": {"id": f"SKU-{n % 901}", "price": 120}}
    if roll < 16:
        return base | {"type": "search", "query": "tenis running"}
    if roll < 19:
        meta = {"plan": {"name": "Pro", "trial_days": 14}, "source": "app", "flags": ["a", "b"]}
        return base | {"type": "free_trial_started", "metadata": meta}
    ids = [f"cus_{i:06d}" for i in range(rng.randint(5, 50))]
    return {
        "id": base["id"],
        "type": "AUDIENCE",
        "action": "calculate",
        "audience": {"id": f"aud_{n % 13}", "name": "VIP"},
        "customer_ids": ids,
        "issued_at": base["issued_at"],
    }


def build_corpus(count: int, seed: int = 7) -> list[bytes]:
    """``count`` encoded events from 2,000 returning customers."""
    rng = random.Random(seed)
    customers = [customer(rng, i) for i in range(2000)]
    return [orjson.dumps(_event(rng, customers, n)) for n in range(count)]


def _floor(corpus: list[bytes]) -> None:
    for line in corpus:
        orjson.dumps(orjson.loads(line))


def _full(corpus: list[bytes]) -> None:
    for line in corpus:
        orjson.dumps(transform(orjson.loads(line), OPTIONS, NOW).as_json())


def _best_rate(run: Callable[[list[bytes]], None], corpus: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(corpus)
        best = min(best, time.perf_counter() - start)
    return len(corpus) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    corpus = build_corpus(args.events)
    outcomes: dict[str, int] = {}
    for line in corpus:
        kind = transform(orjson.loads(line), OPTIONS, NOW).as_json()["outcome"]
        outcomes[kind] = outcomes.get(kind, 0) + 1
    floor = _best_rate(_floor, corpus, args.rounds)
    full = _best_rate(_full, corpus, args.rounds)
    size = sum(map(len, corpus)) / len(corpus)
    print(f"events: {len(corpus)} (avg {size:.0f} bytes), outcomes: {outcomes}")
    print(f"floor (orjson decode+encode):            {floor:12,.0f} events/s")
    print(f"full  (decode+transform+encode):         {full:12,.0f} events/s")
    print(f"ratio floor/full:                        {floor / full:12.1f}x")
    ok = full >= 50_000 and floor / full <= 10
    print("goal (>= 50,000/s and within 10x):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
