"""Operator subcommands that talk to Redis: enqueue, status, dlq, pause, resume.

Each registers itself on the CLI parser (:data:`REGISTRARS`); :mod:`worker.cli` owns ``main``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from worker.cli import _read_lines, parse_time
from worker.errors import ConfigError
from worker.settings import DEFAULT_DESTINATION, Settings

__all__ = ["REGISTRARS"]


def _runtime() -> Any:
    from worker.celery_app import get_runtime

    return get_runtime()


# -- enqueue ------------------------------------------------------------------------------


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 10000: {text!r}")
    return value


def cmd_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    from worker.producer import enqueue
    from worker.store.deadletter import DeadLetter

    settings.destination(args.destination)  # fail fast (exit 2) on an unknown destination
    bad: list[DeadLetter] = []

    def events() -> Iterator[Any]:
        for number, line in _read_lines(args.file):
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                print(f"line {number}: not JSON ({exc.msg}); dead-lettered", file=sys.stderr)
                now = time.time()
                bad.append(
                    DeadLetter(
                        destination=args.destination,
                        reason="invalid_json",
                        category="rejected",
                        detail=f"line {number}: {exc.msg}",
                        attempts=0,
                        first_failure=now,
                        last_failure=now,
                        raw_event=line[:10_000],
                    )
                )

    progress = _Progress(sys.stderr.isatty() and not args.quiet)
    try:
        total = enqueue(events(), args.destination, chunk_size=args.chunk_size, on_chunk=progress)
    finally:
        progress.close()
    if bad:
        from worker.store import counters

        rt = _runtime()
        rt.dlq.add(bad)
        counters.incr(
            rt.redis, args.destination, {"received": len(bad), "rejected:invalid_json": len(bad)}
        )
    print(
        f"enqueued {total} events for {args.destination}"
        + (f"; {len(bad)} bad lines dead-lettered" if bad else "")
    )
    return 0


def _add_enqueue(sub: Any) -> None:
    p = sub.add_parser("enqueue", help="queue JSON-lines Masivo events for delivery")
    p.add_argument("file", help="JSON lines file, or - for stdin")
    p.add_argument("--destination", default=DEFAULT_DESTINATION)
    p.add_argument(
        "--chunk-size", type=_positive_int, default=None, help="events per ingest message (1-10000)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(handler=cmd_enqueue)


# -- status -------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def status_rows(report: dict[str, dict[str, Any]]) -> list[list[str]]:
    header = [
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
    rows = [header]
    for dest, data in report.items():
        c, s = data["counters"], data["state"]

        def total(prefix: str, counts: dict[str, Any] = c) -> int:
            return int(sum(v for k, v in counts.items() if k.startswith(prefix)))

        paused = s.get("paused")
        bucket = s.get("bucket") or {}
        rows.append(
            [
                dest,
                _fmt(int(c.get("received", 0))),
                _fmt(int(c.get("delivered", 0))),
                _fmt(total("dropped:")),
                _fmt(total("rejected:")),
                _fmt(total("dead_lettered:")),
                _fmt(int(c.get("retried", 0))),
                _fmt(s["outbox"]),
                _fmt(s["in_flight"]),
                _fmt(s["scheduled_retries"]),
                _fmt(s["dlq"]),
                f"yes ({paused.get('kind')})" if paused else "no",
                _fmt(float(bucket.get("tokens", 0.0))) if bucket else "-",
            ]
        )
    return rows


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join(lines)


def reasons_table(report: dict[str, dict[str, Any]]) -> str:
    lines = []
    for dest, data in report.items():
        for name, value in sorted(data["counters"].items()):
            if ":" in name and not name.startswith("delivered:"):
                lines.append(f"  {dest:<16} {name:<32} {_fmt(value):>10}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from worker.jobs import status

    rt = _runtime()
    if args.destination:
        from worker.store.counters import known_destinations

        if (
            args.destination not in settings.destinations
            and args.destination not in known_destinations(rt.redis)
        ):
            settings.destination(args.destination)  # raises: unknown, with the known ones
    report = status(rt, [args.destination] if args.destination else None)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not report:
        print("no destinations configured or seen yet")
        return 0
    print(render_table(status_rows(report)))
    reasons = reasons_table(report)
    if reasons:
        print("\nby reason:\n" + reasons)
    return 0


def _add_status(sub: Any) -> None:
    p = sub.add_parser("status", help="counters and state per destination")
    p.add_argument("--destination", default=None)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_status)


# -- dlq ----------------------------------------------------------------------------------


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "destination": args.destination,
        "reason": args.reason,
        "since": args.since,
    }


def _dlq_list(args: argparse.Namespace, rt: Any) -> int:
    entries = rt.dlq.list(**_filters(args), limit=args.limit)
    for entry_id, e in entries:
        if args.json:
            row = {"id": entry_id, **e.model_dump(exclude={"payload", "raw_event"})}
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.last_failure))
            print(
                f"{entry_id}  {e.event_id or '-':<36}  {e.destination:<14} {e.reason:<22} "
                f"code={e.tiktok_code if e.tiktok_code is not None else '-':<6} {when}"
            )
    if not args.json:
        print(f"{len(entries)} entries", file=sys.stderr)
    return 0


def _dlq_show(args: argparse.Namespace, rt: Any) -> int:
    entry = rt.dlq.get(args.entry_id)
    if entry is None:
        raise ConfigError(f"no dead-letter entry {args.entry_id!r}")
    out = {"id": args.entry_id, **entry.model_dump()}
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _dlq_replay(args: argparse.Namespace, rt: Any) -> int:
    from worker.jobs import replay

    if args.entry_ids:
        missing = [i for i in args.entry_ids if rt.dlq.get(i) is None]
        if missing:
            raise ConfigError(f"no dead-letter entry {missing[0]!r}")
        entries = [(i, rt.dlq.get(i)) for i in args.entry_ids]
    else:
        entries = rt.dlq.list(**_filters(args), limit=args.limit)
    result = replay(rt, entries)
    parts = [f"replayed {result['replayed']} entries"]
    if result.get("skipped"):
        parts.append(f"kept {result['skipped']} whose destination is not configured")
    if result.get("still_invalid"):
        parts.append(f"kept {result['still_invalid']} lines that are still not JSON")
    print("; ".join(parts))
    return 0


def _dlq_purge(args: argparse.Namespace, rt: Any) -> int:
    if not (args.all or args.destination or args.reason or args.since):
        raise ConfigError("purge needs a filter (--destination, --reason, --since) or --all")
    n = rt.dlq.purge(**_filters(args))
    print(f"purged {n} entries")
    return 0


def _dlq_stats(args: argparse.Namespace, rt: Any) -> int:
    stats = rt.dlq.stats()
    if args.json:
        sys.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"size: {stats.get('size', 0)}")
    for group in ("by_destination", "by_reason", "by_category"):
        items = stats.get(group) or {}
        if items:
            print(f"{group.replace('_', ' ')}:")
            for name, count in sorted(items.items()):
                print(f"  {name:<28} {count:>8}")
    return 0


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    actions: dict[str, Callable[[argparse.Namespace, Any], int]] = {
        "list": _dlq_list,
        "show": _dlq_show,
        "replay": _dlq_replay,
        "purge": _dlq_purge,
        "stats": _dlq_stats,
    }
    return actions[args.action](args, _runtime())


def _add_dlq(sub: Any) -> None:
    p = sub.add_parser("dlq", help="inspect, replay and purge the dead-letter queue")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in [
        ("list", "one line per dead-lettered event"),
        ("show", "one entry in full"),
        ("replay", "send entries through the normal path again"),
        ("purge", "delete entries"),
        ("stats", "counts by destination, reason, category"),
    ]:
        a = actions.add_parser(name, help=text)
        if name == "show":
            a.add_argument("entry_id")
            continue
        if name == "replay":
            a.add_argument(
                "entry_ids", nargs="*", help="entry ids (default: every entry matching the filters)"
            )
        a.add_argument("--destination", default=None)
        a.add_argument("--reason", default=None)
        a.add_argument("--since", type=parse_time, default=None, help="ISO-8601 or Unix seconds")
        a.add_argument("--limit", type=int, default=None)
        a.add_argument("--json", action="store_true")
        if name == "purge":
            a.add_argument("--all", action="store_true", help="purge everything")
    p.set_defaults(handler=cmd_dlq)


# -- pause / resume -----------------------------------------------------------------------


def cmd_pause(args: argparse.Namespace, settings: Settings) -> int:
    from worker.store.pause import pause

    settings.destination(args.destination)
    rt = _runtime()
    if pause(rt.redis, args.destination, "operator", args.reason, time.time()):
        print(
            f"{args.destination}: paused; events stay queued until 'masivo-tiktok resume {args.destination}'"
        )
    else:
        print(f"{args.destination}: already paused")
    return 0


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    from worker.store.pause import resume

    settings.destination(args.destination)
    rt = _runtime()
    was = resume(rt.redis, args.destination)
    rt.disarm_flush(args.destination)
    rt.arm_flush(args.destination)
    print(f"{args.destination}: {'resumed' if was else 'was not paused'}; flush armed")
    return 0


def _add_pause(sub: Any) -> None:
    p = sub.add_parser("pause", help="stop sending for a destination (events stay queued)")
    p.add_argument("destination")
    p.add_argument("--reason", default="paused by operator")
    p.set_defaults(handler=cmd_pause)
    r = sub.add_parser("resume", help="resume a paused destination")
    r.add_argument("destination")
    r.set_defaults(handler=cmd_resume)


# -- health / metrics ---------------------------------------------------------------------


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when this container's worker beat recently (and Redis answers, with --redis)."""
    from worker.heartbeat import check_health

    ok, reason = check_health(settings.data_dir, args.max_age)
    if ok and args.redis:
        try:
            _runtime().redis.ping()
        except Exception as exc:
            ok, reason = False, f"redis unreachable: {type(exc).__name__}"
    print(reason, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _add_health(sub: Any) -> None:
    p = sub.add_parser("health", help="exit 0 if this container's worker is alive (liveness probe)")
    p.add_argument("--max-age", type=float, default=60.0, help="seconds a heartbeat stays fresh")
    p.add_argument("--redis", action="store_true", help="also require Redis to answer")
    p.set_defaults(handler=cmd_health)


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    """Serve Prometheus metrics until interrupted."""
    import threading

    from prometheus_client import start_http_server

    from worker.metrics import registry_for

    server, thread = start_http_server(args.port, addr=args.host, registry=registry_for(_runtime))
    print(f"metrics on http://{args.host}:{args.port}/metrics", flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    return 0


def _add_metrics(sub: Any) -> None:
    p = sub.add_parser("metrics", help="serve Prometheus metrics (per destination, queues, DLQ)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9108)
    p.set_defaults(handler=cmd_metrics)


def _add_demo(sub: Any) -> None:
    from worker.demo import add_demo

    add_demo(sub)


REGISTRARS: list[Callable[[Any], None]] = [
    _add_demo,
    _add_enqueue,
    _add_status,
    _add_dlq,
    _add_pause,
    _add_health,
    _add_metrics,
]
