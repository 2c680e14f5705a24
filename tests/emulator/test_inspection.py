"""Inspection API and Python accessors: summary, events, refused, duplicates, test events, reset."""

from __future__ import annotations

import httpx

from emulator import EmulatorServer

from .conftest import Api, FakeClock, ServerFactory, make_body, make_event


def test_summary_shape_and_counts(api: Api, server: EmulatorServer) -> None:
    api.send(3)
    api.send(1, start=100, test_event_code="TEST12345")
    assert api.post(make_body([make_event(1, api.clock.now)]), token="bad").json()["code"] == 40105
    summary = api.get("summary")
    assert summary == server.summary()
    assert summary["requests"] == 3
    assert summary["accepted_requests"] == 2
    assert summary["accepted"] == {"events": 3, "unique": 3, "duplicates": 0}
    assert summary["by_pixel"] == {
        "D17TA5JC77UDOT6CA5FG": {
            "events": 3,
            "unique": 3,
            "duplicates": 0,
            "by_event": {"Purchase": 3},
        }
    }
    assert summary["by_event"] == {"Purchase": 3}
    assert summary["refused"] == {"requests": 1, "events": 0, "by_code": {"40105": 1}}
    assert summary["test_events"] == {
        "TEST12345": {"events": 1, "unique": 1, "duplicates": 0, "by_event": {"Purchase": 1}}
    }
    assert summary["faults"] == {}


def test_duplicates_are_counted_not_lost(api: Api, server: EmulatorServer) -> None:
    api.send(5)
    api.send(5)  # a retry of the same batch
    api.send(2, start=4)  # overlaps one event
    accepted = server.summary()["accepted"]
    assert accepted == {"events": 12, "unique": 6, "duplicates": 6}
    assert server.summary()["by_event"] == {"Purchase": 6}
    flags = [e["duplicate"] for e in server.events()]
    assert flags == [False] * 5 + [True] * 5 + [True, False]


def test_same_event_id_with_another_event_name_is_not_a_duplicate(api: Api) -> None:
    event = make_event(1, api.clock.now)
    api.post(make_body([event]))
    api.post(make_body([{**event, "event": "AddToCart"}]))
    assert api.server.summary()["accepted"]["duplicates"] == 0


def test_dedup_window_is_48_hours(api: Api) -> None:
    api.send(1)
    api.clock.advance(48 * 3600 + 1)
    event = make_event(0, api.clock.now - 60)  # same event_id, still a fresh event_time
    api.post(make_body([event]))
    assert api.server.summary()["accepted"] == {"events": 2, "unique": 2, "duplicates": 0}


def test_events_endpoint_filters(api: Api) -> None:
    api.send(2)
    api.post(make_body([make_event(9, api.clock.now, event="AddToCart")]))
    api.send(1, start=50, test_event_code="TEST1")
    api.send(1, start=60, test_event_code="TEST2")
    production = api.get("events")
    assert production["count"] == 3
    first = production["events"][0]
    assert set(first) == {
        "pixel",
        "event",
        "event_id",
        "event_time",
        "test_event_code",
        "duplicate",
        "request_id",
        "received_at",
        "payload",
    }
    assert first["event_id"] == "order_0"
    assert first["payload"]["user"]["phone"] == make_event(0, 0)["user"]["phone"]
    assert [e["event_id"] for e in api.get("events", event="AddToCart")["events"]] == ["order_9"]
    assert api.get("events", pixel="NOPE")["count"] == 0
    assert [e["event_id"] for e in api.get("events", test="TEST1")["events"]] == ["order_50"]
    assert api.get("events", test="*")["count"] == 2
    assert [e["event_id"] for e in api.get("events", limit=2)["events"]] == ["order_1", "order_9"]
    assert api.server.events(test="TEST2")[0]["test_event_code"] == "TEST2"


def test_test_events_are_kept_apart_from_production(api: Api) -> None:
    api.send(1, test_event_code="TEST9")
    api.send(1)  # same event id in production: not a duplicate of the test event
    summary = api.server.summary()
    assert summary["accepted"] == {"events": 1, "unique": 1, "duplicates": 0}
    assert summary["test_events"]["TEST9"]["unique"] == 1


def test_refused_endpoint_says_why(api: Api) -> None:
    answer = api.post(make_body([make_event(0, api.clock.now, event_id=7)])).json()
    refused = api.get("refused")
    assert refused == [
        {
            "code": 40002,
            "message": "data.0.event_id: Not a valid string.",
            "request_id": answer["request_id"],
            "pixel": "D17TA5JC77UDOT6CA5FG",
            "events": 1,
            "at": api.clock.now,
        }
    ]
    assert api.server.refused(limit=1) == refused


def test_reset_clears_everything(api: Api, server: EmulatorServer) -> None:
    api.send(2)
    api.post(None, raw=b"x")
    response = api.http.post(f"{server.url}/_emulator/reset")
    assert response.json() == {"ok": True}
    summary = server.summary()
    assert summary["requests"] == 0
    assert summary["accepted"]["events"] == 0
    assert summary["refused"]["requests"] == 0
    assert server.events() == [] and server.refused() == [] and server.rate() == {}
    api.send(2)
    assert server.summary()["accepted"]["duplicates"] == 0  # dedup memory cleared too


def test_event_log_is_bounded_but_counters_exact(
    make_server: ServerFactory, client: httpx.Client, clock: FakeClock
) -> None:
    server = make_server(events_capacity=10)
    api = Api(client, server, clock)
    for batch in range(5):
        api.send(4, start=batch * 4)
    assert server.summary()["accepted"]["unique"] == 20
    logged = [e["event_id"] for e in server.events()]
    assert logged == [f"order_{i}" for i in range(12, 20)]  # whole requests, at most 10 events
