"""The Celery tasks are doorbells: Redis trouble never loses what a message carried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from celery.exceptions import Reject

import tasks.delivery
from devstack import RedisProcess
from worker import celery_app
from worker.runtime import Runtime
from worker.settings import Settings
from worker.tiktok import TikTokClient


def _runtime_on(url: str, tmp_path: Path) -> Runtime:
    settings = Settings(redis_url=url, data_dir=tmp_path / "data")
    return Runtime(
        settings=settings,
        redis=redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1),
        client=TikTokClient("http://127.0.0.1:9", timeout_s=1),
        schedule_flush=lambda d, c: None,
    )


def test_a_legacy_message_is_requeued_not_acknowledged_when_redis_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisProcess(tmp_path / "redis").start()
    url = server.url
    server.stop()  # Redis is gone
    rt = _runtime_on(url, tmp_path)
    monkeypatch.setattr(tasks.delivery, "get_runtime", lambda: rt)
    # the Celery app configures itself on first use: from these settings, never the embedded
    # default in the working directory (which would start a Redis daemon there)
    monkeypatch.setattr(celery_app, "_settings", rt.settings)
    with pytest.raises(Reject) as rejected:
        tasks.delivery.ingest.run("brand-a", events=[{"id": "e1", "type": "search"}])
    assert rejected.value.requeue
    # a doorbell (no events) carries nothing to lose: it is logged and left to beat
    answer: dict[str, Any] = tasks.delivery.ingest.run("brand-a")
    assert answer == {"destination": "brand-a", "action": "redis_unavailable"}
    assert tasks.delivery.flush.run("brand-a")["action"] == "redis_unavailable"
