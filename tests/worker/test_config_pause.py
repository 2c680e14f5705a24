"""A request TikTok refuses as a whole pauses its destination: nothing dead-lettered (issue 9).

The rule, decided at the client's one boundary (``worker.tiktok.classify``):

* a 40002 naming an event (``data.N``) - that event is poison: dead-lettered, the rest sent;
* a 40002 naming a top-level field and no event (the pixel / ``event_source_id``,
  ``event_source``, ``test_event_code``, ``partner_name``) - a configuration error;
* an HTTP 400 that no TikTok code explains (a proxy, a wrong host) - a configuration error;
* any other 40002 (no index, e.g. TikTok's "Invalid value for event_id") - poison somewhere in
  the batch: bisected, as before.

A configuration error pauses the destination (kind ``config``), keeps the batch due, counts
``config_failures``, logs and reports once; beat's probe resumes it once TikTok accepts again.
Tested with the emulator over real sockets: its ``bad_source`` fault refuses one pixel like
TikTok refuses an unknown event source, its ``400`` fault answers like a proxy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from emulator import EmulatorConfig, EmulatorServer, parse_faults
from emulator.faults import FaultSpec
from emulator.validation import InvalidRequestError, validate_envelope, validate_events
from tests.worker.conftest import (
    PIXEL_A,
    PIXEL_B,
    TOKEN_A,
    TOKEN_B,
    FakeClock,
    drain,
    write_destinations,
)
from worker import jobs
from worker.errors import DeliveryError, Invalid, Misconfigured, Retryable
from worker.flush import Action, flush
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import counters
from worker.store.counters import Field
from worker.store.pause import PauseKind, is_paused, pause, paused_info
from worker.tiktok import classify

PIXEL_D = "C9DDDDDDDDDDDDDDDDDD"
TOKEN_D = "token-brand-d-0123456789"


@pytest.fixture(scope="module")
def emulator(clock: FakeClock) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        credentials={
            TOKEN_A: frozenset({PIXEL_A}),
            TOKEN_B: frozenset({PIXEL_B}),
            TOKEN_D: frozenset({PIXEL_D}),
        },
        rate_limit=0,
        clock=clock,
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, emulator: EmulatorServer) -> Settings:
    extra = [{"id": "brand-d", "pixel_code": PIXEL_D, "access_token": TOKEN_D}]
    return Settings(
        redis_url=redis_url,
        api_base_url=emulator.url,
        destinations_file=write_destinations(tmp_path / "destinations.yaml", extra),
        rate_limit=0,
        linger_s=0,
        batch_size=100,
        max_attempts=4,
        http_timeout_s=2,
        data_dir=tmp_path / "data",
    )


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import sentry_sdk

    messages: list[str] = []
    monkeypatch.setattr(
        sentry_sdk, "capture_message", lambda message, **_: messages.append(message)
    )
    return messages


def view(i: int) -> dict[str, Any]:
    return {
        "id": f"evt-{i}",
        "type": "view_item",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 60,
        "items": [{"id": f"sku-{i}", "name": "Socks", "price": 9.5}],
    }


def delivered_ids(emulator: EmulatorServer, pixel: str) -> set[str]:
    return {e["event_id"] for e in emulator.events(pixel=pixel, limit=100_000)}


def envelope(code: int, message: str) -> bytes:
    return orjson.dumps({"code": code, "message": message, "request_id": "r-1", "data": {}})


def raised(status: int, body: bytes) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        classify(status, body)
    return info.value


# -- the rule, at the boundary ------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("Invalid value for event_source_id", id="tiktok-event-source-id"),
        pytest.param(
            "Invalid value for event_source_id: no pixel C9DDDDDDDDDDDDDDDDDD was found.",
            id="emulator-bad-source",
        ),
        pytest.param("event_source_id: Not a valid string.", id="path-form"),
        pytest.param("event_source: Must be one of: web.", id="event-source"),
        pytest.param("test_event_code: Not a valid string.", id="test-event-code"),
        pytest.param("partner_name: Not a valid string.", id="partner-name"),
        pytest.param("Invalid pixel code.", id="mentions-the-pixel"),
        pytest.param("Invalid value for pixel_code", id="pixel-code"),
    ],
)
def test_a_40002_naming_a_top_level_field_is_a_configuration_error(message: str) -> None:
    error = raised(200, envelope(40002, message))
    assert type(error) is Misconfigured
    assert (error.kind, error.code, error.message) == ("config", 40002, message)


@pytest.mark.parametrize(
    ("message", "index"),
    [
        pytest.param("data.3.event_id: Not a valid string.", 3, id="names-the-event"),
        pytest.param("data.0.properties.pixel: x", 0, id="an-event-field-named-pixel"),
        pytest.param("data.2.event_source_id: x", 2, id="an-event-path-wins"),
        pytest.param("Invalid value for event_id: not a valid string.", None, id="tiktok-form"),
        pytest.param("data: Length must be between 1 and 1000.", None, id="batch-length"),
        pytest.param("Invalid request body: not valid JSON.", None, id="body-not-json"),
        pytest.param("data.1.lead.lead_event_source: x", 1, id="nested-lookalike"),
        pytest.param("", None, id="no-message"),
    ],
)
def test_any_other_40002_is_an_invalid_event(message: str, index: int | None) -> None:
    error = raised(200, envelope(40002, message))
    assert type(error) is Invalid
    assert isinstance(error, Invalid) and error.event_index == index


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"<html><title>400 Bad Request</title></html>", None, id="html"),
        pytest.param(b"", None, id="empty"),
        pytest.param(envelope(12345, "weird"), "weird", id="unknown-code"),
    ],
)
def test_an_http_400_no_tiktok_code_explains_is_a_configuration_error(
    body: bytes, message: str | None
) -> None:
    error = raised(400, body)
    assert type(error) is Misconfigured
    assert error.http_status == 400
    assert error.message == (message or "HTTP 400 without a TikTok answer")


def test_other_bare_statuses_keep_their_meaning() -> None:
    assert type(raised(404, b"not found")) is Retryable
    assert type(raised(400, envelope(40002, "data.1.event: x"))) is Invalid


def _emulator_message(body: object, events: list[Any] | None = None) -> str:
    def check() -> None:
        validate_envelope(body)
        validate_events(events or [], time.time(), 7 * 86400, 600)

    with pytest.raises(InvalidRequestError) as info:
        check()
    return info.value.message


def test_the_emulators_own_messages_split_the_same_way() -> None:
    """What the emulator says about the top level is configuration; about an event, poison."""
    good = {"event_source": "web", "event_source_id": PIXEL_A, "data": [{}]}
    top_level = [
        _emulator_message({**good, "event_source": "app"}),
        _emulator_message({**good, "event_source_id": ""}),
        _emulator_message({**good, "test_event_code": 7}),
        _emulator_message({**good, "partner_name": None}),
    ]
    for message in top_level:
        assert type(raised(200, envelope(40002, message))) is Misconfigured, message
    now = int(time.time())
    per_event = [
        _emulator_message(good, [{"event": "X", "event_time": now, "event_id": 1}]),
        _emulator_message(good, [{"event": "X", "event_time": "soon", "event_id": "a"}]),
        _emulator_message(good, [{"event": "X", "event_time": now, "event_id": "a", "user": 1}]),
        _emulator_message({**good, "data": []}),
    ]
    for message in per_event:
        assert type(raised(200, envelope(40002, message))) is Invalid, message


def test_the_emulator_faults_used_here_round_trip() -> None:
    spec = parse_faults(f"400=0.25,bad_source={PIXEL_D},bad_source={PIXEL_A}")
    assert spec == FaultSpec(http_400=0.25, bad_sources=(PIXEL_D, PIXEL_A))
    assert parse_faults(spec.to_text()) == spec
    with pytest.raises(ValueError, match="pixel"):
        parse_faults("bad_source=")


# -- the pipeline, over real sockets ------------------------------------------------------


def test_an_unknown_pixel_pauses_its_destination_and_keeps_every_event(
    rt: Runtime,
    emulator: EmulatorServer,
    clock: FakeClock,
    sentry: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before issue 9: 16 events -> 31 requests, all 16 dead-lettered, never paused."""
    emulator.set_faults(f"bad_source={PIXEL_D}")
    ingest(rt, "brand-d", [view(i) for i in range(16)])
    ingest(rt, "brand-a", [view(i) for i in range(10)])
    with caplog.at_level(logging.INFO, logger="worker"):
        report = flush(rt, "brand-d")
        assert report.action == Action.CONFIG
        assert flush(rt, "brand-d").action == Action.PAUSED  # nothing sent while paused
        assert jobs.probe_auth(rt) == {"brand-d": "still paused (config)"}
    info = paused_info(rt.redis, "brand-d")
    assert info is not None
    assert info["kind"] == PauseKind.CONFIG.value == "config"
    assert "event_source_id" in info["reason"]
    assert (info["code"], info["http_status"]) == (40002, 200)
    assert info["request_id"]
    assert rt.dlq.size() == 0
    box = rt.outbox("brand-d")
    assert box.scheduled_events() == 16 and box.depth() == 0
    stats = counters.read(rt.redis, "brand-d")
    assert stats[Field.REQUESTS] == 2  # the refused batch and the probe's attempt
    assert stats[Field.CONFIG_FAILURES] == 2
    assert not any(k.startswith("dead_lettered") for k in stats)
    paused_logs = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(paused_logs) == 1  # logged once, with the reason
    assert "pixel code / event_source_id" in paused_logs[0].getMessage()
    assert "Invalid value for event_source_id" in paused_logs[0].getMessage()
    assert sentry == ["TikTok destination brand-d paused: config (40002)"]

    # Other destinations (another pixel, and one sharing nothing) are unaffected.
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(10)}
    assert not is_paused(rt.redis, "brand-a")

    # The brand fixes its pixel (here: TikTok starts knowing it); the probe resumes it.
    emulator.set_faults("")
    assert jobs.probe_auth(rt) == {"brand-d": "resumed"}
    assert not is_paused(rt.redis, "brand-d")
    drain(rt, "brand-d", clock)
    assert delivered_ids(emulator, PIXEL_D) == {f"evt-{i}" for i in range(16)}
    assert counters.read(rt.redis, "brand-d")[Field.REQUESTS] == 3
    assert rt.dlq.size() == 0
    assert len(sentry) == 1


