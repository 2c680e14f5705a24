"""``masivo-tiktok emulator``: flags, serve until SIGINT/SIGTERM, then print a summary.

The lead's dispatcher (``worker/cli.py``) calls ``add_arguments`` on its sub-parser and
``run(args, credentials)`` with token -> pixel codes built from the worker settings.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any, TextIO

from emulator.config import DEFAULT_MAX_AGE_S, EmulatorConfig
from emulator.durations import parse_duration
from emulator.faults import FaultSpec, parse_faults
from emulator.server import EmulatorServer

__all__ = ["add_arguments", "format_summary", "run"]


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _faults(text: str) -> FaultSpec:
    try:
        return parse_faults(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"not a rate in events/s (>= 0): {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's flags to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (0 = any free port)")
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        default=1000.0,
        metavar="EVENTS_PER_S",
        help="per-pixel events accepted in any sliding 1 s window; 0 = unlimited",
    )
    parser.add_argument(
        "--max-age",
        type=_duration,
        default=float(DEFAULT_MAX_AGE_S),
        metavar="DURATION",
        help="refuse events older than this (e.g. 7d, 2h, 3600s; 0 = never)",
    )
    parser.add_argument(
        "--max-future",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="refuse events further in the future than this (default 10m; 0 = never)",
    )
    parser.add_argument(
        "--faults",
        type=_faults,
        default=FaultSpec(),
        metavar="SPEC",
        help="e.g. 500=0.1,502=0.01,503=0.05,40100=0.1,latency=50ms,hang=0.01:30s,"
        "reset=0.02,outage=10s@5s",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and request ids")


def run(
    args: argparse.Namespace,
    credentials: Mapping[str, frozenset[str]] | None,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set), print the summary, return 0.

    ``stop``/``out`` are hooks for tests. Signal handlers are installed only on the main thread
    and restored afterwards.
    """
    out = out or sys.stdout
    config = EmulatorConfig(
        credentials=credentials or None,
        rate_limit=args.rate_limit,
        max_age_s=args.max_age,
        max_future_s=args.max_future,
        faults=args.faults,
        seed=args.seed,
        host=args.host,
        port=args.port,
    )
    stop = stop or threading.Event()
    server = EmulatorServer(config)
    try:
        url = server.start()
    except OSError as exc:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    gc_threshold = _tune_gc()
    print(f"TikTok Events API emulator listening on {server.track_url}", file=out, flush=True)
    previous = _install_handlers(stop)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        _restore_handlers(previous)
        server.stop()
        gc.unfreeze()
        gc.set_threshold(*gc_threshold)
    print(format_summary(server.summary(), url), file=out, flush=True)
    return 0


_Handler = Any  # whatever signal.getsignal returned


def _tune_gc() -> tuple[int, ...]:
    """Make the cyclic GC rare in this (dedicated) emulator process.

    A 1,000-event request parses into ~15k containers that stay referenced while they are
    validated; with the default gen-0 threshold (700) the collector runs ~20 times per request
    and promotes the whole tree to older generations, costing 20-30% of the CPU. The emulator
    creates no reference cycles on its hot path, so a high threshold loses nothing. Not done
    by ``EmulatorServer`` itself: that also runs inside test processes. Returns the previous
    thresholds so ``run`` can restore them.
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    return previous


def _install_handlers(stop: threading.Event) -> dict[int, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, _Handler] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)
    return previous


def _restore_handlers(previous: dict[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def format_summary(summary: Mapping[str, Any], url: str = "") -> str:
    """Plain-text rendering of ``/_emulator/summary`` for the terminal."""
    accepted = summary["accepted"]
    lines = [
        f"TikTok emulator summary{' (' + url + ')' if url else ''}",
        f"  requests: {summary['requests']} (accepted: {summary['accepted_requests']})",
        f"  events accepted: {accepted['events']} "
        f"(unique {accepted['unique']}, duplicates {accepted['duplicates']})",
    ]
    for pixel, tally in summary["by_pixel"].items():
        lines.append(f"    pixel {pixel}: {tally['unique']} unique, {tally['duplicates']} dup")
        lines += [f"      {name}: {n}" for name, n in sorted(tally["by_event"].items())]
    refused = summary["refused"]
    by_code = " ".join(f"{code}={n}" for code, n in refused["by_code"].items()) or "none"
    lines.append(f"  refused requests: {refused['requests']} ({by_code})")
    for code, tally in summary["test_events"].items():
        lines.append(f"  test events {code}: {tally['unique']} unique, {tally['duplicates']} dup")
    faults = " ".join(f"{kind}={n}" for kind, n in sorted(summary["faults"].items())) or "none"
    lines.append(f"  faults injected: {faults}")
    return "\n".join(lines)
