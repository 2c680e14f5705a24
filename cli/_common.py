"""Helpers the commands share: times, input lines, tables, JSON output, the runtime."""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import click
import orjson

from worker.errors import ConfigError

if TYPE_CHECKING:
    from worker.runtime import Runtime
    from worker.settings import Settings

    #: click's ParamType is generic in the stubs of recent versions only: subscript it for
    #: the type checker, never at run time
    ParamType = click.ParamType[Any]
else:
    ParamType = click.ParamType

__all__ = [
    "TIME",
    "ParamType",
    "echo_json",
    "fmt",
    "parse_time",
    "read_lines",
    "render_table",
    "runtime",
    "settings",
]

#: the times ``--now`` / ``--since`` accept: after 1970, before 2200
_TIME_RANGE = (0.0, 7_258_118_400.0)


def parse_time(text: str) -> float:
    """``--now`` / ``--since``: ISO-8601 (naive = UTC) or Unix seconds, 1970..2200.

    Raises ValueError with a message fit for the user.
    """
    text = text.strip()
    value: float | None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a time: {text!r} (use ISO-8601 or Unix seconds)") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = parsed.timestamp()
    if not (math.isfinite(value) and _TIME_RANGE[0] < value < _TIME_RANGE[1]):
        raise ValueError(f"not a time between 1970 and 2200: {text!r}")
    return value


class TimeType(ParamType):
    """A click parameter holding :func:`parse_time`'s unix seconds."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()


def read_lines(path: str | None, *, keep_blank: bool = False) -> Iterator[tuple[int, str]]:
    """Lines of a file (or stdin for None / ``-``), decoded as UTF-8 with or without a BOM.

    Universal newlines: ``\\n``, ``\\r\\n`` and a lone ``\\r`` all end a line. Undecodable
    bytes become U+FFFD, so a bad line is rejected on its own instead of aborting the file.
    """
    raw: IO[bytes]
    stdin = path in (None, "-")
    if stdin:
        raw = sys.stdin.buffer
    else:
        assert path is not None
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
    try:
        for number, line in enumerate(text, start=1):
            if keep_blank or line.strip():
                yield number, line
    finally:
        if stdin:
            text.detach()
        else:
            text.close()


def settings() -> Settings:
    """The settings from the environment; a :class:`ConfigError` (exit 2) when they are bad."""
    from worker.settings import load_settings

    return load_settings()


def runtime() -> Runtime:
    """The process's runtime (Redis, stores); imports Celery, so only commands that need it."""
    from worker.celery_app import get_runtime

    return get_runtime()


def fmt(value: Any) -> str:
    """A number for a table: thousands separators, one decimal for floats."""
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns: the first left-aligned, the others right-aligned (numbers)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def echo_json(value: Any, *, indent: bool = False) -> None:
    """One JSON document on stdout (indented for humans, or one line per record)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    sys.stdout.write(orjson.dumps(value, option=option).decode() + "\n")


def require_known(config: Any, rt: Any, destination: str | None) -> None:
    """Refuse (exit 2, naming the known ones) a destination neither configured nor seen."""
    if destination is None:
        return
    from worker.store.counters import known_destinations

    if destination not in config.destinations and destination not in known_destinations(rt.redis):
        config.destination(destination)  # raises: unknown, with the known ones
