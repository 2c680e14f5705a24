"""Issue 10, points 2-8 (transform half): deduplication ids, purchases without currency,
custom parameters, peers' inputs, the event map, hashed audience ids and the quality record."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.transforms.support import (
    NOW,
    OPTIONS,
    dropped,
    options,
    props,
    purchase_event,
    rejected,
    send_one,
)
from transforms import DropReason, RejectReason, Send, TransformOptions, transform
from transforms.core import KNOWN_FIELDS
from transforms.eventid import HASH_PREFIX
from transforms.names import check_event_map
from transforms.quality import MatchKey, Quality, QualityWarning


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _quality(raw: dict[str, Any], opts: TransformOptions = OPTIONS) -> Quality:
    outcome = transform(raw, opts, NOW)
    assert isinstance(outcome, Send), outcome
    return outcome.quality[0]


# --- point 2: event_id precedence -------------------------------------------------------

ORDER_ID = options(purchase_event_id="order_id")


@pytest.mark.parametrize(
    ("fields", "opts", "expected"),
    [
        pytest.param({"event_id": "px-1", "id": "m-1"}, OPTIONS, "px-1", id="explicit-wins"),
        pytest.param({"event_id": 77, "id": "m-1"}, OPTIONS, "77", id="explicit-number"),
        pytest.param({"event_id": " ", "id": "m-1"}, OPTIONS, "m-1", id="blank-explicit"),
        pytest.param({"event_id": True, "id": "m-1"}, OPTIONS, "m-1", id="bool-is-not-an-id"),
        pytest.param({"id": "m-1"}, OPTIONS, "m-1", id="masivo-id"),
        pytest.param({"id": "m-1"}, ORDER_ID, "ord_1", id="order-id-option"),
        pytest.param(
            {"event_id": "px-1", "id": "m-1"}, ORDER_ID, "px-1", id="explicit-beats-order"
        ),
    ],
)
def test_purchase_event_id_precedence(
    fields: dict[str, Any], opts: TransformOptions, expected: str
) -> None:
    raw = purchase_event()
    raw.pop("id")
    assert send_one(raw | fields, opts)["event_id"] == expected


def test_order_id_option_falls_back_and_applies_to_purchases_only() -> None:
    raw = purchase_event()
    del raw["order"]["purchase_id"]
    assert send_one(raw, ORDER_ID)["event_id"] == "evt_p1"
    del raw["id"]
    assert send_one(raw, ORDER_ID)["event_id"].startswith(HASH_PREFIX)
    cart = {"id": "c-1", "type": "add_to_cart", "order_id": "o-9", "value": 1, "currency": "USD"}
    assert send_one(cart, ORDER_ID)["event_id"] == "c-1"
    alt = {"id": "a-1", "type": "Purchase", "transaction_id": "t-9", "value": 5, "currency": "USD"}
    alt["items"] = [{"id": "x"}]
    assert send_one(alt, ORDER_ID)["event_id"] == "t-9"


def test_explicit_event_id_in_audience_parts() -> None:
    raw = {"type": "AUDIENCE", "action": "calculate", "audience": {"id": "a"}, "event_id": "x"}
    assert send_one(raw | {"customer_ids": ["c1"]})["event_id"] == "x:0"


# --- point 3: purchases without currency -------------------------------------------------


def test_purchase_without_currency_is_a_warning_not_a_reject() -> None:
    raw = purchase_event()
    del raw["order"]["currency"]
    quality = _quality(raw)
    assert quality.warnings == ("currency_missing",)
    assert "value" not in props(raw)
    assert props(raw, options(default_currency="MXN"))["value"] == 59.98


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        pytest.param({"currency": "dollars"}, RejectReason.INVALID_CURRENCY, id="invalid-currency"),
        pytest.param({"currency": 5}, RejectReason.INVALID_CURRENCY, id="currency-not-text"),
        pytest.param({"value": -1}, RejectReason.INVALID_VALUE, id="negative"),
        pytest.param({"value": None}, RejectReason.MISSING_VALUE, id="no-value"),
    ],
)
def test_purchase_value_with_currency_keeps_its_validation(
    order: dict[str, Any], reason: str
) -> None:
    raw = purchase_event()
    raw["order"].update(order)
    assert rejected(raw).reason == reason


def test_priced_event_without_currency_is_counted() -> None:
    raw = {"type": "add_to_cart", "customer_id": "c", "value": 5, "items": [{"id": "a"}]}
    assert _quality(raw).warnings == ("currency_missing",)
    assert props(raw)["value"] == 5  # only purchases lose their value
    assert _quality(raw | {"currency": "USD"}).warnings == ()


# --- point 4: custom parameters and ignored keys ----------------------------------------


def test_custom_parameters_from_metadata_and_properties() -> None:
    raw = {
        "type": "plan_upgraded",
        "metadata": {"plan": "Pro"},
        "properties": {"plan": "Team", "seats": {"max": 5}},
    }
    assert props(raw) == {"custom_plan": "Pro", "custom_plan_2": "Team", "custom_seats_max": 5}
    assert props({"type": "plan_upgraded", "properties": {"a": 1}}) == {"custom_a": 1}


@pytest.mark.parametrize(
    ("raw", "ignored"),
    [
        pytest.param({"type": "my_event", "customer_id": "c"}, False, id="plain"),
        pytest.param({"type": "my_event", "customer_id": "c", "ssn": "x"}, True, id="unknown-key"),
        pytest.param(
            {"type": "my_event", "metadata": {"a": 1}, "customer_id": "c"}, False, id="md"
        ),
        pytest.param({"type": "Contact", "metadata": {"a": 1}, "customer_id": "c"}, True, id="std"),
        pytest.param({"type": "Contact", "properties": {}, "customer_id": "c"}, False, id="empty"),
        pytest.param(
            {"type": "CUSTOMER_TAGS", "customer_id": "c", "tags": ["v"], "action": "add"},
            False,
            id="tags-fields",
        ),
        pytest.param(
            {"type": "my_event", "customer_id": "c", "tags": ["v"]}, True, id="tags-elsewhere"
        ),
        pytest.param(
            {"type": "CUSTOMER_TAGS", "customer_id": "c", "tags": "v", "x": 1}, True, id="tags-x"
        ),
    ],
)
def test_params_ignored(raw: dict[str, Any], ignored: bool) -> None:
    assert ("params_ignored" in _quality(raw).warnings) is ignored


def test_unknown_top_level_keys_are_never_sent() -> None:
    raw = {"type": "my_event", "customer_id": "c", "ssn": "123-45-6789", "metadata": {"a": 1}}
    event = send_one(raw)
    assert "123-45-6789" not in str(event)
    assert "custom_ssn" not in event["properties"]


def test_every_contract_field_is_known() -> None:
    """``masivo-event.md``'s top-level fields are all read (none counts as ignored)."""
    contract = {
        "type", "id", "event_id", "customer_id", "brand_id", "issued_at", "fulfilled",
        "status", "order", "items", "contents", "products", "product", "value", "currency",
        "order_id", "query", "description", "content_type", "email", "phone", "customer",
        "is_anonymous", "context", "metadata", "properties", "shop_id", "limited_data_use",
        "consent",
    }  # fmt: skip
    assert contract <= KNOWN_FIELDS


