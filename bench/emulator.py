"""Throughput of the TikTok emulator vs. a trivial ASGI app on the same server stack.

Run: ``.venv/bin/python bench/emulator.py [--seconds 5] [--threads 3]``.

Each server runs in its own subprocess (so the client's GIL does not slow it down) on uvicorn
with the same settings the emulator uses; the client posts pre-serialised 1000-event batches
over keep-alive connections with httpx from a few threads. The baseline app reads the body and
answers a constant code-0 JSON, so ``emulator / baseline`` is the cost of parsing, validating
and recording. The emulator runs with the rate limit off.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack import free_port  # noqa: E402
from emulator import TRACK_PATH  # noqa: E402

HASH = "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f"
PIXEL = "D17TA5JC77UDOT6CA5FG"
OK = b'{"code":0,"message":"OK","request_id":"20240101000000AAAAAAAAAAAAAAAAAAAA","data":{}}'


async def baseline_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Trivial ASGI app: drain the body, answer a constant code 0."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": OK})


def serve_baseline(port: int) -> None:
    """Subprocess entry: serve the baseline app with the emulator's uvicorn settings."""
    import uvicorn

    uvicorn.run(
        baseline_app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http="h11",
        loop="asyncio",
        ws="none",
        proxy_headers=False,
        server_header=False,
        log_config=None,
    )


def make_event(index: int, now: int) -> dict[str, Any]:
    """A realistic web Purchase event (about 700 bytes)."""
    return {
        "event": "Purchase",
        "event_time": now,
        "event_id": f"order_{index}",
        "user": {
            "email": [HASH],
            "phone": [HASH],
            "external_id": [HASH],
            "ttclid": "E.C.P.exampleClickId",
            "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
            "locale": "en-US",
        },
        "page": {
            "url": "https://shop.example.com/thanks?x=1",
            "referrer": "https://shop.example.com/",
        },
        "properties": {
            "currency": "USD",
            "value": 59.98,
            "content_type": "product",
            "contents": [
                {"content_id": "SKU-1", "content_name": "Socks", "price": 29.99, "quantity": 2}
            ],
            "content_ids": ["SKU-1"],
            "num_items": 2,
            "order_id": str(index),
        },
        "limited_data_use": False,
    }


def make_bodies(count: int) -> list[bytes]:
    """``count`` distinct 1000-event batches (unique event ids)."""
    now = int(time.time())
    return [
        orjson.dumps(
            {
                "event_source": "web",
                "event_source_id": PIXEL,
                "data": [make_event(b * 1000 + i, now) for i in range(1000)],
            }
        )
        for b in range(count)
    ]


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not start")


def drive(url: str, bodies: list[bytes], seconds: float, threads: int) -> tuple[float, int]:
    """Post batches from ``threads`` clients for ``seconds``; return (events/s ok, failures)."""
    ok = [0] * threads
    bad = [0] * threads
    stop_at = time.monotonic() + seconds

    def worker(slot: int) -> None:
        headers = {"Access-Token": "bench", "Content-Type": "application/json"}
        with httpx.Client(timeout=30) as client:
            i = slot
            while time.monotonic() < stop_at:
                response = client.post(url, content=bodies[i % len(bodies)], headers=headers)
                if response.status_code == 200 and response.json()["code"] == 0:
                    ok[slot] += 1000
                else:
                    bad[slot] += 1
                i += threads

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(ok) / (time.monotonic() - started), sum(bad)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, bodies: list[bytes], seconds: float, threads: int) -> tuple[float, float]:
    """(events/s accepted, events per second of server CPU) for one server kind."""
    port = free_port()
    if kind == "emulator":  # exactly what `masivo-tiktok emulator` runs
        command = ["-m", "emulator", "--rate-limit", "0", "--port", str(port)]
    else:
        command = [__file__, "--serve", kind, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *command],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}{TRACK_PATH}"
        wait_ready(url)
        drive(url, bodies[:4], 0.5, threads)  # warm-up
        cpu_before, started = cpu_seconds(proc.pid), time.monotonic()
        rate, failures = drive(url, bodies, seconds, threads)
        cpu = cpu_seconds(proc.pid) - cpu_before
        if failures:
            raise RuntimeError(f"{kind}: {failures} requests failed")
        events = rate * (time.monotonic() - started)
        return rate, events / cpu if cpu else float("nan")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--batches", type=int, default=60, help="distinct bodies to cycle")
    parser.add_argument("--serve", choices=["baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.serve:
        serve_baseline(args.port)
        return
    bodies = make_bodies(args.batches)
    print(f"body size: {len(bodies[0]) / 1024:.0f} KiB per 1000-event batch", flush=True)
    print(f"{os.cpu_count()} CPUs; client threads: {args.threads}", flush=True)
    per_cpu = "events per second of server CPU"
    base, base_cpu = measure("baseline", bodies, args.seconds, args.threads)
    print(f"baseline (constant ASGI app): {base:>9,.0f} events/s  ({base_cpu:,.0f} {per_cpu})")
    emu, emu_cpu = measure("emulator", bodies, args.seconds, args.threads)
    print(f"emulator (validate + record): {emu:>9,.0f} events/s  ({emu_cpu:,.0f} {per_cpu})")
    print(f"ratio emulator/baseline: {emu / base:.3f} (per CPU-s: {emu_cpu / base_cpu:.3f})")


if __name__ == "__main__":
    main()
