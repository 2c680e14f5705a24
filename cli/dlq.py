"""``masivo-tiktok dlq``: inspect, replay, purge and count the dead-letter queue.

``list``, ``replay``, ``purge`` and ``stats`` take the same filters (``--destination``,
``--reason``, ``--since``, ``--limit``) and ``--json``; every one of them honours all of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli._common import TIME, echo_json, runtime
from cli._group import Group
from worker.errors import ConfigError

if TYPE_CHECKING:
    from worker.runtime import Runtime
    from worker.store.deadletter import DeadLetter

__all__ = ["dlq", "filtered_stats"]

F = TypeVar("F", bound=Callable[..., Any])


def _filter_options(func: F) -> F:
    """The filters and ``--json`` every action but ``show`` takes."""
    options = [
        click.option(
            "--destination",
            default=None,
            metavar="ID",
            show_default="any",
            help="Only entries for this destination.",
        ),
        click.option(
            "--reason",
            default=None,
            show_default="any",
            help="Only entries with this reason (e.g. invalid_json).",
        ),
        click.option(
            "--since",
            type=TIME,
            default=None,
            show_default="any time",
            help="Only entries dead-lettered at or after this time (ISO-8601 or Unix seconds).",
        ),
        click.option(
            "--limit",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            show_default="no limit",
            help="At most this many entries, oldest first.",
        ),
        click.option(
            "--json", "as_json", is_flag=True, show_default=True, help="Machine-readable output."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(cls=Group)
def dlq() -> None:
    """Inspect, replay and purge the dead-letter queue."""


def _entries(
    rt: Runtime, destination: str | None, reason: str | None, since: float | None, limit: int | None
) -> list[tuple[str, DeadLetter]]:
    return rt.dlq.list(destination=destination, reason=reason, since=since, limit=limit)


@dlq.command("list", short_help="One line per dead-lettered event.")
@_filter_options
def list_entries(
    destination: str | None,
    reason: str | None,
    since: float | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """One line per dead-lettered event (with --json: one JSON object per line)."""
    entries = _entries(runtime(), destination, reason, since, limit)
    for entry_id, e in entries:
        if as_json:
            echo_json({"id": entry_id, **e.model_dump(exclude={"payload", "raw_event"})})
        else:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.last_failure))
            code = e.tiktok_code if e.tiktok_code is not None else "-"
            click.echo(
                f"{entry_id}  {e.event_id or '-':<36}  {e.destination:<14} {e.reason:<22} "
                f"code={code:<6} {when}"
            )
    if not as_json:
        click.echo(f"{len(entries)} entries", err=True)
    return 0


@dlq.command(short_help="One entry in full, as JSON.")
@click.argument("entry_id")
def show(entry_id: str) -> int:
    """One entry (ENTRY_ID, as `dlq list` prints it) in full, as JSON."""
    entry = runtime().dlq.get(entry_id)
    if entry is None:
        raise ConfigError(f"no dead-letter entry {entry_id!r}")
    echo_json({"id": entry_id, **entry.model_dump()}, indent=True)
    return 0


@dlq.command()
@click.argument("entry_ids", nargs=-1)
@_filter_options
def replay(
    entry_ids: tuple[str, ...],
    destination: str | None,
    reason: str | None,
    since: float | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Send entries through the normal path again.

    ENTRY_IDS: these entries; without them, every entry matching the filters.
    """
    from worker.jobs import replay as replay_entries

    rt = runtime()
    if entry_ids:
        found = [(i, rt.dlq.get(i)) for i in entry_ids]
        missing = [i for i, e in found if e is None]
        if missing:
            raise ConfigError(f"no dead-letter entry {missing[0]!r}")
        entries = [(i, e) for i, e in found if e is not None]
    else:
        entries = _entries(rt, destination, reason, since, limit)
    result = replay_entries(rt, entries)
    if as_json:
        echo_json(result)
        return 0
    parts = [f"replayed {result['replayed']} entries"]
    if result.get("skipped"):
        parts.append(f"kept {result['skipped']} whose destination is not configured")
    if result.get("still_invalid"):
        parts.append(f"kept {result['still_invalid']} lines that are still not JSON")
    click.echo("; ".join(parts))
    return 0


@dlq.command(short_help="Delete entries matching the filters (or --all).")
@_filter_options
@click.option("--all", "purge_all", is_flag=True, show_default=True, help="Purge everything.")
def purge(
    destination: str | None,
    reason: str | None,
    since: float | None,
    limit: int | None,
    as_json: bool,
    purge_all: bool,
) -> int:
    """Delete entries: those matching the filters, or every one with --all."""
    if not (purge_all or destination or reason or since is not None):
        raise ConfigError("purge needs a filter (--destination, --reason, --since) or --all")
    rt = runtime()
    if limit is None:
        n = rt.dlq.purge(destination=destination, reason=reason, since=since)
    else:
        n = rt.dlq.delete([i for i, _ in _entries(rt, destination, reason, since, limit)])
    if as_json:
        echo_json({"purged": n})
    else:
        click.echo(f"purged {n} entries")
    return 0


