"""``masivo-tiktok demo``: the whole product on one machine, with nothing configured.

Starts an embedded Redis (its own data folder, so a local queue is never touched), the TikTok
emulator, a Celery worker and beat; enqueues the packaged sample for three brands (one with a
wrong token); shows live progress; prints a summary and exits 0 when every event has reached
its end: delivered, dropped, rejected, dead-lettered, or waiting behind the paused brand.

With ``TIKTOK_PIXEL_CODE``, ``TIKTOK_ACCESS_TOKEN`` and ``TIKTOK_TEST_EVENT_CODE`` set, the
same command sends the sample to the real TikTok, into the pixel's Test Events view.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click

import devstack
from cli._common import settings as load_settings
from cli._group import Command
from cli.quality import quality_text
from cli.status import status
from devstack.credentials import (
    PIXEL_A,
    PIXEL_B,
    PIXEL_BAD,
    TEST_EVENT_CODE,
    TOKEN_A,
    TOKEN_B,
    TOKEN_BAD,
    destination,
    emulator_credentials,
)
from worker.errors import ConfigError
from worker.settings import DEFAULT_DESTINATION, Settings

__all__ = ["demo", "run_demo"]


def _real_mode(settings: Settings) -> bool:
    if not (settings.tiktok_pixel_code and settings.tiktok_access_token):
        return False
    if not settings.tiktok_test_event_code:
        raise ConfigError(
            "demo with real credentials needs TIKTOK_TEST_EVENT_CODE, so the sample lands in "
            "the pixel's Test Events view and not in production"
        )
    return True


#: what the demo's processes do differently from a deployment: quicker beats, shorter linger
DEMO_ENV = {
    "MASIVO_TIKTOK_LINGER": "0.2",
    "MASIVO_TIKTOK_RECOVER": "2",
    "MASIVO_TIKTOK_AUTH_PROBE": "5",
}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _stack(settings: Settings, data_dir: Path, real: bool) -> tuple[devstack.Stack, Any]:
    """The demo's stack: its own embedded Redis (or REDIS_URL), the emulator and the three
    brands of :mod:`devstack.credentials` (or, for real, the default destination only)."""
    env = dict(DEMO_ENV)
    if settings.sentry_dsn is not None:
        env["SENTRY_DSN"] = settings.sentry_dsn.get_secret_value()
    emulator = None
    if real:
        env.update(
            TIKTOK_PIXEL_CODE=settings.tiktok_pixel_code or "",
            TIKTOK_ACCESS_TOKEN=_secret(settings.tiktok_access_token) or "",
            TIKTOK_TEST_EVENT_CODE=settings.tiktok_test_event_code or "",
        )
        destinations: list[dict[str, Any]] = []
    else:
        from emulator import EmulatorConfig, EmulatorServer

        emulator = EmulatorServer(
            EmulatorConfig(credentials=emulator_credentials(), rate_limit=1000, max_future_s=60)
        )
        emulator.start()
        mx = {"default_currency": "MXN", "phone_region": "MX"}
        destinations = [
            destination("brand-a", PIXEL_A, TOKEN_A, **mx),
            destination("brand-b", PIXEL_B, TOKEN_B, test_event_code=TEST_EVENT_CODE, **mx),
            destination("brand-bad", PIXEL_BAD, TOKEN_BAD, **mx),
        ]
    stack = devstack.Stack(
        data_dir,
        redis_url=settings.redis_url,
        embedded_redis=settings.redis_url is None,
        api_base_url=emulator.url if emulator is not None else None,
        destinations=destinations,
        env=env,
    )
    return stack, emulator


def _settings_for(settings: Settings, stack: devstack.Stack, real: bool) -> Settings:
    """The settings this process enqueues and watches with: the stack's, handed over."""
    return Settings(
        redis_url=stack.redis_url,
        destinations_file=stack.destinations_file,
        data_dir=stack.data_dir,
        api_base_url=stack.env.get("TIKTOK_API_BASE_URL", settings.api_base_url),
        tiktok_pixel_code=settings.tiktok_pixel_code if real else None,
        tiktok_access_token=_secret(settings.tiktok_access_token) if real else None,
        tiktok_test_event_code=settings.tiktok_test_event_code if real else None,
    )


def run_demo(
    settings: Settings, *, events: int = 2000, timeout: float = 300.0, keep_running: bool = False
) -> int:
    """Start the stack, enqueue ``events`` sample events, watch them to their end; exit code."""
    from worker import celery_app

    real = _real_mode(settings)
    data_dir = (settings.data_dir / "demo").resolve()
    stack, emulator = _stack(settings, data_dir, real)
    try:
        stack.start()
        if settings.redis_url is None:
            stack.flushall()  # the demo's own Redis: start from zero
        stack.start_worker(concurrency=2, loglevel="WARNING", name="worker")
        stack.start_beat(loglevel="WARNING")
        demo_settings = _settings_for(settings, stack, real)
        celery_app.use_settings(demo_settings)
        counts, started = _enqueue(demo_settings, events, real)
        code = _watch(counts, started, real, timeout)
        if keep_running:
            _keep_running(stack, emulator)
        return code
    finally:
        stack.stop()
        if emulator is not None:
            emulator.stop()


def _enqueue(settings: Settings, total: int, real: bool) -> tuple[dict[str, int], float]:
    from cli.demo_data import sample_events
    from worker.producer import enqueue

    by_dest: dict[str, list[Any]] = defaultdict(list)
    for dest, event in sample_events(time.time(), total):
        if real:
            if dest == "brand-bad":
                continue
            dest = DEFAULT_DESTINATION
        by_dest[dest].append(event)
    started = time.time()
    counts = {
        d: enqueue(events, d, chunk_size=200, settings=settings) for d, events in by_dest.items()
    }
    print(f"enqueued {sum(counts.values()):,} events for {', '.join(sorted(counts))}")
    return counts, started


