"""AUDIENCE and CUSTOMER_TAGS operations."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.transforms.support import options, rejected, send_all, send_one
from transforms import RejectReason

MANAGER = hashlib.sha256(b"audience_manager").hexdigest()


def _ids(*ids: str) -> str:
    """Customer ids as audience events carry them: hashed like external_id, comma-joined."""
    return ",".join(hashlib.sha256(i.encode()).hexdigest() for i in ids)


def _audience(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "aud_evt_1",
        "type": "AUDIENCE",
        "action": "calculate",
        "audience": {"id": "aud_1", "name": "VIP"},
        "customer_ids": ["c1", "c2"],
        "issued_at": "2026-11-24T10:00:00Z",
    }
    raw.update(fields)
    return raw


@pytest.mark.parametrize(
    ("action", "event"),
    [
        pytest.param("calculate", "AudienceUpdated", id="calculate"),
        pytest.param("delete", "AudienceRemoved", id="delete"),
        pytest.param(" DELETE ", "AudienceRemoved", id="case-insensitive"),
    ],
)
def test_audience_actions(action: str, event: str) -> None:
    sent = send_one(_audience(action=action))
    assert sent == {
        "event": event,
        "event_time": 1_795_514_400,
        "event_id": "aud_evt_1:0",
        "user": {"external_id": MANAGER},
        "properties": {
            "audience_id": "aud_1",
            "audience_name": "VIP",
            "customers_count": 2,
            "action": action.strip().lower(),
            "customer_ids": _ids("c1", "c2"),
            "chunk_index": 0,
            "chunk_count": 1,
        },
    }


@pytest.mark.parametrize(
    ("fields", "reason", "detail"),
    [
        pytest.param({"action": None}, RejectReason.MISSING_ACTION, "action: required", id="none"),
        pytest.param({"action": ""}, RejectReason.MISSING_ACTION, "action: required", id="empty"),
        pytest.param({"action": "merge"}, RejectReason.INVALID_ACTION, "action: must", id="other"),
        pytest.param({"action": 1}, RejectReason.INVALID_ACTION, "action: must", id="number"),
        pytest.param({"audience": {}}, RejectReason.MISSING_AUDIENCE, "audience.id", id="no-id"),
        pytest.param(
            {"customer_ids": "c1"}, RejectReason.INVALID_FIELD, "customer_ids: must", id="ids-str"
        ),
        pytest.param(
            {"customer_ids": ["c1", {}]}, RejectReason.INVALID_FIELD, "customer_ids[1]", id="id-obj"
        ),
    ],
)
def test_audience_rejects(fields: dict[str, Any], reason: str, detail: str) -> None:
    reject = rejected(_audience(**fields))
    assert reject.reason == reason
    assert reject.detail.startswith(detail)


def test_large_audience_is_chunked_with_stable_ids() -> None:
    ids = [f"c{i}" for i in range(7)]
    events = send_all(_audience(customer_ids=ids), options(audience_chunk_size=3))
    assert [e["event_id"] for e in events] == ["aud_evt_1:0", "aud_evt_1:1", "aud_evt_1:2"]
    assert [e["properties"]["customer_ids"] for e in events] == [
        _ids("c0", "c1", "c2"),
        _ids("c3", "c4", "c5"),
        _ids("c6"),
    ]
    assert {e["properties"]["customers_count"] for e in events} == {7}
    assert [e["properties"]["chunk_index"] for e in events] == [0, 1, 2]
    assert {e["properties"]["chunk_count"] for e in events} == {3}
    assert len({e["event_id"] for e in events}) == 3


def test_audience_fields_from_top_level_aliases() -> None:
    raw = _audience(audience=None, audience_id=9, audience_name="Nine", customer_ids=[1, 2, 3])
    props = send_one(raw)["properties"]
    assert (props["audience_id"], props["audience_name"], props["customer_ids"]) == (
        "9",
        "Nine",
        _ids("1", "2", "3"),
    )


def test_audience_without_ids_uses_given_count() -> None:
    raw = _audience(customer_ids=None, audience={"id": "a", "customers_count": 1200})
    props = send_one(raw)["properties"]
    assert props["customers_count"] == 1200
    assert "customer_ids" not in props


def test_empty_audience_is_one_event() -> None:
    [event] = send_all(_audience(customer_ids=[]))
    assert event["properties"]["customers_count"] == 0


def test_hashed_event_id_is_suffixed_too() -> None:
    raw = _audience()
    raw.pop("id")
    events = send_all(raw, options(audience_chunk_size=1))
    assert [e["event_id"][-2:] for e in events] == [":0", ":1"]
    assert events[0]["event_id"].startswith("h:")


# --- customer tags ----------------------------------------------------------------------


def test_customer_tags_event() -> None:
    raw = {
        "id": "tag_1",
        "type": "CUSTOMER_TAGS",
        "customer_id": "user_123",
        "tags": ["vip", " early_adopter "],
        "action": "ADD",
        "issued_at": "2026-11-24T10:00:00Z",
    }
    assert send_one(raw) == {
        "event": "CustomerTagsUpdated",
        "event_time": 1_795_514_400,
        "event_id": "tag_1",
        "user": {"external_id": hashlib.sha256(b"user_123").hexdigest()},
        "properties": {"tags": "vip,early_adopter", "tags_count": 2, "action": "add"},
    }


@pytest.mark.parametrize(
    ("tags", "props"),
    [
        pytest.param("vip", {"tags": "vip", "tags_count": 1}, id="single-string"),
        pytest.param([], {"tags_count": 0}, id="empty-list"),
    ],
)
def test_customer_tags_shapes(tags: object, props: dict[str, Any]) -> None:
    raw = {"type": "customer_tags", "tags": tags, "customer_id": "c1"}
    assert send_one(raw)["properties"] == props


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        pytest.param(None, RejectReason.MISSING_TAGS, id="missing"),
        pytest.param({"a": 1}, RejectReason.INVALID_FIELD, id="object"),
        pytest.param([["x"]], RejectReason.INVALID_FIELD, id="nested"),
    ],
)
def test_customer_tags_rejects(tags: object, reason: str) -> None:
    assert rejected({"type": "CUSTOMER_TAGS", "tags": tags}).reason == reason
