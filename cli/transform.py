"""``masivo-tiktok transform``: preview exactly what TikTok would receive."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import orjson

from cli._common import TIME, read_lines, settings
from cli._group import Command
from worker.settings import DEFAULT_DESTINATION

__all__ = ["transform"]


@click.command(cls=Command)
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--destination",
    default=DEFAULT_DESTINATION,
    show_default=True,
    metavar="ID",
    help="Destination whose settings (currency, phone region, features) shape the preview.",
)
@click.option(
    "--now",
    type=TIME,
    default=None,
    metavar="TIME",
    show_default="the current time",
    help="Pretend it is this time (ISO-8601 or Unix seconds).",
)
def transform(file: str | None, destination: str, now: float | None) -> int:
    """Preview what TikTok would receive for JSON-lines Masivo events.

    Reads FILE (stdin when omitted or -) and prints one JSON line per line in, in order:
    the events to send (exactly what TikTok receives) with a "quality" list beside them (per
    event: its match keys and quality warnings), or why the line is dropped or rejected.
    """
    from transforms import transform as transform_event
    from transforms.outcome import Reject

    options = settings().transform_options(destination)
    at = now if now is not None else time.time()
    out = sys.stdout.buffer
    for _number, line in read_lines(file, keep_blank=True):
        if not line.strip():
            result = Reject("invalid_json", "line is empty").as_json()
        else:
            try:
                raw: Any = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                result = Reject("invalid_json", f"line is not JSON: {exc.msg}").as_json()
            else:
                result = transform_event(raw, options, at).as_json()
        out.write(orjson.dumps(result) + b"\n")
    out.flush()
    return 0
