"""Reading scalar fields leniently where Masivo is loose and strictly where TikTok is.

Numbers may arrive as JSON numbers or numeric strings (``"59.98"``); anything else in a
numeric field is a reject naming the field, because a wrong ``value`` silently corrupts ROAS.
Text fields accept strings and numbers (ids are often numeric) and reject other types.

Flags (``consent.vendors.tiktok``, ``fulfilled``, ``is_anonymous``) arrive as booleans, numbers
or strings; :func:`to_flag` reads them one way everywhere: ``true``, ``1``, ``"true"``,
``"yes"``, ``"1"`` are yes; ``false``, ``0``, ``"false"``, ``"no"``, ``"off"``, ``"0"`` are no
(strings trimmed, any case); anything else (``"maybe"``, ``2``, ``1.0``, objects) is unknown,
and each caller decides what unknown means where its rule lives.
"""

from __future__ import annotations

import math
import re
from typing import Final

from transforms.reasons import InvalidEventError

__all__ = ["INT64_MAX", "clean_text", "get_dict", "to_flag", "to_number", "to_text"]

_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER: Final = re.compile(r"[+-]?\d{1,18}")

_YES: Final = frozenset({"true", "yes", "1"})
_NO: Final = frozenset({"false", "no", "off", "0"})

#: Integers beyond 64 bits cannot be encoded by orjson (nor read by TikTok's backend).
INT64_MAX: Final = 2**63 - 1


def to_number(value: object, path: str, reason: str) -> float | int | None:
    """A finite number from a JSON number or numeric string; ``None`` for null/empty string.

    Integers stay integers so ``"value": 10`` is sent as ``10``, not ``10.0``.
    """
    if type(value) is float:  # the usual cases first, by exact type (a bool is neither)
        if math.isfinite(value):
            return value
        raise InvalidEventError(reason, f"{path}: must be a finite number")
    if type(value) is int and -INT64_MAX <= value <= INT64_MAX:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEventError(reason, f"{path}: must be a number, not a boolean")
    if isinstance(value, int):
        if abs(value) <= INT64_MAX:
            return value
        raise InvalidEventError(reason, f"{path}: number out of range")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise InvalidEventError(reason, f"{path}: must be a finite number")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _INTEGER.fullmatch(text):
            return int(text)
        if _NUMBER.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return number
        raise InvalidEventError(reason, f"{path}: not a number")
    raise InvalidEventError(reason, f"{path}: must be a number")


def to_text(value: object, path: str, reason: str) -> str | None:
    """Trimmed text from a string or number (``7`` → ``"7"``, ``7.0`` → ``"7"``).

    ``None`` for null and blank strings; other types raise :class:`InvalidEventError`
    naming ``path``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        raise InvalidEventError(reason, f"{path}: must be a string or number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    raise InvalidEventError(reason, f"{path}: must be a string or number")


def clean_text(value: object) -> str | None:
    """Best-effort text for optional enrichments (context): wrong types are just omitted."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def get_dict(raw: dict[str, object], key: str) -> dict[str, object] | None:
    """``raw[key]`` when it is an object; anything else counts as absent."""
    value = raw.get(key)
    return value if isinstance(value, dict) else None


def to_flag(value: object) -> bool | None:
    """``True``/``False`` for the yes/no spellings of the module docstring, else ``None``."""
    if value is True or value is False:
        return value
    if type(value) is int:
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _YES else False if text in _NO else None
    return None
