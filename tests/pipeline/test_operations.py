"""Beat's once-per-period lock and the metrics collector, on a real Redis."""

from __future__ import annotations

import time

from prometheus_client import generate_latest

from tests.pipeline.conftest import FakeClock, drain
from worker.locks import run_once_per_period
from worker.metrics import registry_for
from worker.pipeline import ingest
from worker.runtime import Runtime


def test_a_second_beat_in_the_same_period_skips_the_job(rt: Runtime) -> None:
    runs: list[int] = []
    assert run_once_per_period(rt.redis, "job", 30, lambda: runs.append(1) or "ran") == "ran"
    assert run_once_per_period(rt.redis, "job", 30, lambda: runs.append(2) or "ran") == "skipped"
    assert runs == [1]
    rt.redis.delete("mtt:lock:job")  # the period ends (the key's TTL)
    assert run_once_per_period(rt.redis, "job", 30, lambda: runs.append(3) or "ran") == "ran"


def test_metrics_expose_domain_figures_with_prometheus_names(rt: Runtime, clock: FakeClock) -> None:
    now = int(time.time())
    ingest(rt, "brand-a", [{"id": "m1", "type": "search", "query": "x", "issued_at": now}, "junk"])
    drain(rt, "brand-a", clock)
    text = generate_latest(registry_for(lambda: rt)).decode()
    assert 'masivo_tiktok_events_received_total{destination="brand-a"} 2.0' in text
    assert 'masivo_tiktok_events_delivered_total{destination="brand-a",event="Search"} 1.0' in text
    assert (
        'masivo_tiktok_events_rejected_total{destination="brand-a",reason="not_an_object"} 1.0'
        in text
    )
    assert 'masivo_tiktok_dlq_entries{destination="brand-a"} 1.0' in text
    assert 'masivo_tiktok_event_age_at_delivery_seconds_count{destination="brand-a"} 1.0' in text
    assert 'masivo_tiktok_paused{destination="brand-a",kind=""} 0.0' in text
    assert 'masivo_tiktok_celery_queue_length{queue="deliver"}' in text
