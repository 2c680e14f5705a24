"""``masivo-tiktok status``: counters and live state per destination.

:func:`status` is the read model; ``demo`` and the Prometheus collector (:mod:`cli.metrics`)
read the same report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from cli._common import echo_json, fmt, render_table, runtime, settings
from cli._group import Command

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["reasons_table", "status", "status_command", "status_rows"]

HEADER = [
    "destination",
    "received",
    "delivered",
    "dropped",
    "rejected",
    "dead",
    "retried",
    "outbox",
    "in_flight",
    "retry_batches",
    "dlq",
    "paused",
    "tokens",
]


def status(rt: Runtime, destinations: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Counters, live state and match quality (:mod:`cli.quality`) per destination (the
    given ones, or configured or seen)."""
    from worker.store import counters, quality
    from worker.store.pause import paused_info

    dlq_by_dest = rt.dlq.stats().get("by_destination", {})
    out: dict[str, dict[str, Any]] = {}
    for d in destinations or sorted(
        set(rt.settings.destinations) | set(counters.known_destinations(rt.redis))
    ):
        state: dict[str, Any] = dict(rt.outbox(d).counts())
        state["dlq"] = int(dlq_by_dest.get(d, 0))
        state["paused"] = paused_info(rt.redis, d)
        dest = rt.settings.destinations.get(d)
        if dest is not None:
            state["bucket"] = rt.bucket(dest).state()
            state["pixel_code"] = dest.pixel_code
        out[d] = {
            "counters": counters.read(rt.redis, d),
            "state": state,
            "quality": quality.read(rt.redis, d),
        }
    return out


def status_rows(report: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The table of ``masivo-tiktok status``: a header, then one row per destination."""
    rows = [list(HEADER)]
    for dest, data in report.items():
        c, s = data["counters"], data["state"]

        def total(prefix: str, counts: dict[str, Any] = c) -> int:
            return int(sum(v for k, v in counts.items() if k.startswith(prefix)))

        paused = s.get("paused")
        bucket = s.get("bucket") or {}
        rows.append(
            [
                dest,
                fmt(int(c.get("received", 0))),
                fmt(int(c.get("delivered", 0))),
                fmt(total("dropped:")),
                fmt(total("rejected:")),
                fmt(total("dead_lettered:")),
                fmt(int(c.get("retried", 0))),
                fmt(s["outbox"]),
                fmt(s["in_flight"]),
                fmt(s["scheduled_retries"]),
                fmt(s["dlq"]),
                f"yes ({paused.get('kind')})" if paused else "no",
                fmt(float(bucket.get("tokens", 0.0))) if bucket else "-",
            ]
        )
    return rows


def reasons_table(report: dict[str, dict[str, Any]]) -> str:
    """Every counter with a reason (``dropped:too_old`` ...), one line each."""
    lines = []
    for dest, data in report.items():
        for name, value in sorted(data["counters"].items()):
            if ":" in name and not name.startswith("delivered:"):
                lines.append(f"  {dest:<16} {name:<32} {fmt(value):>10}")
    return "\n".join(lines)


@click.command("status", cls=Command)
@click.option(
    "--destination",
    default=None,
    metavar="ID",
    show_default="every destination configured or seen",
    help="Only this destination.",
)
@click.option("--json", "as_json", is_flag=True, show_default=True, help="Machine-readable output.")
def status_command(destination: str | None, as_json: bool) -> int:
    """Counters and state per destination."""
    config = settings()
    rt = runtime()
    if destination is not None:
        from worker.store.counters import known_destinations

        if destination not in config.destinations and destination not in known_destinations(
            rt.redis
        ):
            config.destination(destination)  # raises: unknown, with the known ones
    report = status(rt, [destination] if destination is not None else None)
    if as_json:
        echo_json(report, indent=True)
        return 0
    if not report:
        click.echo("no destinations configured or seen yet")
        return 0
    click.echo(render_table(status_rows(report)))
    reasons = reasons_table(report)
    if reasons:
        click.echo("\nby reason:\n" + reasons)
    return 0
