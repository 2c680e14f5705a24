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

The outgoing name comes from the destination's ``event_map`` first (:mod:`transforms.names`),
so a mapped name gets every rule of that name, the switch and the fulfilment gate included.

Alongside each event, :class:`~transforms.quality.Quality` records its match keys and
warnings. Top-level keys outside the input contract (:data:`KNOWN_FIELDS`, plus the fields
of audience and tag operations for those) are never sent - they may hold PII - and raise
``params_ignored``, as do ``metadata``/``properties`` on events that do not send them.

``limited_data_use`` (top level, else ``context.limited_data_use``; read as a flag, and an
unreadable value counts as ``true`` - privacy first) is sent as given, else the destination's
``limited_data_use`` when it has one.

Pure: no I/O, no clock (``now`` is an argument), no environment.
"""

from __future__ import annotations

from typing import Any, Final

from transforms.audience import audience_parts, customer_tags_properties
from transforms.custom import flatten_metadata
from transforms.eventid import event_id_for, part_event_id
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
from transforms.quality import RECOMMENDED, MatchKey, Quality, QualityWarning, quality_of
from transforms.reasons import DropReason, InvalidEventError, RejectReason
from transforms.timestamps import event_time_from, is_in_future, is_too_old
from transforms.user import build_page, build_user
from transforms.values import to_flag

__all__ = ["KNOWN_FIELDS", "UNFULFILLED_STATUSES", "transform"]

#: The match keys that identify a customer (``ip``/``user_agent`` alone do not).
_IDENTITY_KEYS: Final = frozenset({"external_id", "email", "phone"})

#: The top-level fields of the input contract (``masivo-event.md``) and the aliases read.
KNOWN_FIELDS: Final = frozenset(
    {
        "type",
        "id",
        "event_id",
        "customer_id",
        "external_id",
        "brand_id",
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
        "transaction_id",
        "query",
        "search_string",
        "description",
        "content_type",
        "shop_id",
        "email",
        "phone",
        "customer",
        "is_anonymous",
        "context",
        "metadata",
        "properties",
        "limited_data_use",
        "consent",
    }
)
_TAG_FIELDS: Final = KNOWN_FIELDS | {"tags", "action"}
_AUDIENCE_FIELDS: Final = KNOWN_FIELDS | {
    "action",
    "audience",
    "audience_id",
    "audience_name",
    "customer_ids",
    "customers_count",
}
_AUDIENCE_KEYS: Final = (MatchKey.EXTERNAL_ID.value,)


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


def _outgoing_name(masivo_type: str, options: TransformOptions) -> str | None:
    """The TikTok name; ``None`` for audiences, whose name depends on ``action``."""
    kind = masivo_type.lower()
    if kind == AUDIENCE_TYPE:
        return None
    if kind == CUSTOMER_TAGS_TYPE:
        return CUSTOMER_TAGS_UPDATED
    return resolve_event_name(masivo_type, options.event_map)


def _envelope(name: str, event_time: int, event_id: str, user: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"event": name, "event_time": event_time, "event_id": event_id}
    if user:
        event["user"] = user
    return event


def _limited_data_use(raw: dict[str, object], default: bool | None) -> bool | None:
    value = raw.get("limited_data_use")
    if value is None:
        context = raw.get("context")
        if type(context) is dict:
            value = context.get("limited_data_use")
    if value is None:
        return default
    return to_flag(value) is not False


def _customer_event(
    raw: dict[str, object], name: str, event_time: int, options: TransformOptions
) -> tuple[dict[str, Any], Quality]:
    warnings: list[str] = []
    page = build_page(raw)
    free_params = False
    if name == CUSTOMER_TAGS_UPDATED:  # also a custom event of that name: same shape
        props = customer_tags_properties(raw)
        known = _TAG_FIELDS
    else:
        props = build_properties(raw, options.default_currency, name, warnings)
        known = KNOWN_FIELDS
        for key in RECOMMENDED.get(name, ()):
            if key not in props:
                warnings.append(QualityWarning.RECOMMENDED_MISSING.value)
                break
        if name in PURCHASE_EVENTS:
            require_purchase_fields(props)  # may drop the value (its currency is missing)
        elif is_custom(name):
            free_params = True
            props.update(flatten_metadata(raw.get("metadata"), raw.get("properties")))
    if not known.issuperset(raw) or (
        not free_params and (raw.get("metadata") or raw.get("properties"))
    ):
        warnings.append(QualityWarning.PARAMS_IGNORED.value)
    user = build_user(raw, options.phone_region, page.get("url"), warnings)
    if name == CUSTOMER_TAGS_UPDATED and not _IDENTITY_KEYS.intersection(user):
        raise InvalidEventError(
            RejectReason.MISSING_CUSTOMER,
            "customer_id: required for customer tags (or a usable email or phone)",
        )
    order_id = None
    if options.purchase_event_id == "order_id" and name in PURCHASE_EVENTS:
        order_id = props.get("order_id")
    event_id = event_id_for(raw, options.destination_id, order_id)
    event = _envelope(name, event_time, event_id, user)
    if page:
        event["page"] = page
    ldu = _limited_data_use(raw, options.limited_data_use)
    if ldu is not None:
        event["limited_data_use"] = ldu
    if props:
        event["properties"] = props
    return event, quality_of(name, tuple(user), tuple(warnings))


def _audience_events(raw: dict[str, object], event_time: int, options: TransformOptions) -> Send:
    name, parts, user = audience_parts(raw, options.audience_chunk_size)
    base_id = event_id_for(raw, options.destination_id)
    ldu = _limited_data_use(raw, options.limited_data_use)
    events = []
    for index, props in enumerate(parts):
        event = _envelope(name, event_time, part_event_id(base_id, index), dict(user))
        if ldu is not None:
            event["limited_data_use"] = ldu
        event["properties"] = props
        events.append(event)
    ignored = () if _AUDIENCE_FIELDS.issuperset(raw) else (QualityWarning.PARAMS_IGNORED.value,)
    quality = Quality(name, _AUDIENCE_KEYS, ignored)
    return Send(tuple(events), (quality,) * len(events))


def _transform(raw: object, options: TransformOptions, now: float) -> Outcome:
    if not isinstance(raw, dict):
        return Reject(RejectReason.NOT_AN_OBJECT, f"event must be a JSON object, not {_kind(raw)}")
    masivo_type = _event_type(raw)
    name = _outgoing_name(masivo_type, options)
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
        return _audience_events(raw, event_time, options)
    if name in PURCHASE_EVENTS and is_unfulfilled(raw):
        return Drop(DropReason.NOT_FULFILLED, "fulfilled is false or status says not fulfilled")
    event, quality = _customer_event(raw, name, event_time, options)
    return Send((event,), (quality,))


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
