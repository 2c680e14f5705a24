"""Whole-request validation of an Events API 2.0 ``/event/track/`` body.

Hand-written checks (no pydantic per event): at 1,000 events per request a model per event would
make the emulator the bottleneck; these loops use ``type(x) is ...`` tests and one precompiled
regex, and only build strings on the failure path. The first problem raises ``InvalidRequestError``
whose message names the path like TikTok does (``data.3.event_id: Not a valid string.``,
``data.0.properties.contents.1.content_id: Not a valid string.``); the caller answers 40002 and
rejects the whole request, as TikTok does.

Deliberately stricter than TikTok where that catches connector bugs (documented, not observed):
``event_id`` is required (our worker always sends one, for deduplication); ``user.email``,
``user.phone`` and ``user.external_id`` must be 64 lower-case hex characters (plaintext PII is a
bug); JSON ``null`` is refused everywhere (the worker drops ``None``); events older than the
max age (default 7 days) or more than ``max_future_s`` ahead are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from emulator.durations import format_duration

__all__ = [
    "MAX_EVENTS",
    "InvalidRequestError",
    "TrackRequest",
    "validate_envelope",
    "validate_events",
]

MAX_EVENTS = 1000
HASHED_USER_FIELDS = frozenset({"email", "phone", "external_id"})
_is_sha256 = re.compile(r"[0-9a-f]{64}").fullmatch
_PRIMITIVES: frozenset[type] = frozenset({str, int, float, bool})
_NUMBERS: frozenset[type] = frozenset({int, float})
_MISSING = object()
_SPECIAL_PROPERTIES = frozenset({"contents", "content_ids", "value"})
_CONTENT_TYPES: dict[str, frozenset[type]] = {
    "content_id": frozenset({str}),
    "price": _NUMBERS,
    "quantity": frozenset({int}),
}
_NOT_PRIMITIVE = "Not a valid primitive value."
_CONTENT_ERRORS = {
    "content_id": "Not a valid string.",
    "price": "Not a valid number.",
    "quantity": "Not a valid integer.",
}


class InvalidRequestError(Exception):
    """The request fails validation; ``message`` is what the 40002 answer carries."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class TrackRequest:
    """The envelope of a structurally valid request (events not yet checked)."""

    pixel: str
    events: list[dict[str, Any]]
    test_event_code: str | None


def _fail(path: str, value: object, expected: str) -> NoReturn:
    if value is _MISSING:
        raise InvalidRequestError(f"{path}: Missing data for required field.")
    if value is None:
        raise InvalidRequestError(f"{path}: Field may not be null.")
    raise InvalidRequestError(f"{path}: {expected}")


def validate_envelope(body: object) -> TrackRequest:
    """Check the top level: ``event_source == "web"``, the pixel, ``data`` with 1..1000 items."""
    if type(body) is not dict:
        raise InvalidRequestError("Invalid request body: expected a JSON object.")
    source = body.get("event_source", _MISSING)
    if source != "web":
        _fail("event_source", source, "Must be one of: web.")
    pixel = body.get("event_source_id", _MISSING)
    if type(pixel) is not str or not pixel:
        _fail("event_source_id", pixel, "Not a valid string.")
    for key in ("test_event_code", "partner_name"):
        value = body.get(key, "")
        if type(value) is not str:
            _fail(key, value, "Not a valid string.")
    data = body.get("data", _MISSING)
    if type(data) is not list:
        _fail("data", data, "Not a valid list.")
    if not 1 <= len(data) <= MAX_EVENTS:
        raise InvalidRequestError(f"data: Length must be between 1 and {MAX_EVENTS}.")
    return TrackRequest(pixel, data, body.get("test_event_code") or None)


def validate_events(events: list[Any], now: float, max_age_s: float, max_future_s: float) -> None:
    """Check every event; raise ``InvalidRequestError`` naming the first bad path.

    The required fields are checked inline (this loop runs 1,000 times per request); the
    optional objects go to one helper each.
    """
    oldest = now - max_age_s if max_age_s > 0 else float("-inf")
    newest = now + max_future_s if max_future_s > 0 else float("inf")
    missing = _MISSING
    for index, event in enumerate(events):
        if type(event) is not dict:
            _fail(f"data.{index}", event, "Not a valid mapping type.")
        name = event.get("event", missing)
        if type(name) is not str or not name:
            _fail(f"data.{index}.event", name, "Not a valid string.")
        when = event.get("event_time", missing)
        if type(when) is not int or not oldest <= when <= newest:
            _bad_time(index, when, oldest, max_age_s)
        event_id = event.get("event_id", missing)
        if type(event_id) is not str or not event_id:
            _fail(f"data.{index}.event_id", event_id, "Not a valid string.")
        user = event.get("user", missing)
        if user is not missing:
            _check_user(index, user)
        props = event.get("properties", missing)
        if props is not missing:
            _check_properties(index, props)
        page = event.get("page", missing)
        if page is not missing:
            _check_page(index, page)
        ldu = event.get("limited_data_use", False)
        if type(ldu) is not bool:
            _fail(f"data.{index}.limited_data_use", ldu, "Not a valid boolean.")


