"""Shape, consent, fulfilment and event ids."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.support import dropped, options, purchase_event, rejected, send_one
from transforms import DropReason, RejectReason, canonical_event_id


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param([{"type": "purchase"}], id="array-of-events"),
        pytest.param("purchase", id="string"),
        pytest.param(3, id="int"),
        pytest.param(2.5, id="float"),
        pytest.param(True, id="bool"),
    ],
)
def test_input_must_be_an_object(raw: object) -> None:
    reject = rejected(raw)
    assert reject.reason == RejectReason.NOT_AN_OBJECT
    assert "JSON object" in reject.detail


def test_unknown_fields_are_ignored() -> None:
    event = send_one({"type": "Contact", "id": "1", "surprise": {"x": [1]}, "brand_id": "b"})
    assert event == {"event": "Contact", "event_time": 1_795_521_600, "event_id": "1"}


# --- consent ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type", ["PURCHASE", "add_to_cart", "ClickButton", "my_custom", "CUSTOMER_TAGS"]
)
def test_no_consent_drops_every_kind(event_type: str) -> None:
    raw = purchase_event() | {"type": event_type, "tags": ["a"]}
    raw["consent"] = {"vendors": {"tiktok": False}}
    assert dropped(raw).reason == DropReason.NO_CONSENT


def test_no_consent_drops_audiences() -> None:
    raw = {"type": "AUDIENCE", "action": "delete", "consent": {"vendors": {"tiktok": False}}}
    assert dropped(raw).reason == DropReason.NO_CONSENT


@pytest.mark.parametrize(
    "consent",
    [
        pytest.param({"vendors": {"tiktok": True}}, id="true"),
        pytest.param({"vendors": {"meta": False}}, id="other-vendor"),
        pytest.param({"vendors": None}, id="null-vendors"),
        pytest.param("no", id="not-an-object"),
    ],
)
def test_consent_other_values_send(consent: object) -> None:
    send_one({"type": "Contact", "consent": consent})


# --- fulfilment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"fulfilled": False}, id="fulfilled-false"),
        *[
            pytest.param({"status": status}, id=f"status-{status}")
            for status in ("PENDING", "REVERSED", "CANCELLED", "EXPIRED", "pending", " Cancelled ")
        ],
        pytest.param({"order_status": "x", "order": {"status": "EXPIRED"}}, id="order.status"),
    ],
)
@pytest.mark.parametrize("event_type", ["PURCHASE", "purchase", "CompletePayment", "Purchase"])
def test_unfulfilled_purchases_are_dropped(event_type: str, fields: dict[str, Any]) -> None:
    raw = purchase_event() | {"type": event_type}
    fields = dict(fields)
    if "order" in fields:
        raw["order"].update(fields.pop("order"))
    raw.update(fields)
    assert dropped(raw).reason == DropReason.NOT_FULFILLED


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"fulfilled": True}, id="fulfilled-true"),
        pytest.param({}, id="missing-means-fulfilled"),
        pytest.param({"status": "COMPLETED"}, id="status-completed"),
    ],
)
def test_fulfilled_purchases_are_sent(fields: dict[str, Any]) -> None:
    send_one(purchase_event() | fields)


def test_fulfilment_only_applies_to_purchases() -> None:
    send_one({"type": "add_to_cart", "fulfilled": False, "status": "PENDING"})


def test_drop_order_switch_before_consent_before_time() -> None:
    raw = purchase_event() | {"consent": {"vendors": {"tiktok": False}}, "issued_at": 1}
    assert dropped(raw, options(features={"purchases": False})).reason == "feature_disabled"
    assert dropped(raw).reason == DropReason.NO_CONSENT
    raw.pop("consent")
    assert dropped(raw | {"fulfilled": False}).reason == DropReason.TOO_OLD


# --- event_id ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "event_id"),
    [
        pytest.param(
            "9b2f3c1e-0000-4000-8000-000000000001",
            "9b2f3c1e-0000-4000-8000-000000000001",
            id="uuid",
        ),
        pytest.param(12345, "12345", id="number-stringified"),
        pytest.param(" abc ", "abc", id="trimmed"),
    ],
)
def test_event_id_is_the_masivo_id(given: object, event_id: str) -> None:
    assert send_one({"type": "Contact", "id": given})["event_id"] == event_id


@pytest.mark.parametrize("given", [None, "", True, {"x": 1}, [1]])
def test_event_id_hash_when_no_usable_id(given: object) -> None:
    event_id = send_one({"type": "Contact", "id": given, "customer_id": "c"})["event_id"]
    assert isinstance(event_id, str)
    assert event_id.startswith("h:")
    assert len(event_id) == 34


def test_event_id_hash_is_stable_and_key_order_independent() -> None:
    a = {"type": "Contact", "customer_id": "c", "context": {"ip": "1.2.3.4", "locale": "es"}}
    b = {"context": {"locale": "es", "ip": "1.2.3.4"}, "customer_id": "c", "type": "Contact"}
    assert canonical_event_id(a, "d") == canonical_event_id(b, "d")
    assert send_one(a)["event_id"] == send_one(b)["event_id"]


def test_event_id_hash_depends_on_destination_and_content() -> None:
    raw = {"type": "Contact", "customer_id": "c"}
    assert canonical_event_id(raw, "d1") != canonical_event_id(raw, "d2")
    assert canonical_event_id(raw, "d1") != canonical_event_id(raw | {"customer_id": "e"}, "d1")


def test_event_id_hash_for_values_orjson_cannot_encode() -> None:
    raw = {"type": "Contact", "big": 2**80, "s": "\ud800"}
    assert canonical_event_id(raw, "d") == canonical_event_id(dict(reversed(raw.items())), "d")


def test_unidentifiable_event_is_rejected_not_raised() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["n"] = {}
        node = node["n"]
    reject = rejected({"type": "Contact", "junk": deep})
    assert reject.reason == RejectReason.UNIDENTIFIABLE
    send_one({"type": "Contact", "id": "x", "junk": deep})
