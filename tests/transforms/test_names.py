"""Event names and switches: every row of the spec's tables."""

from __future__ import annotations

from typing import Any

import pytest

from tests.transforms.support import (
    NOW,
    OPTIONS,
    dropped,
    options,
    purchase_event,
    rejected,
    send_one,
)
from transforms import (
    EVENT_NAME_SWITCH,
    MASIVO_EVENT_NAMES,
    STANDARD_EVENTS,
    DropReason,
    RejectReason,
    switch_for,
    transform,
)
from transforms.names import LEGACY_STANDARD_EVENTS, NEWER_STANDARD_EVENTS, resolve_event_name

# The product spec's "Event mapping" table (plus add_to_wishlist from its 14-events table).
MASIVO_MAPPING = [
    ("purchase", "CompletePayment"),
    ("PURCHASE", "CompletePayment"),
    ("add_to_cart", "AddToCart"),
    ("begin_checkout", "InitiateCheckout"),
    ("add_payment_info", "AddPaymentInfo"),
    ("view_item", "ViewContent"),
    ("search", "Search"),
    ("sign_up", "CompleteRegistration"),
    ("add_to_wishlist", "AddToWishlist"),
]

# The spec's "Standard conversion events (14 events)" table: name and Masivo mapping.
FOURTEEN = [
    ("ViewContent", "view_item"),
    ("ClickButton", None),
    ("Search", "search"),
    ("Contact", None),
    ("Download", None),
    ("SubmitForm", None),
    ("CompleteRegistration", "sign_up"),
    ("Subscribe", None),
    ("AddToWishlist", "add_to_wishlist"),
    ("AddToCart", "add_to_cart"),
    ("InitiateCheckout", "begin_checkout"),
    ("AddPaymentInfo", "add_payment_info"),
    ("PlaceAnOrder", None),
    ("CompletePayment", "PURCHASE"),
]

NEWER = [
    "Purchase",
    "Lead",
    "StartTrial",
    "SubmitApplication",
    "ApplicationApproval",
    "Schedule",
    "CustomizeProduct",
    "FindLocation",
]

# masivo-event.md's switch table, one row per outgoing name.
SWITCHES = [
    ("CompletePayment", "purchases"),
    ("Purchase", "purchases"),
    *[
        (name, "conversions")
        for name in (
            "ViewContent",
            "AddToWishlist",
            "AddToCart",
            "InitiateCheckout",
            "AddPaymentInfo",
            "PlaceAnOrder",
            "CompleteRegistration",
            "Subscribe",
            "Lead",
            "StartTrial",
            "SubmitApplication",
            "ApplicationApproval",
            "Schedule",
            "CustomizeProduct",
            "FindLocation",
        )
    ],
    *[(name, "events") for name in ("ClickButton", "Search", "Contact", "Download", "SubmitForm")],
    ("free_trial_started", "events"),
    ("video_watched", "events"),
    ("AudienceUpdated", "audiences"),
    ("AudienceRemoved", "audiences"),
    ("CustomerTagsUpdated", "customer_tags"),
]


def _valid(event_type: str) -> dict[str, Any]:
    """A minimal event of ``event_type`` that is sendable (purchases need more)."""
    raw: dict[str, Any] = {"id": "e1", "type": event_type, "customer_id": "c1"}
    if event_type.lower() in {"purchase", "completepayment"}:
        raw["order"] = {"value": 10, "currency": "USD", "products": [{"sku": "A"}]}
    return raw


@pytest.mark.parametrize(
    ("masivo", "tiktok"), [pytest.param(m, t, id=m) for m, t in MASIVO_MAPPING]
)
def test_masivo_names_are_auto_mapped(masivo: str, tiktok: str) -> None:
    assert send_one(_valid(masivo))["event"] == tiktok


@pytest.mark.parametrize(
    "masivo",
    [
        pytest.param(v, id=v)
        for v in ("Add_To_Cart", "VIEW_ITEM", "Sign_Up", "pUrChAsE", " search ")
    ],
)
def test_masivo_names_are_case_insensitive_and_trimmed(masivo: str) -> None:
    expected = dict(MASIVO_MAPPING)[masivo.strip().lower()]
    assert send_one(_valid(masivo))["event"] == expected


@pytest.mark.parametrize(("name", "masivo"), [pytest.param(n, m, id=n) for n, m in FOURTEEN])
def test_fourteen_standard_names_are_sent_exactly(name: str, masivo: str | None) -> None:
    assert name in LEGACY_STANDARD_EVENTS
    assert send_one(_valid(name))["event"] == name
    if masivo is not None:
        assert send_one(_valid(masivo))["event"] == name


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in NEWER])
def test_newer_standard_names_are_accepted_exactly(name: str) -> None:
    assert name in NEWER_STANDARD_EVENTS
    assert send_one(_valid(name))["event"] == name


def test_exact_purchase_stays_purchase_but_lowercase_is_completepayment() -> None:
    assert resolve_event_name("Purchase") == "Purchase"
    assert resolve_event_name("purchase") == "CompletePayment"
    assert resolve_event_name("PURCHASE") == "CompletePayment"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("click_button", "click_button", id="standard-name-spelled-otherwise"),
        pytest.param("free_trial_started", "free_trial_started", id="custom"),
        pytest.param("  Video Watched ", "Video Watched", id="custom-trimmed"),
        pytest.param("Pageview", "Pageview", id="pageview-is-custom"),
    ],
)
def test_other_names_are_custom_events_keeping_their_name(given: str, expected: str) -> None:
    assert send_one(_valid(given))["event"] == expected


