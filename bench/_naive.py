"""The naive baseline: one Celery task per event, one HTTP POST per event.

What a first Celery integration looks like: the producer sends one message per raw event;
the task transforms it with :func:`transforms.transform` and POSTs it alone to TikTok with a
long-lived ``httpx.Client`` per worker process (keep-alive, so this is not a strawman). No
outbox, no batching, no shared rate limit. Celery defaults otherwise (JSON, prefetch 4).

Worker: ``celery -A bench._naive worker -Q naive`` with ``REDIS_URL`` and
``TIKTOK_API_BASE_URL`` set. Producer: :func:`enqueue`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import httpx
import orjson
from celery import Celery

from devstack.credentials import PIXEL_NAIVE as PIXEL
from devstack.credentials import TOKEN_NAIVE as TOKEN
from transforms import TransformOptions, transform
from transforms.outcome import Send

TRACK_PATH = "/open_api/v1.3/event/track/"

app = Celery("naive_baseline", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_default_queue="naive",
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)

_client: httpx.Client | None = None
_pid = 0


def _http() -> httpx.Client:
    global _client, _pid
    if _client is None or _pid != os.getpid():
        _client = httpx.Client(base_url=os.environ["TIKTOK_API_BASE_URL"], timeout=10)
        _pid = os.getpid()
    return _client


@app.task(name="naive.send", ignore_result=True)
def send(event: dict[str, Any]) -> int:
    outcome = transform(event, TransformOptions(destination_id="naive"), time.time())
    if not isinstance(outcome, Send):
        return 0
    body = {"event_source": "web", "event_source_id": PIXEL, "data": list(outcome.events)}
    response = _http().post(
        TRACK_PATH,
        content=orjson.dumps(body),
        headers={"Access-Token": TOKEN, "Content-Type": "application/json"},
    )
    if response.status_code != 200 or orjson.loads(response.content).get("code") != 0:
        raise RuntimeError(f"TikTok refused: HTTP {response.status_code}")
    return len(outcome.events)


def enqueue(events: Iterable[dict[str, Any]]) -> int:
    """One message per event."""
    total = 0
    with app.producer_or_acquire() as producer:
        for event in events:
            send.apply_async(args=[event], producer=producer)
            total += 1
    return total
