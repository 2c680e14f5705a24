"""Hypothesis properties: any input gives exactly one outcome and a well-formed payload."""

from __future__ import annotations

import random
import re
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transforms.support import NOW, OPTIONS, options
from transforms import Drop, DropReason, Reject, RejectReason, Send, canonical_event_id, transform
from transforms.names import MASIVO_EVENT_NAMES, STANDARD_EVENTS
from transforms.quality import MatchKey, QualityWarning

HEX64 = re.compile(r"[0-9a-f]{64}")
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Property keys a standard mapping may emit (custom events add ``custom_*``).
STANDARD_PROPERTY_KEYS = {
    "value",
    "currency",
    "order_id",
    "query",
    "description",
    "content_type",
    "contents",
    "search_string",
    "shop_id",
}
AUDIENCE_KEYS = {
    "audience_id",
    "audience_name",
    "customers_count",
    "action",
    "customer_ids",
    "chunk_index",
    "chunk_count",
}
TAG_KEYS = {"tags", "tags_count", "action"}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

TYPES = sorted(
    {*MASIVO_EVENT_NAMES, "PURCHASE", *STANDARD_EVENTS, "AUDIENCE", "CUSTOMER_TAGS", "my_event"}
)
FIELD_NAMES = [
    "id",
    "customer_id",
    "issued_at",
    "fulfilled",
    "status",
    "order",
    "items",
    "contents",
    "products",
    "product",
    "value",
    "currency",
    "order_id",
    "query",
    "description",
    "content_type",
    "email",
    "phone",
    "customer",
    "is_anonymous",
    "context",
    "metadata",
    "consent",
    "action",
    "audience",
    "customer_ids",
    "tags",
    "limited_data_use",
    "event_id",
    "external_id",
    "properties",
    "shop_id",
    "search_string",
    "transaction_id",
    "unknown_field",
]
ITEM_KEYS = [
    "id",
    "sku",
    "item_id",
    "product_id",
    "content_id",
    "name",
    "item_name",
    "price",
    "unit_price",
    "quantity",
    "amount",
    "value",
    "category",
    "brand",
]
items = st.lists(
    st.one_of(st.dictionaries(st.sampled_from(ITEM_KEYS), scalars, max_size=5), json_values),
    max_size=4,
)
plausible_values = st.one_of(
    json_values,
    items,
    st.fixed_dictionaries({}, optional={"products": items, "value": scalars, "currency": scalars}),
    st.sampled_from(["2026-11-24T10:00:00Z", "1795514400", 1795514400000, "USD", "+12133734253"]),
    st.lists(st.sampled_from(["a@b.co", "12133734253", "c1", 7, "", None, "bad"]), max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "email": scalars,
            "phone": scalars,
            "name": scalars,
            "first_name": scalars,
            "last_name": scalars,
            "address": st.fixed_dictionaries(
                {}, optional={"city": scalars, "country": scalars, "zip": scalars}
            ),
            "country": scalars,
            "is_anonymous": scalars,
        },
    ),
    st.fixed_dictionaries({"vendors": st.fixed_dictionaries({"tiktok": st.booleans()})}),
)
events = st.builds(
    lambda t, fields: {"type": t, **fields},
    st.one_of(st.sampled_from(TYPES), st.text(max_size=10)),
    st.dictionaries(st.sampled_from(FIELD_NAMES), plausible_values, max_size=10),
)


def _no_empties(value: object, path: str = "") -> None:
    assert value is not None, path
    if isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, child in value.items():
            _no_empties(child, f"{path}.{key}")
    elif isinstance(value, list):
        assert value, f"empty array at {path}"
        for index, child in enumerate(value):
            _no_empties(child, f"{path}[{index}]")


