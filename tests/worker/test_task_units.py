"""A doorbell task takes several units (intake entries, full batches) while more are ready.

Fewer Celery tasks per event; each unit is what one task did before, and a task that stops
with work left has always rung (armed) for it. Real Redis and the emulator (conftest).
"""

from __future__ import annotations

from typing import Any

import pytest

import tasks.delivery
from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, Recorder
from tests.worker.test_intake import Bell, ingest_all, produce, view
from worker import celery_app
from worker.runtime import Runtime
from worker.store.intake import backlog


@pytest.fixture
def task_rt(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setattr(tasks.delivery, "get_runtime", lambda: rt)
    monkeypatch.setattr(celery_app, "_settings", rt.settings)
    return rt


def _delivered(emulator: EmulatorServer) -> int:
    return len({e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=5000)})


def test_one_ingest_task_takes_every_waiting_entry_and_rings_once(task_rt: Runtime) -> None:
    rt = task_rt
    produce(rt, [view(i) for i in range(120)])  # 3 entries; the producer's doorbell is pending
    bell = Bell()
    rt.schedule_ingest = bell
    answer: dict[str, Any] = tasks.delivery.ingest.run("brand-a")
    assert answer["action"] == "ingested"
    assert answer["entries"] == 3
    assert answer["received"] == 120
    assert rt.intake("brand-a").entries() == 0
    assert rt.intake("brand-a").pending() == 0
    # the first entry rang for the next (another worker may take it); the rest coalesced
    assert bell.rung == ["brand-a"]


def test_an_ingest_task_past_its_time_stops_having_rung_for_what_is_left(
    task_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = task_rt
    monkeypatch.setattr(tasks.delivery, "MORE_FOR_S", 0.0)
    produce(rt, [view(i) for i in range(120)])
    bell = Bell()
    rt.schedule_ingest = bell
    assert tasks.delivery.ingest.run("brand-a")["entries"] == 1
    assert rt.intake("brand-a").entries() == 2
    assert bell.rung == ["brand-a"]  # the next task takes over


def test_an_ingest_task_stops_at_the_memory_rule_of_each_entry(
    task_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = task_rt
    produce(rt, [view(i) for i in range(120)])
    checks: list[str] = []

    def tight(destination: str) -> bool:
        checks.append(destination)
        return len(checks) > 1  # Redis fills up after the first entry

    monkeypatch.setattr(rt, "memory_tight", tight)
    answer = tasks.delivery.ingest.run("brand-a")
    assert answer["entries"] == 1
    assert len(checks) == 2
    assert rt.intake("brand-a").entries() == 2  # waiting in the intake; beat rings again


def test_one_flush_task_delivers_full_batches_while_ready_then_the_rest(
    task_rt: Runtime, emulator: EmulatorServer
) -> None:
    rt = task_rt
    produce(rt, [view(i) for i in range(250)])  # batch_size 100, linger 0
    ingest_all(rt)
    recorder = Recorder()
    rt.schedule_flush = recorder
    answer = tasks.delivery.flush.run("brand-a")
    assert answer["action"] == "delivered"
    assert answer["batches"] == 3  # 100, 100, then the 50 left (a partial batch ends it)
    assert answer["events"] == 250
    assert _delivered(emulator) == 250
    assert backlog(rt.redis, "brand-a") == 0
    # one flush armed for "another worker meanwhile" by the first batch; the others coalesced
    assert recorder.calls == [("brand-a", 0.0)]
    assert rt.in_flight == set()


def test_a_flush_task_past_its_time_stops_with_a_flush_armed_for_the_rest(
    task_rt: Runtime, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = task_rt
    monkeypatch.setattr(tasks.delivery, "MORE_FOR_S", 0.0)
    produce(rt, [view(i) for i in range(250)])
    ingest_all(rt)
    recorder = Recorder()
    rt.schedule_flush = recorder
    answer = tasks.delivery.flush.run("brand-a")
    assert (answer["batches"], answer["events"]) == (1, 100)
    assert rt.outbox("brand-a").depth() == 150
    assert recorder.calls == [("brand-a", 0.0)]


def test_a_flush_task_stops_at_a_batch_that_was_not_delivered(
    task_rt: Runtime, emulator: EmulatorServer
) -> None:
    rt = task_rt
    produce(rt, [view(i) for i in range(300)])
    ingest_all(rt)
    emulator.set_faults("503=1")  # every request fails: retried later, not in this task
    rt.schedule_flush = Recorder()
    answer = tasks.delivery.flush.run("brand-a")
    assert (answer["action"], answer["batches"]) == ("retry", 1)
    assert rt.outbox("brand-a").depth() == 200
