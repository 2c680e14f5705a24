"""``masivo-tiktok demo``: the whole product on one machine, with nothing configured.

Starts an embedded Redis (its own data folder, so a local queue is never touched), the TikTok
emulator, a Celery worker and beat; enqueues the packaged sample for three brands (one with a
wrong token); shows live progress; prints a summary and exits 0 when every event has reached
its end: delivered, dropped, rejected, dead-lettered, or waiting behind the paused brand.

With ``TIKTOK_PIXEL_CODE``, ``TIKTOK_ACCESS_TOKEN`` and ``TIKTOK_TEST_EVENT_CODE`` set, the
same command sends the sample to the real TikTok, into the pixel's Test Events view.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click
import yaml

from cli._common import settings as load_settings
from cli._group import Command
from cli.quality import quality_text
from cli.status import status
from worker.errors import ConfigError
from worker.settings import DEFAULT_DESTINATION, Settings

__all__ = ["demo", "run_demo"]

DEMO_PIXELS = {
    "brand-a": "C9DEMOAAAAAAAAAAAAAA",
    "brand-b": "C9DEMOBBBBBBBBBBBBBB",
    "brand-bad": "C9DEMOCCCCCCCCCCCCCC",
}


class Stack:
    """The processes the demo starts, stopped in reverse order."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.emulator: Any = None
        self.embedded = False

    def spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        log = (self.data_dir / f"{name}.log").open("wb")
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.emulator is not None:
            self.emulator.stop()
        if self.embedded:
            from worker.embedded import stop_embedded

            stop_embedded(self.data_dir / "redis")


def _real_mode(settings: Settings) -> bool:
    if not (settings.tiktok_pixel_code and settings.tiktok_access_token):
        return False
    if not settings.tiktok_test_event_code:
        raise ConfigError(
            "demo with real credentials needs TIKTOK_TEST_EVENT_CODE, so the sample lands in "
            "the pixel's Test Events view and not in production"
        )
    return True


def _start(settings: Settings, stack: Stack, real: bool) -> dict[str, str]:
    """Redis, emulator, destinations and the environment every process shares."""
    from worker.embedded import ensure_embedded

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASIVO_TIKTOK_", "REDIS_URL"))}
    if settings.redis_url:
        url = settings.redis_url
    else:
        url = ensure_embedded(stack.data_dir / "redis")
        stack.embedded = True
        import redis

        redis.Redis.from_url(url).flushall()  # the demo's own Redis: start from zero
    env.update(
        REDIS_URL=url,
        MASIVO_TIKTOK_DATA_DIR=str(stack.data_dir),
        MASIVO_TIKTOK_LINGER="0.2",
        MASIVO_TIKTOK_RECOVER="2",
        MASIVO_TIKTOK_AUTH_PROBE="5",
        PYTHONUNBUFFERED="1",
    )
    if real:
        return env
    from emulator import EmulatorConfig, EmulatorServer

    tokens = {b: f"demo-{b}-{secrets.token_hex(8)}" for b in DEMO_PIXELS}
    creds = {tokens[b]: frozenset({DEMO_PIXELS[b]}) for b in ("brand-a", "brand-b")}
    stack.emulator = EmulatorServer(
        EmulatorConfig(credentials=creds, rate_limit=1000, max_future_s=60)
    )
    stack.emulator.start()
    dests = [
        {
            "id": b,
            "pixel_code": DEMO_PIXELS[b],
            "access_token": tokens[b],
            "default_currency": "MXN",
            "phone_region": "MX",
            **({"test_event_code": "TEST12345"} if b == "brand-b" else {}),
        }
        for b in DEMO_PIXELS
    ]
    dfile = stack.data_dir / "destinations.yaml"
    dfile.write_text(yaml.safe_dump({"destinations": dests}))
    dfile.chmod(0o600)
    for k in ("TIKTOK_PIXEL_CODE", "TIKTOK_ACCESS_TOKEN", "TIKTOK_TEST_EVENT_CODE"):
        env.pop(k, None)
    env.update(TIKTOK_API_BASE_URL=stack.emulator.url, MASIVO_TIKTOK_DESTINATIONS=str(dfile))
    return env


def run_demo(
    settings: Settings, *, events: int = 2000, timeout: float = 300.0, keep_running: bool = False
) -> int:
    """Start the stack, enqueue ``events`` sample events, watch them to their end; exit code."""
    real = _real_mode(settings)
    data_dir = (settings.data_dir / "demo").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir)
    try:
        env = _start(settings, stack, real)
        celery = [sys.executable, "-m", "celery", "-A", "worker"]
        stack.spawn(
            "worker", [*celery, "worker", "-c", "2", "--loglevel=WARNING", "-n", "demo@%h"], env
        )
        stack.spawn(
            "beat",
            [*celery, "beat", "--loglevel=WARNING", "-s", str(data_dir / "beat-schedule")],
            env,
        )
        os.environ.update(env)  # this process enqueues and reads status through the same settings
        from worker import celery_app

        celery_app._settings = None
        counts, started = _enqueue(events, real)
        code = _watch(counts, started, real, timeout)
        if keep_running:
            _keep_running(env, stack)
        return code
    finally:
        stack.stop()


def _enqueue(total: int, real: bool) -> tuple[dict[str, int], float]:
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
    counts = {d: enqueue(events, d, chunk_size=200) for d, events in by_dest.items()}
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


def _keep_running(env: dict[str, str], stack: Stack) -> None:
    prefix = f"REDIS_URL={env['REDIS_URL']} MASIVO_TIKTOK_DESTINATIONS={env.get('MASIVO_TIKTOK_DESTINATIONS', '')}"
    print("\nThe stack is still running. In another terminal:")
    print(f"  {prefix} masivo-tiktok status")
    print(f"  {prefix} masivo-tiktok quality")
    print(f"  {prefix} masivo-tiktok dlq list")
    print(f"  {prefix} celery -A worker flower --port=5555   # then open http://127.0.0.1:5555")
    if stack.emulator is not None:
        print(f"  curl {stack.emulator.url}/_emulator/summary")
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
