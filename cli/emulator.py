"""``masivo-tiktok emulator``: a local TikTok Events API, with the worker's credentials.

The flags are those of ``python -m emulator`` (:mod:`emulator.cli`); here they are click
options, and the tokens and pixel codes of the configured destinations are the only ones the
emulator accepts (any token when none is configured).
"""

from __future__ import annotations

import argparse
from typing import Any

import click

from cli._common import ParamType, settings
from cli._group import Command
from emulator.config import DEFAULT_MAX_AGE_S
from emulator.durations import parse_duration
from emulator.faults import FaultSpec, parse_faults

__all__ = ["emulator"]


class _Parsed(ParamType):
    """A click parameter parsed by one of the emulator's own parsers (ValueError = usage)."""

    def __init__(self, name: str, parse: Any) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):  # NaN fails the first test
        raise ValueError(f"not a rate in events/s (>= 0): {text!r}")
    return value


DURATION = _Parsed("DURATION", parse_duration)
RATE = _Parsed("EVENTS_PER_S", _rate)
FAULTS = _Parsed("SPEC", parse_faults)


@click.command(cls=Command, short_help="Run a local TikTok Events API emulator.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help="TCP port (0 = any free port).",
)
@click.option(
    "--rate-limit",
    type=RATE,
    default=1000.0,
    show_default=True,
    metavar="EVENTS_PER_S",
    help="Per-pixel events accepted in any sliding 1 s window; 0 = unlimited.",
)
@click.option(
    "--max-age",
    type=DURATION,
    default=f"{DEFAULT_MAX_AGE_S // 86_400}d",
    show_default=True,
    help="Refuse events older than this (e.g. 7d, 2h, 3600s; 0 = never).",
)
@click.option(
    "--max-future",
    type=DURATION,
    default="10m",
    show_default=True,
    help="Refuse events further in the future than this (0 = never).",
)
@click.option(
    "--faults",
    type=FAULTS,
    default=FaultSpec(),
    show_default="none",
    help="Faults to inject, e.g. 500=0.1,502=0.01,503=0.05,40100=0.1,latency=50ms,"
    "hang=0.01:30s,reset=0.02,outage=10s@5s",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    show_default="random",
    help="Seed for faults and request ids.",
)
def emulator(
    host: str,
    port: int,
    rate_limit: float,
    max_age: float,
    max_future: float,
    faults: FaultSpec,
    seed: int | None,
) -> int:
    """Run a local TikTok Events API emulator until Ctrl-C, then print a summary."""
    from emulator import cli as emulator_cli

    credentials: dict[str, frozenset[str]] = {}
    for dest in settings().destinations.values():
        token = dest.access_token.get_secret_value()
        credentials[token] = credentials.get(token, frozenset()) | {dest.pixel_code}
    args = argparse.Namespace(
        host=host,
        port=port,
        rate_limit=rate_limit,
        max_age=max_age,
        max_future=max_future,
        faults=faults,
        seed=seed,
    )
    return emulator_cli.run(args, credentials or None)
