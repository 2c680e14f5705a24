"""Shared helpers of the transform tests: a fixed clock and options, and outcome unpacking.

A plain module (not ``conftest.py``) with a name unique in the whole test tree, so it cannot
clash with helpers of the other test folders under pytest's default import mode.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from transforms import Drop, Features, Reject, Send, TransformOptions, transform

#: 2026-11-24T12:00:00Z - the README demo's ``--now``.
NOW = 1_795_521_600.0
ISO_NOW = "2026-11-24T12:00:00Z"

OPTIONS = TransformOptions(destination_id="dest_1", default_currency=None, phone_region="US")


def options(**changes: Any) -> TransformOptions:
    """``OPTIONS`` with some fields changed; ``features=`` takes a dict of switch values."""
    if isinstance(changes.get("features"), dict):
        changes["features"] = Features(**changes["features"])
    return replace(OPTIONS, **changes)


def send_all(
    raw: object, opts: TransformOptions = OPTIONS, now: float = NOW
) -> list[dict[str, Any]]:
    outcome = transform(raw, opts, now)
    assert isinstance(outcome, Send), outcome
    return list(outcome.events)


def send_one(raw: object, opts: TransformOptions = OPTIONS, now: float = NOW) -> dict[str, Any]:
    events = send_all(raw, opts, now)
    assert len(events) == 1, events
    return events[0]


def props(raw: object, opts: TransformOptions = OPTIONS) -> dict[str, Any]:
    return dict(send_one(raw, opts).get("properties", {}))


def rejected(raw: object, opts: TransformOptions = OPTIONS, now: float = NOW) -> Reject:
    outcome = transform(raw, opts, now)
    assert isinstance(outcome, Reject), outcome
    return outcome


def dropped(raw: object, opts: TransformOptions = OPTIONS, now: float = NOW) -> Drop:
    outcome = transform(raw, opts, now)
    assert isinstance(outcome, Drop), outcome
    return outcome


def purchase_event() -> dict[str, Any]:
    """A fresh valid native-format purchase; tests mutate their own copy."""
    return {
        "id": "evt_p1",
        "type": "PURCHASE",
        "customer_id": "user_123",
        "issued_at": "2026-11-24T10:00:00Z",
        "order": {
            "purchase_id": "ord_1",
            "value": 59.98,
            "currency": "USD",
            "products": [{"sku": "SKU-1", "name": "Socks", "amount": 2, "value": 59.98}],
        },
    }
