"""Validation as plain functions: properties over arbitrary input, and the duration syntax."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.durations import format_duration, parse_duration
from emulator.validation import InvalidRequestError, validate_envelope, validate_events

from .conftest import make_body, make_event

NOW = 1_750_000_000.0
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(
    ["event", "event_time", "event_id", "user", "properties", "page", "limited_data_use", "x"]
)


def validate(body: Any) -> None:
    request = validate_envelope(body)
    validate_events(request.events, NOW, 7 * 86_400, 600)


def _error_of(body: Any) -> str | None:
    """The 40002 message, or None when valid; any other exception propagates (a bug)."""
    try:
        validate(body)
    except InvalidRequestError as exc:
        return exc.message
    return None


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_only_ever_raises_invalid_request(body: Any) -> None:
    message = _error_of(body)
    assert message is None or message


@settings(max_examples=300, deadline=None)
@given(field_names, json_values)
def test_corrupting_one_field_never_crashes(field: str, value: Any) -> None:
    event = make_event(1, NOW)
    event[field] = value
    message = _error_of(make_body([make_event(0, NOW), event]))
    assert message is None or message.startswith("data.1")


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=50, unique=True))
def test_well_formed_events_always_pass(ids: list[int]) -> None:
    validate(make_body([make_event(i, NOW) for i in ids]))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("30", 30), ("5m", 300), ("2h", 7200), ("7d", 604_800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (604_800, "7 days"),
        (86_400, "1 day"),
        (7200, "2 hours"),
        (60, "1 minute"),
        (90, "90 seconds"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("a week")