def _check_event(event: dict[str, Any]) -> None:
    assert set(event) <= {
        "event",
        "event_time",
        "event_id",
        "user",
        "page",
        "properties",
        "limited_data_use",
    }
    assert isinstance(event["event"], str)
    assert event["event"]
    assert type(event["event_time"]) is int
    assert isinstance(event["event_id"], str)
    assert event["event_id"]
    _no_empties(event)
    for key in ("email", "phone", "external_id", "first_name", "last_name", "zip_code"):
        value = event.get("user", {}).get(key)
        if value is not None:
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 5, key
            assert len(set(values)) == len(values), key
            assert all(HEX64.fullmatch(v) for v in values), key
    for key in ("city", "state", "country"):
        if key in event.get("user", {}):
            assert re.fullmatch(r"[a-z0-9]+", event["user"][key]), key
    props = event.get("properties", {})
    for key, value in props.items():
        if key == "contents":
            for content in value:
                assert "content_id" in content or "content_name" in content
                assert isinstance(content.get("content_id", ""), str)
                assert type(content.get("quantity", 1)) is int
            continue
        assert isinstance(value, str | int | float | bool), (key, value)
        assert (
            key in STANDARD_PROPERTY_KEYS
            or key in AUDIENCE_KEYS
            or key in TAG_KEYS
            or (key.startswith("custom_") and event["event"] not in STANDARD_EVENTS)
        ), key


def _check(raw: object, opts: Any = OPTIONS) -> None:
    outcome = transform(raw, opts, NOW)
    assert isinstance(outcome, Send | Drop | Reject)
    if isinstance(outcome, Reject):
        assert outcome.reason != RejectReason.INTERNAL_ERROR, outcome
        assert outcome.reason in RejectReason.ALL
        assert outcome.detail
    elif isinstance(outcome, Drop):
        assert outcome.reason in DropReason.ALL
    else:
        assert outcome.events
        assert len(outcome.quality) == len(outcome.events)
        for event, quality in zip(outcome.events, outcome.quality, strict=True):
            _check_event(event)
            assert quality.event == event["event"]
            assert set(quality.keys) <= set(MatchKey)
            assert set(quality.warnings) <= set(QualityWarning)
            assert len(set(quality.warnings)) == len(quality.warnings)
    try:
        orjson.dumps(raw)
    except orjson.JSONEncodeError:
        return
    orjson.dumps(outcome.as_json())  # what orjson can read in, we can write out


@SETTINGS
@given(json_values)
def test_any_json_value_gives_one_outcome(raw: object) -> None:
    _check(raw)


@SETTINGS
@given(events)
def test_event_shaped_input_gives_one_outcome(raw: dict[str, Any]) -> None:
    _check(raw)


@SETTINGS
@given(events, st.integers(min_value=0, max_value=31))
def test_any_switch_combination(raw: dict[str, Any], mask: int) -> None:
    names = ("events", "conversions", "purchases", "audiences", "customer_tags")
    features = {name: bool(mask >> i & 1) for i, name in enumerate(names)}
    _check(raw, options(features=features, default_currency="EUR", audience_chunk_size=2))


@SETTINGS
@given(st.dictionaries(st.text(), st.text(), max_size=6), st.text(max_size=20))
def test_arbitrary_unicode(fields: dict[str, str], event_type: str) -> None:
    _check({**fields, "type": event_type, "metadata": fields, "email": event_type})


def _shuffled(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


@SETTINGS
@given(events, st.randoms(use_true_random=False))
def test_event_id_independent_of_key_order(raw: dict[str, Any], rng: random.Random) -> None:
    raw.pop("id", None)
    shuffled = _shuffled(raw, rng)
    assert isinstance(shuffled, dict)
    assert canonical_event_id(raw, "d") == canonical_event_id(shuffled, "d")
    first, second = transform(raw, OPTIONS, NOW), transform(shuffled, OPTIONS, NOW)
    # details may quote the input, and metadata collisions are "first key wins": compare ids
    assert type(first) is type(second)
    if isinstance(first, Send) and isinstance(second, Send):
        assert [e["event_id"] for e in first.events] == [e["event_id"] for e in second.events]


@SETTINGS
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_custom_properties_are_primitives_with_custom_prefix(metadata: dict[str, Any]) -> None:
    outcome = transform({"type": "my_event", "metadata": metadata}, OPTIONS, NOW)
    assert isinstance(outcome, Send)
    for key, value in outcome.events[0].get("properties", {}).items():
        assert re.fullmatch(r"custom_[a-z0-9_]+", key), key
        assert isinstance(value, str | int | float | bool)