def _id_ms(entry_id: str) -> int:
    """Milliseconds of an entry id (``destination/ms-seq``, or a legacy ``ms-seq``)."""
    from worker.store.deadletter import entry_time

    return round(entry_time(entry_id) * 1000)


def _matching_raw(
    rt: Runtime, destination: str | None, reason: str | None, since: float | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    first_ms = None if since is None else math.ceil(since * 1000)  # as `dlq list --since`
    for entry_id, entry in rt.dlq.iter_raw(destination):
        if (
            (first_ms is None or _id_ms(entry_id) >= first_ms)
            and (destination is None or entry.get("destination") == destination)
            and (reason is None or entry.get("reason") == reason)
        ):
            yield entry_id, entry


def filtered_stats(
    rt: Runtime,
    destination: str | None = None,
    reason: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """:meth:`DeadLetterStore.stats` over the entries the filters select (oldest first).

    Without ``--since`` and ``--limit`` the numbers come from the counts the DLQ keeps
    (:meth:`DeadLetterStore.counts`), whatever its size: no filter reads one hash and the two
    end entries; ``--destination`` / ``--reason`` add a walk from each end of the stream to
    the first matching entry (``oldest`` / ``newest``). ``--since`` and ``--limit`` select by
    position in the stream, so they page through it.
    """
    if since is None and limit is None:
        if destination is None and reason is None:
            return rt.dlq.stats()
        return _counted_stats(rt, destination, reason)
    groups: dict[str, dict[str, int]] = {"destination": {}, "reason": {}, "category": {}}
    size = 0
    oldest: str | None = None
    newest: str | None = None
    for entry_id, entry in _matching_raw(rt, destination, reason, since):
        if limit is not None and size >= limit:
            break
        size += 1
        oldest = oldest or entry_id
        newest = entry_id
        for field, counts in groups.items():
            key = str(entry.get(field))
            counts[key] = counts.get(key, 0) + 1
    return {
        "size": size,
        "by_destination": groups["destination"],
        "by_reason": groups["reason"],
        "by_category": groups["category"],
        "oldest": None if oldest is None else _id_ms(oldest) / 1000,
        "newest": None if newest is None else _id_ms(newest) / 1000,
    }


def _counted_stats(rt: Runtime, destination: str | None, reason: str | None) -> dict[str, Any]:
    """:func:`filtered_stats` for ``--destination`` / ``--reason`` alone, from the counts."""
    groups: dict[str, dict[str, int]] = {"destination": {}, "reason": {}, "category": {}}
    size = 0
    for (dest, category, why), n in rt.dlq.counts().items():
        if (destination is None or dest == destination) and (reason is None or why == reason):
            size += n
            for field, key in (("destination", dest), ("reason", why), ("category", category)):
                groups[field][key] = groups[field].get(key, 0) + n
    oldest = newest = None
    if size:
        matches = _matching_raw(rt, destination, reason, None)
        oldest = next((_id_ms(entry_id) / 1000 for entry_id, _ in matches), None)
        newest = next(
            (_id_ms(entry_id) / 1000 for entry_id, _ in _newest_first(rt, destination, reason)),
            None,
        )
    return {
        "size": size,
        "by_destination": groups["destination"],
        "by_reason": groups["reason"],
        "by_category": groups["category"],
        "oldest": oldest,
        "newest": newest,
    }


def _newest_first(
    rt: Runtime, destination: str | None, reason: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Entries matching the filters, newest first (every stream merged, paged)."""
    for entry_id, entry in rt.dlq.newest_first(destination):
        if (destination is None or entry.get("destination") == destination) and (
            reason is None or entry.get("reason") == reason
        ):
            yield entry_id, entry


@dlq.command(short_help="Counts by destination, reason and category.")
@_filter_options
def stats(
    destination: str | None,
    reason: str | None,
    since: float | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Counts by destination, reason and category (of the entries the filters select)."""
    report = filtered_stats(runtime(), destination, reason, since, limit)
    if as_json:
        echo_json(report, indent=True)
        return 0
    click.echo(f"size: {report.get('size', 0)}")
    for group in ("by_destination", "by_reason", "by_category"):
        items = report.get(group) or {}
        if items:
            click.echo(f"{group.replace('_', ' ')}:")
            for name, count in sorted(items.items()):
                click.echo(f"  {name:<28} {count:>8}")
    return 0


@dlq.command(short_help="Move the legacy global dead-letter stream into per-destination ones.")
@click.option("--json", "as_json", is_flag=True, show_default=True, help="Machine-readable output.")
def migrate(as_json: bool) -> int:
    """Move every entry of the legacy global stream (``mtt:dlq``, written before issue 12)
    into its destination's stream, then delete it. Optional on one Redis (the legacy entries
    are listed, replayed, expired and purged as they are); on a Redis Cluster, which reads no
    legacy stream, it moves one that came along with the data. Entries get new ids; their
    content is unchanged. Safe to run again."""
    n = runtime().dlq.migrate_legacy()
    if as_json:
        echo_json({"migrated": n})
    else:
        click.echo(f"migrated {n} entries")
    return 0
