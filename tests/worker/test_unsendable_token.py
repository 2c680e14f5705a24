"""A token that cannot be an HTTP header pauses its destination and never reaches a log (issue 9).

The incident: a token holding an accent, a double quote and a control character passed the
settings; every flush raised ``UnicodeEncodeError`` out of httpx (as an "unexpected" error),
its text was logged 18 times in 75 s (raw in the message, again in Celery's ``data.exc``), the
destination neither paused nor dead-lettered.

Now the settings refuse such a token (tests/worker/test_settings.py). Should one get past
them anyway (here: a destination built without validation), the client refuses it before any
request as :class:`~worker.errors.Misconfigured`: the flush pauses the destination (kind
``config``), keeps its events, and the real logging setup prints no spelling of the token.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from emulator import EmulatorServer
from tests.leakscan import scan_for_leaks
from tests.worker.conftest import PIXEL_A, FakeClock
from worker import jobs
from worker.flush import Action, flush
from worker.ingest import ingest
from worker.observability import Scrubber, setup_logging
from worker.runtime import Runtime
from worker.store.pause import PauseKind, is_paused, paused_info

#: the token of the incident
BAD = 'tok-"caf\u00e9"-\x01-5ecret-abcdef'


def view(i: int) -> dict[str, Any]:
    return {
        "id": f"evt-{i}",
        "type": "view_item",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 60,
        "items": [{"id": f"sku-{i}", "name": "Socks", "price": 9.5}],
    }


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The real logging setup, scrubbing BAD, writing JSON lines to a stream."""
    root = logging.getLogger()
    saved = [h for h in root.handlers if getattr(h, "_masivo", False)]
    for h in saved:
        root.removeHandler(h)
    level = root.level
    stream = io.StringIO()
    handler = setup_logging(logging.DEBUG, stream=stream, scrub=Scrubber([BAD]))
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h in saved:
            root.addHandler(h)


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import sentry_sdk

    messages: list[str] = []
    monkeypatch.setattr(
        sentry_sdk, "capture_message", lambda message, **_: messages.append(message)
    )
    return messages


def test_an_unsendable_token_pauses_the_destination_sends_nothing_and_logs_no_token(
    rt: Runtime,
    emulator: EmulatorServer,
    clock: FakeClock,
    json_log: io.StringIO,
    sentry: list[str],
) -> None:
    good = rt.settings.destination("brand-a")
    # what the settings now refuse, copied without validation as if it had slipped through
    bad = good.model_copy(update={"access_token": SecretStr(BAD)})
    rt.settings.__dict__["destinations"] = {**rt.settings.destinations, "brand-a": bad}

    ingest(rt, "brand-a", [view(i) for i in range(10)])
    report = flush(rt, "brand-a")
    assert report.action == Action.CONFIG
    assert flush(rt, "brand-a").action == Action.PAUSED
    for _ in range(3):  # beat's probe, while the token is still wrong
        assert jobs.probe_auth(rt)["brand-a"] == "still paused (config)"
        clock.advance(60)

    info = paused_info(rt.redis, "brand-a")
    assert info is not None and info["kind"] == PauseKind.CONFIG.value
    assert "not a valid HTTP header value" in info["reason"]
    assert emulator.summary()["requests"] == 0  # nothing reached TikTok
    assert rt.dlq.size() == 0
    box = rt.outbox("brand-a")
    assert box.scheduled_events() + box.depth() == 10  # every event kept
    assert len(sentry) == 1

    out = json_log.getvalue()
    assert "not a valid HTTP header value" in out
    assert scan_for_leaks([out, str(info), *sentry], [BAD]) == []
    assert "UnicodeEncodeError" not in out  # refused before httpx, not by it

    # The token is fixed (a restart with valid settings): the probe resumes, all delivered.
    rt.settings.__dict__["destinations"] = {**rt.settings.destinations, "brand-a": good}
    assert jobs.probe_auth(rt)["brand-a"] == "resumed"
    assert not is_paused(rt.redis, "brand-a")
    for _ in range(20):
        if flush(rt, "brand-a").action == Action.IDLE and box.depth() == 0:
            break
        clock.advance(1)
    delivered = {e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=1000)}
    assert delivered == {f"evt-{i}" for i in range(10)}


def test_a_request_refused_before_it_left_is_not_counted_as_sent() -> None:
    from worker.errors import Misconfigured, Retryable
    from worker.flush import _was_sent, request_outcome

    assert not _was_sent(Misconfigured("the request could not be built (UnicodeEncodeError)"))
    assert _was_sent(Misconfigured("HTTP 400 without TikTok's code", http_status=400))
    assert _was_sent(Retryable("network error talking to TikTok (ConnectError: ECONNREFUSED)"))
    assert request_outcome(Retryable("boom", http_status=503)) == "server_error"
    assert request_outcome(Retryable("reset")) == "network"
