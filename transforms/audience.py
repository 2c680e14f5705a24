"""Masivo's special types: ``AUDIENCE`` operations and ``CUSTOMER_TAGS`` changes.

Audiences (product spec, "Audience synchronization"): ``action: calculate`` becomes the custom
event ``AudienceUpdated``, ``delete`` becomes ``AudienceRemoved``. Properties:
``audience_id``, ``audience_name``, ``customers_count`` (the whole audience), ``action``,
``customer_ids`` (this part's ids, each hashed exactly like ``external_id`` - trimmed, case
kept, SHA-256, 64-hex values passed through - then comma-joined, since TikTok properties are
primitives only; so they join the ``external_id`` of the customers' own events),
``chunk_index`` and ``chunk_count``. Ids are read from ``customer_ids`` (top level or inside
``audience``); ``audience.id``/``audience_id`` is required.

A large audience is split into parts of at most ``options.audience_chunk_size`` ids so no
event grows unbounded; each part's ``event_id`` is ``<event id>:<index>`` (always suffixed,
even for a single part, so an audience growing past one chunk keeps part 0's id).

``user.external_id`` is SHA-256 of the literal ``"audience_manager"`` (the spec's special id):
TikTok expects hashed external ids, and hashing it keeps every ``external_id`` we send in one
form. The member ids are the spec's customer ids "included for reference", hashed: raw ids
would be the only unhashed identifiers we send.

Customer tags become one custom event ``CustomerTagsUpdated`` whatever the action (one name
keeps TikTok's event list short; the action is a property): ``tags`` (comma-joined),
``tags_count``, ``action`` (lower-cased, e.g. ``add``/``remove``, omitted when absent) and the
customer's usual ``user`` match keys. A tags event whose ``user`` has none of
``external_id``/``email``/``phone`` is rejected with ``missing_customer`` (checked in
:mod:`transforms.core`, where the ``user`` is built).
"""

from __future__ import annotations

from typing import Any, Final

from transforms.identity import AUDIENCE_MANAGER_ID, hash_external_id
from transforms.names import AUDIENCE_REMOVED, AUDIENCE_UPDATED
from transforms.reasons import InvalidEventError, RejectReason
from transforms.values import get_dict, to_text

__all__ = ["AUDIENCE_ACTIONS", "audience_parts", "customer_tags_properties"]

AUDIENCE_ACTIONS: Final = {"calculate": AUDIENCE_UPDATED, "delete": AUDIENCE_REMOVED}
_FIELD: Final = RejectReason.INVALID_FIELD


def _action(raw: dict[str, object]) -> str:
    value = raw.get("action")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidEventError(
            RejectReason.MISSING_ACTION, "action: required (calculate or delete)"
        )
    action = value.strip().lower() if isinstance(value, str) else ""
    if action not in AUDIENCE_ACTIONS:
        raise InvalidEventError(RejectReason.INVALID_ACTION, "action: must be calculate or delete")
    return action


def _ids(value: object, path: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidEventError(_FIELD, f"{path}: must be an array of ids")
    ids = []
    for index, item in enumerate(value):
        text = item if type(item) is str else to_text(item, f"{path}[{index}]", _FIELD)
        hashed = hash_external_id(text) if text else None
        if hashed:
            ids.append(hashed)
    return ids


def _audience_fields(raw: dict[str, object]) -> tuple[str, str | None, list[str] | None, int]:
    audience = get_dict(raw, "audience") or {}
    audience_id = to_text(audience.get("id", raw.get("audience_id")), "audience.id", _FIELD)
    if not audience_id:
        raise InvalidEventError(RejectReason.MISSING_AUDIENCE, "audience.id: required")
    name = to_text(audience.get("name", raw.get("audience_name")), "audience.name", _FIELD)
    ids: list[str] | None = None
    if raw.get("customer_ids") is not None:
        ids = _ids(raw["customer_ids"], "customer_ids")
    elif audience.get("customer_ids") is not None:
        ids = _ids(audience["customer_ids"], "audience.customer_ids")
    count_value = audience.get("customers_count", raw.get("customers_count"))
    count = len(ids) if ids is not None else 0
    if ids is None and isinstance(count_value, int) and not isinstance(count_value, bool):
        count = max(0, count_value)
    return audience_id, name, ids, count


def audience_parts(
    raw: dict[str, object], chunk_size: int
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """``(event name, properties of each part, user)`` of an ``AUDIENCE`` operation."""
    action = _action(raw)
    audience_id, name, ids, count = _audience_fields(raw)
    base: dict[str, Any] = {"audience_id": audience_id}
    if name:
        base["audience_name"] = name
    base["customers_count"] = count
    base["action"] = action
    size = max(1, chunk_size)
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)] if ids else [[]]
    parts = []
    for index, chunk in enumerate(chunks):
        props = dict(base)
        if chunk:
            props["customer_ids"] = ",".join(chunk)
        props["chunk_index"] = index
        props["chunk_count"] = len(chunks)
        parts.append(props)
    user = {"external_id": hash_external_id(AUDIENCE_MANAGER_ID)}
    return AUDIENCE_ACTIONS[action], parts, user


def customer_tags_properties(raw: dict[str, object]) -> dict[str, Any]:
    """Properties of a ``CUSTOMER_TAGS`` event (see module docstring)."""
    value = raw.get("tags")
    if value is None:
        raise InvalidEventError(RejectReason.MISSING_TAGS, "tags: required")
    tags = [value] if isinstance(value, str) else value
    if not isinstance(tags, list):
        raise InvalidEventError(_FIELD, "tags: must be an array of strings")
    names = []
    for index, tag in enumerate(tags):
        text = to_text(tag, f"tags[{index}]", _FIELD)
        if text:
            names.append(text)
    props: dict[str, Any] = {}
    if names:
        props["tags"] = ",".join(names)
    props["tags_count"] = len(names)
    action = to_text(raw.get("action"), "action", _FIELD)
    if action:
        props["action"] = action.lower()
    return props
