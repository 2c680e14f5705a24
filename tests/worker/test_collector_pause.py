"""Ingest pauses the cyclic collector while it decodes and transforms a chunk (issue 12's CPU
per event) and leaves it as it found it, threads included."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.worker.test_intake import produce, view
from worker import ingest as ingesting
from worker.ingest import _CollectorPause, ingest_next
from worker.runtime import Runtime


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_ingest_pauses_the_collector_and_leaves_it_as_it_was(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    seen: list[bool] = []
    real = ingesting.transform_chunk

    def spy(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(ingesting, "transform_chunk", spy)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        produce(rt, [view(i) for i in range(5)])
        assert ingest_next(rt, "brand-a", ring=False).queued == 5
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_an_undecodable_chunk_leaves_the_collector_on(rt: Runtime, collector_on: None) -> None:
    rt.intake("brand-a").append(b"[not json", 1)
    assert ingest_next(rt, "brand-a", ring=False).action == "dead"
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_collector_on(collector_on: None) -> None:
    # the interleaving a bare isenabled()/disable()/enable() got wrong: the second pause
    # starts while the first is on, the first ends, then the second
    pause = _CollectorPause()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states: list[bool] = []

    def first() -> None:
        with pause:
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with pause:
            second_in.set()
            first_out.wait(5)
            states.append(gc.isenabled())  # still paused: the second chunk is running

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert states == [False]
    assert gc.isenabled()


def test_a_pause_that_raises_resumes_the_collector(collector_on: None) -> None:
    pause = _CollectorPause()
    inside: list[bool] = []

    def chunk() -> None:
        with pause:
            inside.append(gc.isenabled())
            raise ValueError("a bug in a transform")

    with pytest.raises(ValueError, match="a bug"):
        chunk()
    assert inside == [False]
    assert gc.isenabled()
