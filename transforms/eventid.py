"""``event_id``: TikTok's deduplication key, so it must be stable across retries and replays.

TikTok deduplicates on pixel + event name + ``event_id`` (48 h; browser and server events
within 5 minutes are merged). Precedence, first present wins:

1. an explicit ``event_id`` in the input (a string, or a number stringified) - the id the
   brand's browser pixel used, so the server event merges with the pixel's;
2. for purchases (``CompletePayment``/``Purchase``) of a destination with
   ``purchase_event_id: order_id``: the order id (``properties.order_id``, i.e.
   ``order_id``, ``transaction_id``, ``order.purchase_id`` or ``order.order_id``) - what a
   storefront pixel knows on its thank-you page, where Masivo's UUID is unknown;
3. Masivo's own ``id`` (a UUID; a number is stringified);
4. otherwise ``"h:"`` + the first 32 hex characters (128 bits) of
   ``SHA-256(destination_id + "\\n" + canonical JSON)``, where canonical JSON has sorted keys
   and no whitespace: the same event always gets the same id whatever its key order, and two
   destinations never share one. Never random, never time-based (a random suffix breaks
   deduplication - see STYLE.md §10).

Ids of other types (booleans, objects, blank strings) are not ids: the next step applies.

An event split into parts (audience chunks) suffixes the part index: ``<id>:<index>``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import orjson

from transforms.reasons import InvalidEventError, RejectReason

__all__ = ["HASH_PREFIX", "canonical_event_id", "event_id_for", "part_event_id"]

HASH_PREFIX: Final = "h:"


def _canonical_json(raw: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        pass  # ints beyond 64 bits, lone surrogates, nesting beyond orjson's limit
    try:
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEventError(
            RejectReason.UNIDENTIFIABLE, "id: event has no id and cannot be serialised"
        ) from exc
    return text.encode("ascii")


def _given(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def canonical_event_id(raw: dict[str, Any], destination_id: str) -> str:
    """The event's stable ``event_id`` without the purchase option (steps 1, 3 and 4)."""
    given = _given(raw.get("event_id")) or _given(raw.get("id"))
    if given is not None:
        return given
    digest = hashlib.sha256(destination_id.encode("utf-8", "surrogatepass") + b"\n")
    digest.update(_canonical_json(raw))
    return HASH_PREFIX + digest.hexdigest()[:32]


def event_id_for(raw: dict[str, Any], destination_id: str, order_id: object = None) -> str:
    """The ``event_id`` of an event; ``order_id`` is step 2's id (``None`` when it does not
    apply: not a purchase, or the destination keeps Masivo's id)."""
    explicit = raw.get("event_id")
    if explicit is None and order_id is None:  # the usual case, kept cheap
        given = raw.get("id")
        if type(given) is str and (given := given.strip()):
            return given
        return canonical_event_id(raw, destination_id)
    explicit = _given(explicit)
    if explicit is not None:
        return explicit
    if isinstance(order_id, str) and order_id:
        return order_id
    return canonical_event_id(raw, destination_id)


def part_event_id(event_id: str, index: int) -> str:
    """The id of part ``index`` of an event split into several TikTok events."""
    return f"{event_id}:{index}"
