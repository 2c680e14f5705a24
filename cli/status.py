"""``masivo-tiktok status``: counters and live state per destination.

:func:`status` is the read model; ``demo`` and the Prometheus collector (:mod:`cli.metrics`)
read the same report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click
import orjson

from cli._common import echo_json, fmt, render_table, require_known, runtime, settings
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
    "intake",
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
    reading its entries. Every destination's keys are read in one pipelined round trip, and
    every rate-limit bucket's state in one more, so a scrape of 50 destinations stays in
    milliseconds.
    """
    from worker.store import counters, quality, ratelimit

    dests = list(
        destinations
        or sorted(set(rt.settings.destinations) | set(counters.known_destinations(rt.redis)))
    )
    dlq = dlq_by_destination(rt.dlq.counts())
    raw = _read(rt, dests)
    configured = {d: rt.settings.destinations[d] for d in dests if d in rt.settings.destinations}
    buckets = dict(
        zip(
            configured,
            ratelimit.states(rt.redis, [rt.bucket(dest) for dest in configured.values()]),
            strict=True,
        )
    )
    now = rt.clock()
    out: dict[str, dict[str, Any]] = {}
    for d in dests:
        r = raw[d]
        state: dict[str, Any] = {
            # events acknowledged to producers and not yet ingested (the KEDA trigger's gauge)
            "intake": max(0, int(r["backlog"][0] or 0)),
            "outbox": int(r["outbox"]),
            "in_flight": int(r["leases"]),
            "scheduled_retries": int(r["retry"]),
        }
        by_category = dlq.get(d, {})
        state["dlq"] = sum(n for reasons in by_category.values() for n in reasons.values())
        state["dlq_by_category"] = by_category
        since = _oldest_waiting(r)
        state["oldest_waiting_since"] = since
        state["oldest_waiting_s"] = None if since is None else max(0.0, now - since)
        state["paused"] = orjson.loads(r["paused"]) if r["paused"] is not None else None
        dest = configured.get(d)
        if dest is not None:
            state["bucket"] = buckets[d]
            state["pixel_code"] = dest.pixel_code
        c = counters.read(_Replied(r["stats"]), d)  # type: ignore[arg-type]
        out[d] = {
            "counters": c,
            "state": state,
            "requests": requests_by_outcome(c),
            "quality": quality.read(_Replied(r["quality"]), d),
        }
    return out


#: what :func:`status` reads per destination, in one pipeline: name -> (command, key builder)
_READS: tuple[tuple[str, str, str], ...] = (
    ("stats", "hgetall", "stats"),
    ("quality", "hgetall", "quality"),
    ("paused", "get", "paused"),
    ("outbox", "llen", "outbox"),
    ("leases", "zcard", "leases"),
    ("retry", "zcard", "retry"),
    ("head", "lindex", "outbox"),
    ("batches", "hkeys", "batches"),
    ("intake", "xrange", "intake"),
    ("backlog", "hmget", "backlog"),
)


def _read(rt: Runtime, dests: list[str]) -> dict[str, dict[str, Any]]:
    """The keys :func:`status` needs, for every destination, in one round trip: the same
    commands the stores send (``Outbox.counts`` / ``oldest_waiting_since``,
    ``Intake.oldest_since``, ``counters.read``, ``quality.read``, ``paused_info``), pipelined
    (``tests/cli/test_status.py`` checks the answers are the stores')."""
    from worker.store import keys

    pipe = rt.redis.pipeline(transaction=False)
    for d in dests:
        for _name, command, key in _READS:
            k = getattr(keys, key)(d)
            if command == "lindex":
                pipe.lindex(k, 0)
            elif command == "hmget":
                pipe.hmget(k, "intake")
            elif command == "xrange":
                pipe.xrange(k, count=1)
            else:
                getattr(pipe, command)(k)
    replies = iter(pipe.execute())
    return {d: {name: next(replies) for name, _c, _k in _READS} for d in dests}


def _oldest_waiting(r: dict[str, Any]) -> float | None:
    """Unix seconds since which the destination's oldest event has waited: the intake's first
    entry (its id is its append time), the outbox's head, or the oldest batch (its id starts
    with the unix ms its oldest event began waiting)."""
    from worker.store.outbox import Item, batch_id_time

    times = [batch_id_time(_text(b)) for b in r["batches"]]
    if r["head"] is not None:
        times.append(Item.loads(r["head"]).enqueued_at)
    if r["intake"]:
        times.append(int(_text(r["intake"][0][0]).split("-", 1)[0]) / 1000)
    return _oldest(*times)


class _Replied:
    """A reply already read, for the stores' parsers (``counters.read``, ``quality.read``)."""

    def __init__(self, reply: Any) -> None:
        self._reply = reply

    def hgetall(self, _key: str) -> Any:
        return self._reply


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
                fmt(s.get("intake", 0)),
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
    require_known(config, rt, destination)
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
