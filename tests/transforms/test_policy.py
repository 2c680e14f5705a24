"""Consent and fulfilment read loosely but privacy first (``transforms.policy``), and the
customer requirement of customer tags."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.support import dropped, purchase_event, rejected, send_one
from transforms import DropReason, RejectReason
from transforms.policy import UNFULFILLED_STATUSES
from transforms.values import to_flag

# --- consent ----------------------------------------------------------------------------


def _with_vendors(vendors: object) -> dict[str, Any]:
    return {"type": "Contact", "customer_id": "c1", "consent": {"vendors": vendors}}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(False, id="false"),
        pytest.param("false", id="string-false"),
        pytest.param(" FALSE ", id="string-false-upper-padded"),
        pytest.param("no", id="no"),
        pytest.param("No", id="no-capitalised"),
        pytest.param("off", id="off"),
        pytest.param("OFF", id="off-upper"),
        pytest.param(0, id="zero"),
        pytest.param("0", id="string-zero"),
        pytest.param("maybe", id="unknown-string"),
        pytest.param("", id="empty-string"),
        pytest.param(None, id="null"),
        pytest.param({"granted": True}, id="object"),
        pytest.param([True], id="array"),
        pytest.param(2, id="two"),
        pytest.param(1.0, id="float-one"),
    ],
)
def test_consent_not_a_yes_drops(value: object) -> None:
    drop = dropped(_with_vendors({"tiktok": value}))
    assert drop.reason == DropReason.NO_CONSENT


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="true"),
        pytest.param("true", id="string-true"),
        pytest.param(" True ", id="string-true-padded"),
        pytest.param("yes", id="yes"),
        pytest.param("YES", id="yes-upper"),
        pytest.param(1, id="one"),
        pytest.param("1", id="string-one"),
    ],
)
def test_consent_yes_values_send(value: object) -> None:
    send_one(_with_vendors({"tiktok": value}))


@pytest.mark.parametrize(
    "vendors",
    [
        pytest.param({"TikTok": False}, id="TikTok"),
        pytest.param({"TIKTOK": "no"}, id="TIKTOK"),
        pytest.param({" tiktok ": 0}, id="padded-key"),
        pytest.param({"tiktok": True, "TikTok": False}, id="any-variant-denying-wins"),
        pytest.param({"TikTok": None}, id="variant-null"),
    ],
)
def test_consent_vendor_key_is_case_insensitive(vendors: dict[str, object]) -> None:
    assert dropped(_with_vendors(vendors)).reason == DropReason.NO_CONSENT


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"type": "Contact"}, id="no-consent-object"),
        pytest.param({"type": "Contact", "consent": {}}, id="no-vendors"),
        pytest.param(_with_vendors({}), id="empty-vendors"),
        pytest.param(_with_vendors({"meta": False}), id="other-vendor-only"),
        pytest.param(_with_vendors({"TikTok": "yes"}), id="variant-yes"),
        pytest.param({"type": "Contact", "consent": "no"}, id="consent-not-an-object"),
        pytest.param(_with_vendors(None), id="vendors-null"),
    ],
)
def test_missing_consent_allows(raw: dict[str, Any]) -> None:
    send_one(raw)


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(1, True, id="one"),
        pytest.param(" yes ", True, id="yes"),
        pytest.param(False, False, id="false"),
        pytest.param(0, False, id="zero"),
        pytest.param("Off", False, id="off"),
        pytest.param(None, None, id="null"),
        pytest.param(1.0, None, id="float"),
        pytest.param("y", None, id="y"),
        pytest.param(-1, None, id="minus-one"),
    ],
)
def test_to_flag(value: object, flag: bool | None) -> None:
    assert to_flag(value) is flag


# --- fulfilment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"fulfilled": "false"}, id="string-false"),
        pytest.param({"fulfilled": " False "}, id="string-false-padded"),
        pytest.param({"fulfilled": "no"}, id="no"),
        pytest.param({"fulfilled": 0}, id="zero"),
        pytest.param({"fulfilled": "0"}, id="string-zero"),
        pytest.param({"fulfilled": True, "status": "REFUNDED"}, id="status-wins-over-true"),
        *[
            pytest.param({"status": status}, id=f"status-{status}")
            for status in ("CANCELED", "canceled", "REFUNDED", "Failed", " REJECTED ")
        ],
        pytest.param({"order": {"status": "canceled"}}, id="order.status-us-spelling"),
    ],
)
@pytest.mark.parametrize("event_type", ["PURCHASE", "CompletePayment", "completepayment"])
def test_loose_not_fulfilled_drops(event_type: str, fields: dict[str, Any]) -> None:
    raw = purchase_event() | {"type": event_type}
    fields = dict(fields)
    if "order" in fields:
        raw["order"].update(fields.pop("order"))
    raw.update(fields)
    assert dropped(raw).reason == DropReason.NOT_FULFILLED


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"fulfilled": "true"}, id="string-true"),
        pytest.param({"fulfilled": 1}, id="one"),
        pytest.param({"fulfilled": "yes"}, id="yes"),
        pytest.param({"fulfilled": "1"}, id="string-one"),
        pytest.param({"fulfilled": None}, id="null-is-missing"),
        pytest.param({}, id="missing"),
        pytest.param({"status": "PAID"}, id="other-status"),
    ],
)
def test_loose_fulfilled_sends(fields: dict[str, Any]) -> None:
    assert send_one(purchase_event() | fields)["event"] == "CompletePayment"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("maybe", id="unknown-string"),
        pytest.param("", id="empty-string"),
        pytest.param(2, id="two"),
        pytest.param(0.5, id="fraction"),
        pytest.param({"done": True}, id="object"),
        pytest.param([False], id="array"),
    ],
)
def test_unreadable_fulfilled_is_rejected(value: object) -> None:
    reject = rejected(purchase_event() | {"fulfilled": value})
    assert reject.reason == RejectReason.INVALID_FIELD
    assert reject.detail.startswith("fulfilled:")


def test_unfulfilled_statuses_documented_set() -> None:
    assert {"CANCELED", "REFUNDED", "FAILED", "REJECTED", "PENDING"} <= UNFULFILLED_STATUSES


# --- customer tags need a customer ------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"customer_id": ""}, id="blank-customer_id"),
        pytest.param({"customer_id": True}, id="boolean-customer_id"),
        pytest.param({"email": "anonymous@masivo.com"}, id="placeholder-email-only"),
        pytest.param({"phone": "123"}, id="unusable-phone-only"),
        pytest.param({"context": {"ip": "203.0.113.9"}}, id="ip-only"),
    ],
)
@pytest.mark.parametrize("event_type", ["CUSTOMER_TAGS", "customer_tags", "CustomerTagsUpdated"])
def test_customer_tags_without_customer_are_rejected(
    event_type: str, fields: dict[str, Any]
) -> None:
    reject = rejected({"type": event_type, "tags": ["vip"], **fields})
    assert reject.reason == RejectReason.MISSING_CUSTOMER
    assert reject.detail.startswith("customer_id: required for customer tags")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"customer_id": "c1"}, id="customer_id"),
        pytest.param({"customer": {"customer_id": 7}}, id="customer.customer_id"),
        pytest.param({"email": "ana@gmail.com"}, id="email"),
        pytest.param({"customer": {"phone": "+1 213 373 4253"}}, id="customer.phone"),
    ],
)
def test_customer_tags_with_any_customer_key_are_sent(fields: dict[str, Any]) -> None:
    assert send_one({"type": "CUSTOMER_TAGS", "tags": ["vip"], **fields})["user"]


def test_missing_customer_is_a_reject_reason() -> None:
    assert RejectReason.MISSING_CUSTOMER == "missing_customer"
    assert RejectReason.MISSING_CUSTOMER in RejectReason.ALL