@pytest.mark.parametrize(("name", "switch"), [pytest.param(n, s, id=n) for n, s in SWITCHES])
def test_switch_table(name: str, switch: str) -> None:
    assert switch_for(name) == switch
    if name in EVENT_NAME_SWITCH:
        assert EVENT_NAME_SWITCH[name] == switch


@pytest.mark.parametrize(
    ("event_type", "switch"),
    [pytest.param(m, switch_for(t), id=f"{m}-{switch_for(t)}") for m, t in MASIVO_MAPPING]
    + [pytest.param(n, s, id=f"{n}-{s}") for n, s in SWITCHES if n[0].isupper()]
    + [
        pytest.param("AUDIENCE", "audiences", id="AUDIENCE-audiences"),
        pytest.param("CUSTOMER_TAGS", "customer_tags", id="CUSTOMER_TAGS-customer_tags"),
    ],
)
def test_switched_off_feature_drops(event_type: str, switch: str) -> None:
    raw = _valid(event_type) | {"action": "calculate", "audience": {"id": "a"}, "tags": ["x"]}
    off = options(features={switch: False})
    drop = dropped(raw, off)
    assert drop.reason == DropReason.FEATURE_DISABLED
    assert switch in drop.detail
    # every other switch off still sends it: exactly one switch governs an event
    others = dict.fromkeys(
        ("events", "conversions", "purchases", "audiences", "customer_tags"), False
    )
    others[switch] = True
    assert transform(raw, options(features=others), NOW).as_json()["outcome"] == "send"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(None, RejectReason.MISSING_TYPE, id="null"),
        pytest.param("", RejectReason.MISSING_TYPE, id="empty"),
        pytest.param("   ", RejectReason.MISSING_TYPE, id="blank"),
        pytest.param(7, RejectReason.INVALID_TYPE, id="number"),
        pytest.param(["purchase"], RejectReason.INVALID_TYPE, id="array"),
        pytest.param(True, RejectReason.INVALID_TYPE, id="bool"),
    ],
)
def test_type_must_be_a_non_empty_string(value: object, reason: str) -> None:
    reject = rejected({"type": value}, OPTIONS)
    assert reject.reason == reason
    assert reject.detail.startswith("type:")


def test_missing_type_key() -> None:
    assert rejected({"customer_id": "c1"}).reason == RejectReason.MISSING_TYPE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("completepayment", "CompletePayment", id="completepayment"),
        pytest.param("Completepayment", "CompletePayment", id="Completepayment"),
        pytest.param("COMPLETEPAYMENT", "CompletePayment", id="COMPLETEPAYMENT"),
        pytest.param("ADDTOCART", "AddToCart", id="ADDTOCART"),
        pytest.param("addtocart", "AddToCart", id="addtocart"),
        pytest.param("clickbutton", "ClickButton", id="clickbutton"),
        pytest.param(" CLICKBUTTON ", "ClickButton", id="CLICKBUTTON-trimmed"),
        pytest.param("lead", "Lead", id="lead-newer"),
        pytest.param("findlocation", "FindLocation", id="findlocation-newer"),
        pytest.param("purchase", "CompletePayment", id="masivo-table-before-case-match"),
        pytest.param("PURCHASE", "CompletePayment", id="masivo-PURCHASE"),
        pytest.param("Purchase", "Purchase", id="exact-wins-first"),
        pytest.param("SEARCH", "Search", id="search-either-way"),
        pytest.param("Click_Button", "Click_Button", id="not-a-case-variant-stays-custom"),
    ],
)
def test_case_variants_of_standard_names_map_to_tiktok_spelling(given: str, expected: str) -> None:
    assert resolve_event_name(given.strip()) == expected
    assert send_one(_valid(given))["event"] == expected


@pytest.mark.parametrize("name", sorted(STANDARD_EVENTS))
def test_every_standard_name_matches_case_insensitively(name: str) -> None:
    for variant in (name.lower(), name.upper()):
        resolved = resolve_event_name(variant)
        assert resolved == name or MASIVO_EVENT_NAMES.get(variant.lower()) == resolved


@pytest.mark.parametrize(
    ("fields", "outcome", "reason"),
    [
        pytest.param({"fulfilled": False}, "drop", "not_fulfilled", id="fulfilment-applies"),
        pytest.param({"order": {"products": []}}, "reject", "missing_contents", id="needs-items"),
    ],
)
@pytest.mark.parametrize("event_type", ["completepayment", "Completepayment", "PURCHASE"])
def test_case_variant_purchases_follow_purchase_rules(
    event_type: str, fields: dict[str, Any], outcome: str, reason: str
) -> None:
    raw = purchase_event() | {"type": event_type}
    if "order" in fields:
        raw["order"] = raw["order"] | fields["order"]
    else:
        raw.update(fields)
    result = transform(raw, OPTIONS, NOW).as_json()
    assert (result["outcome"], result["reason"]) == (outcome, reason)


def test_case_variant_purchase_obeys_the_purchases_switch() -> None:
    raw = purchase_event() | {"type": "completepayment"}
    assert dropped(raw, options(features={"purchases": False})).reason == "feature_disabled"