def test_a_bare_http_400_pauses_as_configuration_not_retried_for_hours(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock, sentry: list[str]
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(150)])  # two batches
    emulator.set_faults("400=1")
    first = flush(rt, "brand-a")
    assert first.action == Action.CONFIG
    assert first.events == 100
    info = paused_info(rt.redis, "brand-a")
    assert info is not None
    assert (info["kind"], info["http_status"], info["code"]) == ("config", 400, None)
    assert info["reason"] == "HTTP 400 without a TikTok answer"
    assert flush(rt, "brand-a").action == Action.PAUSED  # the second batch is not sent
    for _ in range(3):  # beat's probe, every minute, while the proxy still refuses
        assert jobs.probe_auth(rt)["brand-a"] == "still paused (config)"
        clock.advance(60)
    assert rt.dlq.size() == 0
    box = rt.outbox("brand-a")
    assert box.scheduled_events() + box.depth() == 150
    assert counters.read(rt.redis, "brand-a")[Field.REQUESTS] == 4
    assert len(sentry) == 1
    emulator.set_faults("")
    assert jobs.probe_auth(rt)["brand-a"] == "resumed"
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(150)}
    assert rt.dlq.size() == 0


def test_the_probe_leaves_an_operators_pause_alone(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(1)])
    assert pause(rt.redis, "brand-a", PauseKind.OPERATOR, "maintenance", clock())
    assert jobs.probe_auth(rt) == {}
    assert flush(rt, "brand-a").action == Action.PAUSED
    assert counters.read(rt.redis, "brand-a").get(Field.REQUESTS) is None