def _done(report: dict[str, Any], counts: dict[str, int]) -> bool:
    for dest, n in counts.items():
        data = report.get(dest)
        if data is None or data["counters"].get("received", 0) < n:
            return False
        state = data["state"]
        if state["paused"]:
            continue
        if state["outbox"] or state["in_flight"] or state["scheduled_retries"]:
            return False
    return True


def _progress_line(report: dict[str, Any], elapsed: float) -> str:
    total: Counter[str] = Counter()
    for data in report.values():
        for name, value in data["counters"].items():
            head, _, reason = name.partition(":")
            plain = head in ("received", "delivered") and not reason
            by_reason = head in ("dropped", "rejected", "dead_lettered") and reason
            if plain or by_reason:
                total[head] += int(value)
        total["waiting"] += data["state"]["outbox"]
    return (
        f"[{elapsed:5.1f}s] received {total['received']:,}  delivered {total['delivered']:,}  "
        f"dropped {total['dropped']:,}  rejected {total['rejected']:,}  "
        f"dead-lettered {total['dead_lettered']:,}  waiting {total['waiting']:,}"
    )


def _watch(counts: dict[str, int], started: float, real: bool, timeout: float) -> int:
    from worker.celery_app import get_runtime

    rt = get_runtime()
    tty = sys.stdout.isatty()
    last_print = 0.0
    report = status(rt, list(counts))
    while time.time() - started < timeout:
        report = status(rt, list(counts))
        now = time.time()
        if tty or now - last_print >= 2:
            print(
                ("\r" if tty else "") + _progress_line(report, now - started),
                end="" if tty else "\n",
                flush=True,
            )
            last_print = now
        if _done(report, counts):
            break
        time.sleep(0.25)
    else:
        print(
            f"\ndemo: not finished after {timeout:.0f}s; see {rt.settings.data_dir}/worker.log",
            file=sys.stderr,
        )
        _summary(report, started)
        return 1
    if tty:
        print()
    _summary(report, started)
    return 0


def _summary(report: dict[str, Any], started: float) -> None:
    delivered: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    total_delivered = 0
    for data in report.values():
        for name, value in data["counters"].items():
            kind, _, reason = name.partition(":")
            if kind == "delivered" and reason:
                delivered[reason] += int(value)
            elif kind == "delivered":
                total_delivered += int(value)
            elif kind in ("dropped", "rejected", "dead_lettered") and reason:
                outcomes[(kind, reason)] += int(value)
    elapsed = max(1e-6, time.time() - started)
    print("\nDelivered to TikTok, by event name")
    for name, n in sorted(delivered.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {name:<28} {n:>8,}")
    print(f"  {'total':<28} {total_delivered:>8,}")
    print("\nNot delivered, by outcome and reason")
    for (kind, reason), n in sorted(outcomes.items()):
        print(f"  {kind:<14} {reason:<24} {n:>8,}")
    print("\nDestinations")
    for dest, data in report.items():
        paused = data["state"]["paused"]
        note = (
            f"PAUSED ({paused['kind']}: {paused['reason']}); {data['state']['scheduled_retries']} batches kept"
            if paused
            else "ok"
        )
        print(
            f"  {dest:<14} delivered {int(data['counters'].get('delivered', 0)):>8,}  dlq {data['state']['dlq']:>5}  {note}"
        )
    print(
        f"\nachieved rate: {total_delivered / elapsed:,.0f} events/s over {elapsed:.1f}s "
        "(from the first enqueue, worker start-up included)"
    )
    print("\nMatch quality of the sample (masivo-tiktok quality)")
    print(quality_text({dest: data.get("quality", {}) for dest, data in report.items()}))


def _keep_running(stack: devstack.Stack, emulator: Any) -> None:
    prefix = (
        f"REDIS_URL={stack.redis_url} "
        f"MASIVO_TIKTOK_DESTINATIONS={stack.env.get('MASIVO_TIKTOK_DESTINATIONS', '')}"
    )
    print("\nThe stack is still running. In another terminal:")
    print(f"  {prefix} masivo-tiktok status")
    print(f"  {prefix} masivo-tiktok quality")
    print(f"  {prefix} masivo-tiktok dlq list")
    print(f"  {prefix} celery -A worker flower --port=5555   # then open http://127.0.0.1:5555")
    if emulator is not None:
        print(f"  curl {emulator.url}/_emulator/summary")
    print("Press Ctrl-C to stop.")
    try:
        while all(p.poll() is None for p in stack.procs):
            time.sleep(1)
    except KeyboardInterrupt:
        print()


@click.command(cls=Command)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=2000,
    metavar="N",
    show_default=True,
    help="Size of the sample.",
)
@click.option(
    "--keep-running", is_flag=True, show_default=True, help="Leave the stack up afterwards."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 1) after this many seconds.",
)
def demo(events: int, keep_running: bool, timeout: float) -> int:
    """Run the whole pipeline locally on a realistic sample.

    Starts an embedded Redis, the TikTok emulator, a worker and beat; enqueues the sample for
    three brands (one with a wrong token); exits 0 when every event has reached its end. With
    TIKTOK_PIXEL_CODE, TIKTOK_ACCESS_TOKEN and TIKTOK_TEST_EVENT_CODE set, sends the sample to
    the real TikTok's Test Events view instead.
    """
    return run_demo(load_settings(), events=events, timeout=timeout, keep_running=keep_running)
