"""``event_id``: TikTok's deduplication key, so it must be stable across retries and replays.

* Masivo's own ``id`` (a UUID; a number is stringified) when present - the same id the pixel
  side can send, which is what lets TikTok merge browser and server events.
* Otherwise ``"h:"`` + the first 32 hex characters (128 bits) of
  ``SHA-256(destination_id + "\\n" + canonical JSON)``, where canonical JSON has sorted keys
  and no whitespace: the same event always gets the same id whatever its key order, and two
  destinations never share one. Never random, never time-based (a random suffix breaks
  deduplication - see STYLE.md §10).

An event split into parts (audience chunks) suffixes the part index: ``<id>:<index>``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import orjson

from transforms.reasons import InvalidEventError, RejectReason

__all__ = ["HASH_PREFIX", "canonical_event_id", "part_event_id"]

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


def canonical_event_id(raw: dict[str, Any], destination_id: str) -> str:
    """The event's stable ``event_id`` (see module docstring)."""
    given = raw.get("id")
    if isinstance(given, str) and given.strip():
        return given.strip()
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given)
    digest = hashlib.sha256(destination_id.encode("utf-8", "surrogatepass") + b"\n")
    digest.update(_canonical_json(raw))
    return HASH_PREFIX + digest.hexdigest()[:32]


def part_event_id(event_id: str, index: int) -> str:
    """The id of part ``index`` of an event split into several TikTok events."""
    return f"{event_id}:{index}"
