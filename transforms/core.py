"""``transform``: one Masivo event in, exactly one :data:`~transforms.outcome.Outcome` out.

The checks run cheapest-and-most-final first, so a dropped event costs almost nothing:

1. shape - a JSON object with a non-empty string ``type`` (else ``Reject``);
2. switch - the destination feature governing the outgoing name is on (else
   ``Drop("feature_disabled")``);
3. consent - ``consent.vendors.tiktok`` is absent or a yes (else ``Drop("no_consent")``; the
   exact rule is in :mod:`transforms.policy`);
4. time - ``issued_at`` readable (``invalid_timestamp``), not in the future beyond the skew
   (``future_timestamp``), not older than the age limit (``Drop("too_old")``);
5. purchases only - fulfilled (else ``Drop("not_fulfilled")``; an unreadable ``fulfilled``
   is ``Reject("invalid_field")``; see :mod:`transforms.policy`);
6. mapping - fields are read and validated while the payload is built; the first problem
   becomes a ``Reject`` whose detail names the field. A ``CUSTOMER_TAGS`` event (or a custom
   ``CustomerTagsUpdated``) whose ``user`` ends up without ``external_id``, ``email`` or
   ``phone`` is ``Reject("missing_customer")``: tags nobody can be matched to are useless.

Pure: no I/O, no clock (``now`` is an argument), no environment.
"""

from __future__ import annotations

from typing import Any, Final

from transforms.audience import audience_parts, customer_tags_properties
from transforms.custom import flatten_metadata
from transforms.eventid import canonical_event_id, part_event_id
from transforms.identity import build_page, build_user
from transforms.names import (
    AUDIENCE_TYPE,
    CUSTOMER_TAGS_TYPE,
    CUSTOMER_TAGS_UPDATED,
    PURCHASE_EVENTS,
    Switch,
    is_custom,
    resolve_event_name,
    switch_for,
)
from transforms.options import TransformOptions
from transforms.outcome import Drop, Outcome, Reject, Send
from transforms.policy import UNFULFILLED_STATUSES, consent_denied, is_unfulfilled
from transforms.properties import build_properties, require_purchase_fields
from transforms.reasons import DropReason, InvalidEventError, RejectReason
from transforms.timestamps import event_time_from, is_in_future, is_too_old
from transforms.values import get_dict

__all__ = ["UNFULFILLED_STATUSES", "transform"]

#: The match keys that identify a customer (``ip``/``user_agent`` alone do not).
_IDENTITY_KEYS: Final = frozenset({"external_id", "email", "phone"})


def _event_type(raw: dict[str, object]) -> str:
    value = raw.get("type")
    if value is None:
        raise InvalidEventError(RejectReason.MISSING_TYPE, "type: required")
    if not isinstance(value, str):
        raise InvalidEventError(RejectReason.INVALID_TYPE, "type: must be a string")
    name = value.strip()
    if not name:
        raise InvalidEventError(RejectReason.MISSING_TYPE, "type: must not be empty")
    return name


def _outgoing_name(masivo_type: str) -> str | None:
    """The TikTok name; ``None`` for audiences, whose name depends on ``action``."""
    kind = masivo_type.lower()
    if kind == AUDIENCE_TYPE:
        return None
    if kind == CUSTOMER_TAGS_TYPE:
        return CUSTOMER_TAGS_UPDATED
    return resolve_event_name(masivo_type)


def _envelope(name: str, event_time: int, event_id: str, user: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"event": name, "event_time": event_time, "event_id": event_id}
    if user:
        event["user"] = user
    return event


def _web_extras(event: dict[str, Any], raw: dict[str, object], page: dict[str, str]) -> None:
    if page:
        event["page"] = page
    ldu = raw.get("limited_data_use")
    if ldu is None:
        ldu = (get_dict(raw, "context") or {}).get("limited_data_use")
    if isinstance(ldu, bool):
        event["limited_data_use"] = ldu


def _customer_event(
    raw: dict[str, object], name: str, event_time: int, options: TransformOptions
) -> dict[str, Any]:
    page = build_page(raw)
    if name == CUSTOMER_TAGS_UPDATED:  # also a custom event of that name: same shape
        props = customer_tags_properties(raw)
    else:
        props = build_properties(raw, options.default_currency)
        if name in PURCHASE_EVENTS:
            require_purchase_fields(props)
        elif is_custom(name):
            props.update(flatten_metadata(raw.get("metadata")))
    user = build_user(raw, options.phone_region, page.get("url"))
    if name == CUSTOMER_TAGS_UPDATED and not _IDENTITY_KEYS.intersection(user):
        raise InvalidEventError(
            RejectReason.MISSING_CUSTOMER,
            "customer_id: required for customer tags (or a usable email or phone)",
        )
    event = _envelope(name, event_time, canonical_event_id(raw, options.destination_id), user)
    _web_extras(event, raw, page)
    if props:
        event["properties"] = props
    return event


def _audience_events(
    raw: dict[str, object], event_time: int, options: TransformOptions
) -> tuple[dict[str, Any], ...]:
    name, parts, user = audience_parts(raw, options.audience_chunk_size)
    base_id = canonical_event_id(raw, options.destination_id)
    events = []
    for index, props in enumerate(parts):
        event = _envelope(name, event_time, part_event_id(base_id, index), dict(user))
        event["properties"] = props
        events.append(event)
    return tuple(events)


def _transform(raw: object, options: TransformOptions, now: float) -> Outcome:
    if not isinstance(raw, dict):
        return Reject(RejectReason.NOT_AN_OBJECT, f"event must be a JSON object, not {_kind(raw)}")
    masivo_type = _event_type(raw)
    name = _outgoing_name(masivo_type)
    switch = Switch.AUDIENCES if name is None else switch_for(name)
    if not getattr(options.features, switch):
        return Drop(DropReason.FEATURE_DISABLED, f"{switch} is off ({masivo_type})")
    if consent_denied(raw):
        return Drop(DropReason.NO_CONSENT, "consent.vendors.tiktok is not a yes")
    event_time = event_time_from(raw, now)
    if is_in_future(event_time, options, now):
        ahead = int(event_time - now)
        return Reject(RejectReason.FUTURE_TIMESTAMP, f"issued_at: {ahead} s after now")
    if is_too_old(event_time, options, now):
        return Drop(DropReason.TOO_OLD, f"issued_at: {int(now - event_time)} s old")
    if name is None:
        return Send(_audience_events(raw, event_time, options))
    if name in PURCHASE_EVENTS and is_unfulfilled(raw):
        return Drop(DropReason.NOT_FULFILLED, "fulfilled is false or status says not fulfilled")
    return Send((_customer_event(raw, name, event_time, options),))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def transform(raw: object, options: TransformOptions, now: float) -> Outcome:
    """Map one decoded Masivo event to TikTok Events API 2.0 ``data[]`` objects.

    ``raw`` is whatever JSON decoding produced; ``now`` is Unix seconds (the receive time,
    used when ``issued_at`` is missing and for the age rules). Never raises: invalid input
    is a :class:`Reject`, policy is a :class:`Drop`. The ``internal_error`` reject is a last
    resort for bugs, so one bad event cannot stop a worker; tests pin that it is not reached.
    """
    try:
        return _transform(raw, options, now)
    except InvalidEventError as exc:
        return Reject(exc.reason, exc.detail)
    except Exception as exc:
        return Reject(RejectReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"[:200])
