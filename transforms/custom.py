"""Custom events: ``metadata`` flattened into ``custom_``-prefixed primitive properties.

TikTok accepts only primitives in custom parameters (the product spec's "Limitations"), so:

* nested objects are joined with ``_``: ``{"video": {"id": 7}}`` → ``custom_video_id: 7``;
* a list of primitives becomes one comma-joined string: ``{"tags": ["a", "b"]}`` →
  ``custom_tags: "a,b"`` (booleans as ``true``/``false``, nulls skipped); an empty list is
  omitted;
* a list holding objects or lists is indexed: ``{"items": [{"sku": "A"}]}`` →
  ``custom_items_0_sku: "A"`` (primitives in such a list become ``custom_items_1``);
* ``null`` and empty strings are dropped; strings, integers, floats and booleans pass
  unchanged, except integers beyond 64 bits, which become strings;
* keys are sanitised: ``camelCase`` is split (``trialDays`` → ``trial_days``), lower-cased,
  every run of characters outside ``[a-z0-9]`` becomes one ``_``, and leading/trailing ``_``
  are stripped. A key that sanitises to nothing (``"日本"``, ``"--"``) is skipped;
* at most :data:`MAX_CUSTOM_KEYS` properties and :data:`MAX_DEPTH` levels; beyond those the
  rest is dropped, so no event grows unbounded. When two keys sanitise to the same name the
  first one (in document order) wins.

Standard events ignore ``metadata``: their properties are TikTok's fixed vocabulary.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from transforms.values import INT64_MAX

__all__ = ["MAX_CUSTOM_KEYS", "MAX_DEPTH", "Primitive", "flatten_metadata", "sanitise_key"]

Primitive = str | int | float | bool

MAX_CUSTOM_KEYS: Final = 100
MAX_DEPTH: Final = 8
PREFIX: Final = "custom"

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD: Final = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def sanitise_key(key: str) -> str:
    """``"Plan Name"`` → ``"plan_name"``; ``""`` when nothing usable is left."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", key).lower()).strip("_")


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

    def put(self, key: str, value: Primitive) -> None:
        if len(self.out) < MAX_CUSTOM_KEYS and key not in self.out:
            self.out[key] = value

    def walk(self, prefix: str, value: object, depth: int) -> None:
        if value is None or len(self.out) >= MAX_CUSTOM_KEYS:
            return
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                for key, child in value.items():
                    name = sanitise_key(key) if isinstance(key, str) else ""
                    if name:
                        self.walk(f"{prefix}_{name}", child, depth + 1)
        elif isinstance(value, list):
            if all(not isinstance(item, dict | list) for item in value):
                joined = _joined(value)
                if joined is not None:
                    self.put(prefix, joined)
            elif depth < MAX_DEPTH:
                for index, item in enumerate(value):
                    self.walk(f"{prefix}_{index}", item, depth + 1)
        else:
            prim = _primitive(value)
            if prim is not None and prim != "":
                self.put(prefix, prim)


def flatten_metadata(metadata: object) -> dict[str, Primitive]:
    """``custom_``-prefixed primitive properties of a custom event's ``metadata`` object."""
    if not isinstance(metadata, dict):
        return {}
    flattener = _Flattener()
    flattener.walk(PREFIX, metadata, 0)
    return flattener.out
