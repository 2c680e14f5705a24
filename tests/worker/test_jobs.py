"""Beat's once-per-period lock and the metrics collector, on a real Redis."""

from __future__ import annotations

import time

from prometheus_client import generate_latest

from cli.metrics import registry_for
from tests.worker.conftest import FakeClock, drain
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.store.locks import run_once_per_period


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
    assert (
        'masivo_tiktok_dlq_entries{category="rejected",destination="brand-a",'
        'reason="not_an_object"} 1.0' in text
    )
    assert 'masivo_tiktok_event_age_at_delivery_seconds_count{destination="brand-a"} 1.0' in text
    assert 'masivo_tiktok_paused{destination="brand-a",kind="operator"} 0.0' in text
    assert 'masivo_tiktok_celery_queue_length{queue="deliver"}' in text


def test_destinations_in_one_rate_limit_group_share_one_bucket(tmp_path, redis_client) -> None:  # type: ignore[no-untyped-def]
    from worker.runtime import Runtime
    from worker.settings import Settings

    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        "destinations:\n"
        "  - {id: a, pixel_code: C9AAAAAAAAAAAAAAAAAA, access_token: T1, rate_limit_group: tok}\n"
        "  - {id: b, pixel_code: C9BBBBBBBBBBBBBBBBBB, access_token: T1, rate_limit_group: tok}\n"
        "  - {id: c, pixel_code: C9CCCCCCCCCCCCCCCCCC, access_token: T2}\n"
    )
    s = Settings(destinations_file=dfile, rate_limit=1000)
    rt = Runtime(settings=s, redis=redis_client, client=None, schedule_flush=lambda d, c: None)  # type: ignore[arg-type]
    a, b, c = (rt.bucket(s.destination(x)) for x in "abc")
    assert a is b
    assert a is not c
    taken = a.take(1000)  # one second of budget (issue 12: the burst is the limit)
    assert taken.granted == 1000
    assert b.take(1).granted == 0  # the group's budget is spent, whoever asks


def test_the_python_producer_encodes_decimals_and_refuses_the_unencodable() -> None:
    from decimal import Decimal

    import orjson
    import pytest

    from worker.producer import _encode

    assert orjson.loads(_encode([{"value": Decimal("12.50")}])) == [{"value": "12.50"}]
    with pytest.raises(TypeError, match="JSON-serialisable"):
        _encode([{"x": object()}])
