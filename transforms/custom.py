"""Custom events: ``metadata`` and ``properties`` flattened into ``custom_`` primitives.

Both objects are free parameters (``masivo-event.md``); they are flattened as one, ``metadata``
first, so the rules below (collisions, caps) apply across both: ``{"metadata": {"plan": 1},
"properties": {"plan": 2}}`` → ``custom_plan: 1, custom_plan_2: 2``.

TikTok accepts only primitives in custom parameters (the product spec's "Limitations"), so:

* nested objects are joined with ``_``: ``{"video": {"id": 7}}`` → ``custom_video_id: 7``;
* a list of primitives becomes one comma-joined string: ``{"tags": ["a", "b"]}`` →
  ``custom_tags: "a,b"`` (booleans as ``true``/``false``, nulls skipped); an empty list is
  omitted;
* a list holding objects or lists is indexed: ``{"items": [{"sku": "A"}]}`` →
  ``custom_items_0_sku: "A"`` (primitives in such a list become ``custom_items_1``);
* ``null`` and empty strings are dropped; strings, integers, floats and booleans pass
  unchanged, except integers beyond 64 bits, which become strings;
* keys are sanitised: Unicode NFKD with combining marks dropped, so Latin accents are
  transliterated (``año`` → ``ano``, ``región`` → ``region``, ``categoría`` →
  ``categoria``); then ``camelCase`` is split (``trialDays`` → ``trial_days``), lower-cased,
  every run of characters outside ``[a-z0-9]`` becomes one ``_``, and leading/trailing ``_``
  are stripped;
* a key that sanitises to nothing (``"日本"``, ``"🎉"``, ``"--"``) is never dropped: it gets
  the stable name ``k`` + the first 8 hex characters of SHA-256 of the original key (UTF-8),
  e.g. ``custom_k3f2a9c1d`` - stable across events, so reports can still group by it;
* when two properties end up with the same name (``{"Plan Name": 1, "plan_name": 2}``, or
  ``{"a_b": 1, "a": {"b": 2}}``), the later ones in document order get ``_2``, ``_3``, ...
  (the first free suffix) instead of being lost;
* at most :data:`MAX_CUSTOM_KEYS` properties and :data:`MAX_DEPTH` levels, so no event grows
  unbounded. What fits is kept, in document order; when anything was cut (a property past
  the key cap, or a non-empty object or array of objects/arrays past the depth cap) the
  flag ``custom_truncated: true`` is added (on top of the cap), so nothing is lost
  silently. A metadata key ``truncated`` then moves to the next free suffix
  (``custom_truncated_2``); without truncation it keeps ``custom_truncated``.

Standard events do not send ``metadata``/``properties``: their properties are TikTok's fixed
vocabulary (the event counts the quality warning ``params_ignored`` instead).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Final

from transforms.values import INT64_MAX

__all__ = [
    "MAX_CUSTOM_KEYS",
    "MAX_DEPTH",
    "TRUNCATED",
    "Primitive",
    "flatten_metadata",
    "property_name",
    "sanitise_key",
]

Primitive = str | int | float | bool

MAX_CUSTOM_KEYS: Final = 100
MAX_DEPTH: Final = 8
PREFIX: Final = "custom"
TRUNCATED: Final = "custom_truncated"

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD: Final = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def sanitise_key(key: str) -> str:
    """``"Plan Name"`` → ``"plan_name"``, ``"año"`` → ``"ano"``; ``""`` when nothing is left."""
    if not key.isascii():
        decomposed = unicodedata.normalize("NFKD", key)
        key = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD.sub("_", _CAMEL.sub("_", key).lower()).strip("_")


@lru_cache(maxsize=4096)
def property_name(key: str) -> str:
    """:func:`sanitise_key`, or the stable ``k<sha256[:8]>`` fallback when that is empty."""
    name = sanitise_key(key)
    if name:
        return name
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"k{digest[:8]}"


def _primitive(value: object) -> Primitive | None:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= INT64_MAX else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    return None


def _joined(values: list[object]) -> str | None:
    parts = []
    for value in values:
        if isinstance(value, bool):
            parts.append("true" if value else "false")
        elif value is not None:
            prim = _primitive(value)
            if prim is not None:
                parts.append(str(prim))
    return ",".join(parts) or None


class _Flattener:
    """Walks the metadata once, writing into ``out`` until the key budget is spent."""

    def __init__(self) -> None:
        self.out: dict[str, Primitive] = {}
        self.truncated = False

    def free_name(self, key: str) -> str:
        if key not in self.out:
            return key
        suffix = 2
        while f"{key}_{suffix}" in self.out:
            suffix += 1
        return f"{key}_{suffix}"

    def put(self, key: str, value: Primitive) -> None:
        if len(self.out) < MAX_CUSTOM_KEYS:
            self.out[self.free_name(key)] = value
        else:
            self.truncated = True

    def walk(self, prefix: str, value: object, depth: int) -> None:
        if value is None or (self.truncated and len(self.out) >= MAX_CUSTOM_KEYS):
            return
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                self.truncated = self.truncated or bool(value)
                return
            for key, child in value.items():
                self.walk(f"{prefix}_{property_name(str(key))}", child, depth + 1)
        elif isinstance(value, list):
            if all(not isinstance(item, dict | list) for item in value):
                joined = _joined(value)
                if joined is not None:
                    self.put(prefix, joined)
            elif depth >= MAX_DEPTH:
                self.truncated = True
            else:
                for index, item in enumerate(value):
                    self.walk(f"{prefix}_{index}", item, depth + 1)
        else:
            prim = _primitive(value)
            if prim is not None and prim != "":
                self.put(prefix, prim)


def flatten_metadata(metadata: object, properties: object = None) -> dict[str, Primitive]:
    """``custom_``-prefixed primitive properties of a custom event's ``metadata`` and
    ``properties`` objects (anything that is not an object is ignored)."""
    sources = [obj for obj in (metadata, properties) if isinstance(obj, dict) and obj]
    if not sources:
        return {}
    flattener = _Flattener()
    for obj in sources:
        flattener.walk(PREFIX, obj, 0)
    out = flattener.out
    if flattener.truncated:
        taken = out.pop(TRUNCATED, None)
        out[TRUNCATED] = True
        if taken is not None:
            out[flattener.free_name(TRUNCATED)] = taken
    return out
