"""JSON on the wire: orjson for kombu's ``application/json`` and a shared ``json_default``.

Celery's prefork parent decodes every message body once (its protocol check) and the child
again; with kombu's standard-library json and its ``object_hook`` that was about a fifth of a
worker's CPU per event (``bench/pipeline.py``). orjson writes the same bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "json_default", "use_orjson_for_json"]


def json_default(obj: Any) -> Any:
    """What orjson cannot encode by itself: ``Decimal`` as a numeric string, sets as lists."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=json_default, option=orjson.OPT_NON_STR_KEYS)


def use_orjson_for_json() -> None:
    """Register orjson as kombu's ``json`` serializer (same content type, same bytes)."""
    from kombu.serialization import register

    register(
        "json",
        dumps,
        orjson.loads,
        content_type="application/json",
        content_encoding="utf-8",
    )
