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

__all__ = [
    "age",
    "dlq_by_destination",
    "reasons_table",
    "requests_by_outcome",
    "requests_rows",
    "status",
    "status_command",
    "status_rows",
]

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
    "oldest_wait",
    "dlq",
    "paused",
    "tokens",
]


def status(rt: Runtime, destinations: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Counters, live state, requests by outcome and match quality (:mod:`cli.quality`) per
    destination (the given ones, or configured or seen).

    Costs O(destinations x reasons), whatever the size of the dead-letter queue: its numbers
    come from the counts the DLQ's scripts keep (:meth:`DeadLetterStore.counts`), never from
    reading its entries.
    """
    from worker.store import counters, quality
    from worker.store.pause import paused_info

    dlq = dlq_by_destination(rt.dlq.counts())
    now = rt.clock()
    out: dict[str, dict[str, Any]] = {}
    for d in destinations or sorted(
        set(rt.settings.destinations) | set(counters.known_destinations(rt.redis))
    ):
        box = rt.outbox(d)
        state: dict[str, Any] = dict(box.counts())
        by_category = dlq.get(d, {})
        state["dlq"] = sum(n for reasons in by_category.values() for n in reasons.values())
        state["dlq_by_category"] = by_category
        since = _oldest(rt.intake(d).oldest_since(), box.oldest_waiting_since())
        state["oldest_waiting_since"] = since
        state["oldest_waiting_s"] = None if since is None else max(0.0, now - since)
        state["paused"] = paused_info(rt.redis, d)
        dest = rt.settings.destinations.get(d)
        if dest is not None:
            state["bucket"] = rt.bucket(dest).state()
            state["pixel_code"] = dest.pixel_code
        c = counters.read(rt.redis, d)
        out[d] = {
            "counters": c,
            "state": state,
            "requests": requests_by_outcome(c),
            "quality": quality.read(rt.redis, d),
        }
    return out


def dlq_by_destination(
    counts: dict[tuple[str, str, str], int],
) -> dict[str, dict[str, dict[str, int]]]:
    """:meth:`DeadLetterStore.counts` as ``{destination: {category: {reason: entries}}}``."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (dest, category, reason), n in sorted(counts.items()):
        out.setdefault(dest, {}).setdefault(category, {})[reason] = n
    return out


def requests_by_outcome(c: dict[str, float]) -> dict[str, int]:
    """Requests to TikTok by outcome: every outcome of ``REQUEST_OUTCOMES``, 0 when none.

    Requests counted before outcomes were (the first releases counted only ``requests``) are
    added to ``other``, so the outcomes always sum to the total.
    """
    from worker.store.counters import REQUEST_OUTCOMES, Field, Prefix

    out = {o: int(c.get(Prefix.REQUESTS.of(o), 0)) for o in REQUEST_OUTCOMES}
    unlabelled = int(c.get(Field.REQUESTS, 0)) - sum(out.values())
    if unlabelled > 0:
        out["other"] += unlabelled
    return out


def _oldest(*times: float | None) -> float | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


def age(seconds: float | None) -> str:
    """A waiting time for a table: ``-`` (nothing waits), ``45s``, ``12m``, ``3.5h``, ``2.1d``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


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
                age(s.get("oldest_waiting_s")),
                fmt(s["dlq"]),
                f"yes ({paused.get('kind')})" if paused else "no",
                fmt(float(bucket.get("tokens", 0.0))) if bucket else "-",
            ]
        )
    return rows


def requests_rows(report: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Requests to TikTok by outcome: a header, then one row per destination."""
    from worker.store.counters import REQUEST_OUTCOMES

    rows = [["destination", "requests", *REQUEST_OUTCOMES]]
    for dest, data in report.items():
        by_outcome = data.get("requests") or requests_by_outcome(data["counters"])
        rows.append(
            [
                dest,
                fmt(int(data["counters"].get("requests", 0))),
                *(fmt(by_outcome.get(o, 0)) for o in REQUEST_OUTCOMES),
            ]
        )
    return rows


def reasons_table(report: dict[str, dict[str, Any]]) -> str:
    """Every counter with a reason (``dropped:too_old`` ...), one line each (requests by
    outcome have a table of their own: :func:`requests_rows`)."""
    lines = []
    for dest, data in report.items():
        for name, value in sorted(data["counters"].items()):
            if ":" in name and not name.startswith(("delivered:", "requests:")):
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
    click.echo("\nrequests to TikTok by outcome:\n" + render_table(requests_rows(report)))
    reasons = reasons_table(report)
    if reasons:
        click.echo("\nby reason:\n" + reasons)
    return 0