def _bad_time(index: int, when: object, oldest: float, max_age_s: float) -> NoReturn:
    path = f"data.{index}.event_time"
    if type(when) is not int:
        _fail(path, when, "Not a valid integer.")
    if when < oldest:
        raise InvalidRequestError(f"{path}: event is older than {format_duration(max_age_s)}")
    raise InvalidRequestError(f"{path}: event time is too far in the future")


def _check_user(index: int, user: object) -> None:
    if type(user) is not dict:
        _fail(f"data.{index}.user", user, "Not a valid mapping type.")
    for key, value in user.items():
        kind = type(value)
        if kind is str:
            if key in HASHED_USER_FIELDS and not _is_sha256(value):
                _not_hashed(f"data.{index}.user.{key}")
        elif kind is list:
            hashed = key in HASHED_USER_FIELDS
            for item in value:
                if type(item) is not str or (hashed and not _is_sha256(item)):
                    _bad_user_item(f"data.{index}.user.{key}", value, hashed)
        else:
            _fail(f"data.{index}.user.{key}", value, "Not a valid string or list of strings.")


def _bad_user_item(path: str, items: list[Any], hashed: bool) -> NoReturn:
    """Slow path: find which list item is wrong and say why."""
    for pos, item in enumerate(items):
        if type(item) is not str:
            _fail(f"{path}.{pos}", item, "Not a valid string.")
        if hashed and not _is_sha256(item):
            _not_hashed(f"{path}.{pos}")
    raise AssertionError("unreachable")  # pragma: no cover


def _not_hashed(path: str) -> NoReturn:
    raise InvalidRequestError(f"{path}: Not a valid SHA-256 hash (64 lower-case hex characters).")


def _check_properties(index: int, props: object) -> None:
    if type(props) is not dict:
        _fail(f"data.{index}.properties", props, "Not a valid mapping type.")
    for key, value in props.items():
        kind = type(value)
        if key not in _SPECIAL_PROPERTIES:
            if kind not in _PRIMITIVES:
                _fail(f"data.{index}.properties.{key}", value, "Not a valid primitive value.")
        elif key == "contents":
            _check_contents(index, value)
        elif key == "content_ids":
            if kind is not list or any(type(item) is not str for item in value):
                _fail(f"data.{index}.properties.content_ids", value, "Not a valid list of strings.")
        elif kind not in _NUMBERS:  # "value"
            _fail(f"data.{index}.properties.value", value, "Not a valid number.")


def _check_contents(index: int, contents: object) -> None:
    if type(contents) is not list:
        _fail(f"data.{index}.properties.contents", contents, "Not a valid list.")
    for item in contents:
        if type(item) is not dict:
            _bad_content(index, contents)
        for key, value in item.items():
            kind = _CONTENT_TYPES.get(key)
            if kind is None:
                if type(value) not in _PRIMITIVES:
                    _bad_content(index, contents)
            elif type(value) not in kind:
                _bad_content(index, contents)


def _bad_content(index: int, contents: list[Any]) -> NoReturn:
    """Slow path: name the first bad ``contents`` item and field."""
    for pos, item in enumerate(contents):
        path = f"data.{index}.properties.contents.{pos}"
        if type(item) is not dict:
            _fail(path, item, "Not a valid mapping type.")
        for key, value in item.items():
            kind = _CONTENT_TYPES.get(key, _PRIMITIVES)
            if type(value) not in kind:
                _fail(f"{path}.{key}", value, _CONTENT_ERRORS.get(key, _NOT_PRIMITIVE))
    raise AssertionError("unreachable")  # pragma: no cover


def _check_page(index: int, page: object) -> None:
    if type(page) is not dict:
        _fail(f"data.{index}.page", page, "Not a valid mapping type.")
    for key, value in page.items():
        if key in ("url", "referrer"):
            if type(value) is not str:
                _fail(f"data.{index}.page.{key}", value, "Not a valid string.")
        elif type(value) not in _PRIMITIVES:
            _fail(f"data.{index}.page.{key}", value, "Not a valid primitive value.")
