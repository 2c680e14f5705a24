"""A scrape, ``status`` and ``dlq stats`` never read the dead-letter stream's entries (issue
11, point 1): their numbers come from the counts the DLQ's scripts keep, so they cost
O(destinations x reasons) whatever the DLQ's size (``bench/scrape.py`` measures it).

In process, on a real Redis: the store's stream scan is replaced by one that fails the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import generate_latest

from cli.dlq import filtered_stats
from cli.metrics import registry_for
from cli.status import status
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.deadletter import DeadLetter, DeadLetterStore
from worker.store.dlqstream import Stream

pytestmark = pytest.mark.integration

DESTINATIONS = [f"brand-{n}" for n in range(5)]
REASONS = [("exhausted", "server_error"), ("invalid", "tiktok_invalid"), ("rejected", "bad_time")]
ENTRIES = 3000


@pytest.fixture
def rt(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> Runtime:
    dfile = tmp_path / "destinations.yaml"
    lines = ["destinations:"]
    for n, dest in enumerate(DESTINATIONS):
        pixel = "C9AAAAAAAAAAAAAAAAA" + "ABCDEFGHIJ"[n]
        lines.append(f"  - {{id: {dest}, pixel_code: {pixel}, access_token: tok-{n}}}")
    dfile.write_text("\n".join(lines) + "\n")
    settings = Settings(redis_url=redis_url, destinations_file=dfile, data_dir=tmp_path)
    return Runtime(
        settings=settings,
        redis=redis_client,
        client=None,  # type: ignore[arg-type]  # nothing here talks to TikTok
        schedule_flush=lambda *args, **kwargs: None,
    )


def _fill(store: DeadLetterStore) -> dict[tuple[str, str, str], int]:
    """ENTRIES entries, round robin over destinations and reasons; the expected counts."""
    now = time.time()
    expected: dict[tuple[str, str, str], int] = {}
    batch = []
    for i in range(ENTRIES):
        dest = DESTINATIONS[i % len(DESTINATIONS)]
        category, reason = REASONS[i % len(REASONS)]
        batch.append(
            DeadLetter(
                destination=dest,
                category=category,
                reason=reason,
                first_failure=now,
                last_failure=now,
                payload={"event": "Search", "properties": {"query": "x" * 100}},
            )
        )
        key = (dest, category, reason)
        expected[key] = expected.get(key, 0) + 1
    for start in range(0, len(batch), 500):
        store.add(batch[start : start + 500])
    return expected


@pytest.fixture
def full(rt: Runtime) -> dict[tuple[str, str, str], int]:
    expected = _fill(rt.dlq)
    assert rt.dlq.counts() == expected  # the counts exist before the scan is forbidden
    return expected


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(self: Stream, since_ms: int | None) -> Iterator[Any]:
        raise AssertionError("the dead-letter stream was scanned")

    monkeypatch.setattr(Stream, "scan_raw", forbidden)


@pytest.mark.usefixtures("no_scan")
def test_a_scrape_reads_the_counts_not_the_stream(
    rt: Runtime, full: dict[tuple[str, str, str], int]
) -> None:
    text = generate_latest(registry_for(lambda: rt)).decode()
    for (dest, category, reason), n in full.items():
        line = (
            f'masivo_tiktok_dlq_entries{{category="{category}",destination="{dest}",'
            f'reason="{reason}"}} {float(n)}'
        )
        assert line in text
    assert "masivo_tiktok_redis_up 1.0" in text


@pytest.mark.usefixtures("no_scan")
def test_status_and_dlq_stats_read_the_counts_not_the_stream(
    rt: Runtime, full: dict[tuple[str, str, str], int]
) -> None:
    report = status(rt)
    per_dest = ENTRIES // len(DESTINATIONS)
    assert {d: report[d]["state"]["dlq"] for d in DESTINATIONS} == dict.fromkeys(
        DESTINATIONS, per_dest
    )
    assert sum(
        n for reasons in report["brand-0"]["state"]["dlq_by_category"].values()
        for n in reasons.values()
    ) == per_dest  # fmt: skip
    stats = filtered_stats(rt)
    assert stats["size"] == ENTRIES
    assert sum(stats["by_reason"].values()) == ENTRIES
    assert stats["oldest"] is not None and stats["newest"] is not None


def test_dlq_stats_by_destination_walks_only_to_the_first_match_from_each_end(
    rt: Runtime, full: dict[tuple[str, str, str], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read = 0
    scan = Stream.scan_raw

    def counting(self: Stream, since_ms: int | None) -> Iterator[Any]:
        nonlocal read
        for row in scan(self, since_ms):
            read += 1
            yield row

    monkeypatch.setattr(Stream, "scan_raw", counting)
    by_scan = filtered_stats(rt, destination="brand-3", limit=ENTRIES)  # the paging path
    read_by_scan, read = read, 0
    by_counts = filtered_stats(rt, destination="brand-3")
    assert by_counts == by_scan
    assert by_counts["size"] == ENTRIES // len(DESTINATIONS)
    assert read_by_scan == ENTRIES // len(DESTINATIONS)  # brand-3's own stream only
    assert read <= 1  # brand-3's first entry is the first of its stream

    reason = filtered_stats(rt, destination="brand-1", reason="tiktok_invalid")
    assert reason == filtered_stats(rt, destination="brand-1", reason="tiktok_invalid", limit=9999)
    assert filtered_stats(rt, destination="nobody")["oldest"] is None