def test_a_token_fixed_onto_a_wrong_pixel_turns_the_pause_into_a_config_pause(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    """The pause says what to fix now; the probe keeps trying whichever TikTok cause it is."""
    ingest(rt, "brand-d", [view(i) for i in range(3)])
    token = emulator.app.config.credentials.pop(TOKEN_D)  # type: ignore[union-attr]
    try:
        assert flush(rt, "brand-d").action == Action.AUTH
    finally:
        emulator.app.config.credentials[TOKEN_D] = token  # type: ignore[index]
    assert paused_info(rt.redis, "brand-d")["kind"] == "auth"  # type: ignore[index]
    emulator.set_faults(f"bad_source={PIXEL_D}")
    assert jobs.probe_auth(rt) == {"brand-d": "still paused (config)"}
    info = paused_info(rt.redis, "brand-d")
    assert info is not None and info["kind"] == "config"
    emulator.set_faults("")
    assert jobs.probe_auth(rt) == {"brand-d": "resumed"}
    drain(rt, "brand-d", clock)
    assert delivered_ids(emulator, PIXEL_D) == {f"evt-{i}" for i in range(3)}


def test_an_automatic_pause_never_overrides_an_operators(redis_client: redis.Redis) -> None:
    assert pause(redis_client, "d", PauseKind.OPERATOR, "by hand", 1.0)
    assert not pause(redis_client, "d", PauseKind.CONFIG, "pixel", 2.0)
    assert not pause(redis_client, "d", PauseKind.AUTH, "token", 3.0)
    assert paused_info(redis_client, "d") == {"kind": "operator", "reason": "by hand", "since": 1.0}
    assert pause(redis_client, "e", "auth", "token", 1.0)
    assert not pause(redis_client, "e", PauseKind.AUTH, "token again", 2.0)
    assert pause(redis_client, "e", PauseKind.CONFIG, "pixel", 3.0)
    assert not pause(redis_client, "e", PauseKind.OPERATOR, "by hand", 4.0)
    assert paused_info(redis_client, "e") == {"kind": "config", "reason": "pixel", "since": 3.0}
    with pytest.raises(ValueError, match="sleepy"):
        pause(redis_client, "f", "sleepy", "?", 1.0)
