"""Lua scripts, one file each, documented at their top (KEYS, ARGV, what they return).

A package so that package data ships them; :func:`script` reads one by name, once.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["script"]


@cache
def script(name: str) -> str:
    """The source of ``lua/<name>.lua``."""
    return resources.files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
