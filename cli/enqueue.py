"""``masivo-tiktok enqueue``: queue JSON-lines Masivo events for delivery."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
import orjson

from cli._common import read_lines, runtime, settings
from cli._group import Command
from worker.settings import DEFAULT_DESTINATION

if TYPE_CHECKING:
    from worker.store.deadletter import DeadLetter

__all__ = ["enqueue"]


class _Progress:
    """A one-line progress counter on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()

    def __call__(self, n: int) -> None:
        self.done += n
        if self.enabled:
            rate = self.done / max(1e-6, time.monotonic() - self.started)
            sys.stderr.write(f"\renqueued {self.done:,} events ({rate:,.0f}/s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\n")


def _shifted(value: Any, delta: float) -> Any:
    """``issued_at`` moved by ``delta`` seconds, in its own format (ISO, seconds or ms)."""
    from datetime import datetime, timedelta

    from transforms.timestamps import MS_THRESHOLD, parse_issued_at

    if parse_issued_at(value) is None:
        return value  # unreadable or absent: the transform judges it as it is
    if isinstance(value, int | float) or value.strip().replace(".", "", 1).isdigit():
        number = float(value)
        moved = number + delta * (1000 if number >= MS_THRESHOLD else 1)
        return str(round(moved)) if isinstance(value, str) else round(moved)
    parsed = datetime.fromisoformat(value.strip())
    text = (parsed + timedelta(seconds=round(delta))).isoformat()
    return text.replace("+00:00", "Z") if value.strip().endswith("Z") else text


def _shift_to_now(events: list[Any], now: float) -> list[Any]:
    """Every event's ``issued_at`` moved so that the newest is ``now`` (gaps kept)."""
    from transforms.timestamps import parse_issued_at

    times = [parse_issued_at(e.get("issued_at")) for e in events if isinstance(e, dict)]
    newest = max((t for t in times if t is not None), default=None)
    if newest is None:
        return events
    delta = now - newest
    return [
        {**e, "issued_at": _shifted(e["issued_at"], delta)}
        if isinstance(e, dict) and "issued_at" in e
        else e
        for e in events
    ]


def _dead_letter(destination: str, number: int, line: str, message: str) -> DeadLetter:
    from worker.store.deadletter import DeadLetter

    now = time.time()
    return DeadLetter(
        destination=destination,
        reason="invalid_json",
        category="rejected",
        detail=f"line {number}: {message}",
        attempts=0,
        first_failure=now,
        last_failure=now,
        raw_event=line[:10_000],
    )


@click.command(cls=Command, short_help="Queue JSON-lines Masivo events for delivery.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--destination",
    default=DEFAULT_DESTINATION,
    show_default=True,
    metavar="ID",
    help="Destination the events are for.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 10_000),
    default=None,
    show_default="MASIVO_TIKTOK_CHUNK",
    help="Events per ingest message (1-10000).",
)
@click.option("--quiet", is_flag=True, show_default=True, help="No progress line on a terminal.")
@click.option(
    "--shift-to-now",
    is_flag=True,
    show_default=True,
    help="Move every event's issued_at so the newest is now (a dated sample never goes stale).",
)
def enqueue(
    file: str, destination: str, chunk_size: int | None, quiet: bool, shift_to_now: bool
) -> int:
    """Queue JSON-lines Masivo events (FILE, or - for stdin) for delivery.

    A line that is not JSON is reported on stderr and dead-lettered; it does not stop the
    rest of the file. Exit 1 when the intake refuses events (backlog or Redis memory bound):
    those accepted before stay queued.
    """
    from worker.producer import IntakeRefused
    from worker.producer import enqueue as enqueue_events

    settings().destination(destination)  # fail fast (exit 2) on an unknown destination
    bad: list[DeadLetter] = []

    def events() -> Iterator[Any]:
        for number, line in read_lines(file):
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                click.echo(f"line {number}: not JSON ({exc.msg}); dead-lettered", err=True)
                bad.append(_dead_letter(destination, number, line, exc.msg))

    progress = _Progress(sys.stderr.isatty() and not quiet)
    refused: IntakeRefused | None = None
    source: Iterator[Any] | list[Any] = events()
    if shift_to_now:  # needs the newest time first: the whole file in memory
        source = _shift_to_now(list(source), time.time())
    try:
        total = enqueue_events(source, destination, chunk_size=chunk_size, on_chunk=progress)
    except IntakeRefused as exc:  # a bound was reached: what was accepted stays queued
        refused, total = exc, exc.accepted
    finally:
        progress.close()
    if bad:
        from worker.store import counters

        rt = runtime()
        rt.dlq.add(bad)
        counters.incr(
            rt.redis, destination, {"received": len(bad), "rejected:invalid_json": len(bad)}
        )
    click.echo(
        f"enqueued {total} events for {destination}"
        + (f"; {len(bad)} bad lines dead-lettered" if bad else "")
    )
    if refused is not None:
        click.echo(
            f"masivo-tiktok enqueue: the intake refused the rest ({refused.reason}): "
            f"{refused.message}",
            err=True,
        )
        return 1
    return 0