# --- point 5: inputs peers accept -------------------------------------------------------


@pytest.mark.parametrize("field", ["items", "contents", "products"])
def test_single_item_object(field: str) -> None:
    raw = {"type": "AddToCart", field: {"product_id": 12, "name": "Cap", "price": 5}}
    assert props(raw)["contents"] == [{"content_id": "12", "content_name": "Cap", "price": 5}]


def test_single_order_product_object() -> None:
    raw = purchase_event()
    raw["order"]["products"] = {"sku": "S", "amount": 1, "value": 59.98}
    assert props(raw)["contents"] == [{"content_id": "S", "price": 59.98, "quantity": 1}]


def test_product_id_alias_order() -> None:
    item = {"product_id": "p", "id": "i"}
    assert props({"type": "AddToCart", "items": [item]})["contents"][0]["content_id"] == "p"
    item = {"sku": "s", "product_id": "p"}
    assert props({"type": "AddToCart", "items": [item]})["contents"][0]["content_id"] == "s"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"type": "search", "query": "tenis"},
            {"query": "tenis", "search_string": "tenis"},
            id="query",
        ),
        pytest.param(
            {"type": "Search", "search_string": "tenis"},
            {"query": "tenis", "search_string": "tenis"},
            id="search_string",
        ),
        pytest.param({"type": "Contact", "query": "q"}, {"query": "q"}, id="not-a-search"),
        pytest.param({"type": "Contact", "shop_id": 12}, {"shop_id": "12"}, id="shop_id"),
    ],
)
def test_search_string_and_shop_id(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert props(raw) == expected


@pytest.mark.parametrize(
    ("fields", "default", "expected"),
    [
        pytest.param({}, None, None, id="neither"),
        pytest.param({}, True, True, id="destination-default"),
        pytest.param({"limited_data_use": False}, True, False, id="event-wins"),
        pytest.param({"context": {"limited_data_use": True}}, False, True, id="context-wins"),
    ],
)
def test_limited_data_use_default(
    fields: dict[str, Any], default: bool | None, expected: bool | None
) -> None:
    opts = options(limited_data_use=default)
    assert send_one({"type": "Contact", **fields}, opts).get("limited_data_use") == expected
    audience = {"type": "AUDIENCE", "action": "delete", "audience": {"id": "a"}, **fields}
    assert send_one(audience, opts).get("limited_data_use") == expected


# --- point 6: event map -----------------------------------------------------------------


def _mapped(event_map: dict[str, str], **changes: Any) -> TransformOptions:
    return options(event_map=check_event_map(event_map), **changes)


def test_event_map_applies_before_the_built_in_table() -> None:
    opts = _mapped({"REGISTRATION": "CompleteRegistration", "purchase": "Purchase", "x": "Lead"})
    assert send_one({"type": "registration", "customer_id": "c"}, opts)["event"] == (
        "CompleteRegistration"
    )
    assert send_one(purchase_event(), opts)["event"] == "Purchase"
    assert send_one({"type": " X "}, opts)["event"] == "Lead"
    assert send_one({"type": "add_to_cart"}, opts)["event"] == "AddToCart"  # table still there


def test_mapped_names_get_their_rules() -> None:
    opts = _mapped({"ORDER_DONE": "CompletePayment", "TRIAL": "trial_started"})
    raw = purchase_event() | {"type": "ORDER_DONE", "fulfilled": False}
    assert dropped(raw, opts).reason == DropReason.NOT_FULFILLED
    off = _mapped({"ORDER_DONE": "CompletePayment"}, features={"purchases": False})
    assert dropped(purchase_event() | {"type": "ORDER_DONE"}, off).reason == (
        DropReason.FEATURE_DISABLED
    )
    custom = send_one({"type": "TRIAL", "metadata": {"days": 14}}, opts)
    assert custom["event"] == "trial_started"
    assert custom["properties"] == {"custom_days": 14}


@pytest.mark.parametrize(
    ("event_map", "message"),
    [
        pytest.param({"A": "completepayment"}, "key 'A': TikTok's names are case-sensitive; "
                     "write CompletePayment", id="wrong-case"),
        pytest.param({"A": "add_to_cart"}, "key 'A': the target is a Masivo name", id="masivo"),
        pytest.param({"A": "AudienceUpdated"}, "key 'A': the target is reserved", id="reserved"),
        pytest.param({"A": " "}, "key 'A': the target must be", id="blank"),
        pytest.param({"A": 3}, "key 'A': the target must be", id="not-text"),
        pytest.param({"audience": "Lead"}, "key 'audience': AUDIENCE and", id="special-key"),
        pytest.param({"a": "Lead", "A ": "Lead"}, "key 'A': given twice", id="duplicate"),
        pytest.param({"": "Lead"}, "keys must be Masivo event types", id="empty-key"),
    ],
)  # fmt: skip
def test_check_event_map_refuses_surprising_targets(event_map: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        check_event_map(event_map)


def test_check_event_map_normalises() -> None:
    assert check_event_map({" Registration ": " Lead ", "TRIAL": "trial_started"}) == {
        "registration": "Lead",
        "trial": "trial_started",
    }


def test_event_map_errors_never_quote_the_target() -> None:
    with pytest.raises(ValueError, match="key 'A'") as info:
        check_event_map({"A": "completepayment"})
    assert "completepayment" not in str(info.value)


# --- point 7: audiences and tags ----------------------------------------------------------


def test_audience_and_tag_ids_are_hashed_like_external_id() -> None:
    audience = {
        "type": "AUDIENCE",
        "action": "calculate",
        "audience": {"id": "a"},
        "customer_ids": [" user_123 ", 42, _sha("z").upper()],
    }
    joined = send_one(audience)["properties"]["customer_ids"]
    assert joined == ",".join([_sha("user_123"), _sha("42"), _sha("z")])
    tags = send_one({"type": "CUSTOMER_TAGS", "customer_id": ["user_123", 42], "tags": ["v"]})
    assert tags["user"]["external_id"] == [_sha("user_123"), _sha("42")]
    assert set(joined.split(",")) == {*tags["user"]["external_id"], _sha("z")}


# --- point 8: the quality record ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "missing"),
    [
        pytest.param({"type": "search"}, True, id="search-without-query"),
        pytest.param({"type": "search", "query": "q"}, False, id="search"),
        pytest.param({"type": "AddToCart", "value": 1, "currency": "USD"}, True, id="no-items"),
        pytest.param({"type": "AddToCart", "items": [{"id": "a"}]}, True, id="no-value"),
        pytest.param(
            {"type": "AddToCart", "items": [{"id": "a"}], "value": 1, "currency": "USD"},
            False,
            id="complete",
        ),
        pytest.param({"type": "Contact"}, False, id="not-a-value-event"),
        pytest.param({"type": "my_event"}, False, id="custom"),
    ],
)
def test_recommended_missing(raw: dict[str, Any], missing: bool) -> None:
    assert ("recommended_missing" in _quality(raw | {"customer_id": "c"}).warnings) is missing


def test_one_quality_per_event_from_fixed_vocabularies() -> None:
    raw = {"type": "AUDIENCE", "action": "calculate", "audience": {"id": "a"}}
    outcome = transform(
        raw | {"customer_ids": ["a", "b", "c"]}, options(audience_chunk_size=1), NOW
    )
    assert isinstance(outcome, Send)
    assert len(outcome.quality) == len(outcome.events) == 3
    assert {q.event for q in outcome.quality} == {"AudienceUpdated"}
    for quality in outcome.quality:
        assert set(quality.keys) <= set(MatchKey)
        assert set(quality.warnings) <= set(QualityWarning)


def test_as_json_keeps_events_exactly_and_adds_quality() -> None:
    outcome = transform({"type": "search", "query": "q", "customer_id": "c"}, OPTIONS, NOW)
    assert isinstance(outcome, Send)
    out = outcome.as_json()
    assert out["events"] == list(outcome.events)
    assert "quality" not in out["events"][0]
    assert out["quality"] == [{"event": "Search", "keys": ["external_id"], "warnings": []}]


def test_vocabulary_members_hash_like_their_values() -> None:
    assert {MatchKey.EMAIL: 1}["email"] == 1
    assert QualityWarning("no_match_key") is QualityWarning.NO_MATCH_KEY


def test_multiple_warnings_are_in_enum_order() -> None:
    raw = {"type": "AddToCart", "email": "bad", "phone": "1", "value": 3, "ssn": "x"}
    assert _quality(raw).warnings == (
        "no_match_key",
        "email_unusable",
        "phone_unusable",
        "currency_missing",
        "recommended_missing",
        "params_ignored",
    )
