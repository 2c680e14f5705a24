"""The Celery application: ``celery -A worker worker`` and ``celery -A worker beat``.

Configuration is applied lazily (``on_configure``), so importing this module opens no
connection and starts nothing; the embedded Redis starts only when the app is first used
without ``REDIS_URL``.

At-least-once settings, and why:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after its task
  ran; a worker killed mid-task leaves it to be redelivered;
* ``visibility_timeout`` 15 min: every countdown we use is at most 30 s (long waits live in the
  Redis retry schedule), far below it, so Redis never redelivers a message still waiting;
* ``worker_prefetch_multiplier`` 1: ingest messages are chunks of hundreds of events and flushes
  are short; prefetching more would only let one process hoard work. Deployments that want
  different concurrency per queue run separate workers with ``-Q ingest`` / ``-Q deliver``;
* separate queues: ``ingest`` (chunks from producers), ``deliver`` (flushes, auth probes) and
  ``maintenance`` (beat's jobs), so a flood of ingestion never delays delivery.
"""

from __future__ import annotations

import gc
import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery, signals
from kombu import Exchange, Queue

from worker.beat import Scheduler
from worker.broker import TRANSPORT, install_log_redaction
from worker.serialization import use_orjson_for_json
from worker.settings import Settings, load_settings
from worker.store.connection import connect

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = [
    "QUEUES",
    "TASK_LIMITS",
    "TASK_NAMES",
    "app",
    "broker_url",
    "celery_config",
    "get_runtime",
    "get_settings",
    "redis_url",
    "ring_ingest",
    "use_settings",
]

log = logging.getLogger(__name__)

QUEUES = ("ingest", "deliver", "maintenance")
TASK_NAMES = {
    "ingest": "tiktok.ingest",
    "flush": "tiktok.flush",
    "recover": "tiktok.recover",
    "expire": "tiktok.expire",
    "replay_dlq": "tiktok.replay_dlq",
    "probe_auth": "tiktok.probe_auth",
}
ROUTES = {
    TASK_NAMES["ingest"]: {"queue": "ingest"},
    TASK_NAMES["flush"]: {"queue": "deliver"},
    TASK_NAMES["probe_auth"]: {"queue": "deliver"},
    TASK_NAMES["recover"]: {"queue": "maintenance"},
    TASK_NAMES["expire"]: {"queue": "maintenance"},
    TASK_NAMES["replay_dlq"]: {"queue": "maintenance"},
}

#: soft / hard time limits (s) per task. A hard limit stays below the lease (60 s) of what
#: the task holds, so a hung task is killed before another worker takes its work over.
TASK_LIMITS: dict[str, dict[str, int]] = {
    "ingest": {"soft_time_limit": 30, "time_limit": 45},
    "flush": {"soft_time_limit": 30, "time_limit": 45},
    "probe_auth": {"soft_time_limit": 30, "time_limit": 45},
    "recover": {"soft_time_limit": 120, "time_limit": 150},
    "expire": {"soft_time_limit": 240, "time_limit": 280},
    "replay_dlq": {"soft_time_limit": 240, "time_limit": 280},
}

_settings: Settings | None = None
_runtime: Runtime | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def use_settings(settings: Settings) -> None:
    """Hand this process its settings (the demo, embedders) instead of the environment's:
    the Celery app, the producer's doorbell and the runtime all follow them."""
    global _settings, _runtime
    _settings = settings
    _runtime = None
    if app.configured:
        app.conf.update(celery_config(settings))


def redis_url(settings: Settings) -> str:
    """``REDIS_URL``, or the embedded Redis in ``data_dir`` (started on first use)."""
    if settings.redis_url:
        return settings.redis_url
    from worker.embedded import ensure_embedded

    return ensure_embedded(settings.data_dir)


def broker_url(settings: Settings) -> str:
    """``CELERY_BROKER_URL``, else ``REDIS_URL`` (or the embedded Redis), as kombu spells it.

    The broker carries doorbells only (the events live in the data Redis), so it can be one
    small Redis or RabbitMQ while the data lives on a Redis Cluster; settings refuse a
    cluster URL here, and a cluster ``REDIS_URL`` without ``CELERY_BROKER_URL``.
    """
    from worker.embedded import kombu_url

    return kombu_url(settings.celery_broker_url or redis_url(settings))


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("amqp", "amqps", "pyamqp")


def celery_config(settings: Settings) -> dict[str, Any]:
    url = broker_url(settings)
    # a Redis broker: the hardened kombu Redis transport (garbage, a Redis restart or a full
    # Redis never kill the worker, worker/broker.py); RabbitMQ: kombu's own amqp transport
    transport = {} if is_amqp(url) else {"broker_transport": TRANSPORT}
    return {
        "broker_url": url,
        **transport,
        # reconnect forever, backing off
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {"visibility_timeout": 900},
        "broker_connection_retry_on_startup": True,
        # each queue its own direct exchange and routing key: a message published to one
        # binding lands in exactly one queue
        "task_queues": [Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        "task_default_queue": "ingest",
        "task_routes": ROUTES,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "worker_send_task_events": True,
        # no "task-sent" events: Flower would keep a series per producer process
        "task_send_sent_event": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
        # a job refused for memory (Redis past maxmemory) drains inline: worker/beat.py
        "beat_scheduler": "worker.celery_app:BeatScheduler",
        "timezone": "UTC",
    }


def beat_schedule(settings: Settings) -> dict[str, Any]:
    return {
        "recover-leases": {
            "task": TASK_NAMES["recover"],
            "schedule": timedelta(seconds=settings.recover_s),
        },
        "expire-too-old": {
            "task": TASK_NAMES["expire"],
            "schedule": timedelta(seconds=settings.expire_s),
        },
        "replay-dead-letters": {
            "task": TASK_NAMES["replay_dlq"],
            "schedule": timedelta(seconds=settings.dlq_replay_s),
        },
        "probe-paused-destinations": {
            "task": TASK_NAMES["probe_auth"],
            "schedule": timedelta(seconds=settings.auth_probe_s),
        },
    }


use_orjson_for_json()

app = Celery("masivo_tiktok", include=["tasks"])


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    settings = get_settings()
    sender.conf.update(celery_config(settings))
    from worker.observability import init_sentry, scrubber_for, setup_logging

    setup_logging(scrub=scrubber_for(settings))
    _drop_tornado_log_handler()
    init_sentry(settings)


def _drop_tornado_log_handler() -> None:
    """Flower parses its options with tornado before the app is configured, and tornado then
    gives the root logger a text handler of its own; with ours beside it every line came out
    twice, once not JSON. Ours (installed just before) is the only one to stay."""
    import sys

    tornado_log = sys.modules.get("tornado.log")
    if tornado_log is None:
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, tornado_log.LogFormatter):
            root.removeHandler(handler)


def ring_ingest(destination: str) -> None:
    """Ring the ingest doorbell; a failed publish is harmless (beat rings again)."""
    try:
        app.send_task(
            TASK_NAMES["ingest"],
            args=[destination],
            queue="ingest",
            routing_key="ingest",
            argsrepr=f"({destination!r})",
        )
    except Exception as exc:  # the broker is Redis: down or full; the intake holds the events
        log.warning(
            "ingest doorbell not sent (%s); beat rings again",
            type(exc).__name__,
            extra={"destination": destination},
        )


def _schedule_flush(destination: str, countdown: float) -> None:
    """Ask for a flush; a failed publish is harmless (beat's recovery re-arms)."""
    try:
        app.send_task(
            TASK_NAMES["flush"],
            args=[destination],
            countdown=countdown if countdown > 0 else None,
            queue="deliver",
            routing_key="deliver",
            argsrepr=f"({destination!r})",
        )
    except Exception as exc:  # the broker is Redis: down or full; the outbox holds the events
        log.warning(
            "flush not scheduled (%s); beat re-arms",
            type(exc).__name__,
            extra={"destination": destination},
        )


def get_runtime() -> Runtime:
    """The process's :class:`~worker.runtime.Runtime` (built after fork, on first use)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        from worker.runtime import Runtime
        from worker.tiktok import TikTokClient

        settings = get_settings()
        rt = Runtime(
            settings=settings,
            redis=connect(redis_url(settings)),
            client=TikTokClient(
                settings.api_base_url,
                timeout_s=settings.http_timeout_s,
                partner_name=settings.partner_name,
            ),
            schedule_flush=_schedule_flush,
            schedule_ingest=ring_ingest,
        )
        _runtime = rt
    return _runtime


class BeatScheduler(Scheduler):
    """Beat's scheduler with this process's runtime, to drain inline with (worker/beat.py)."""

    def runtime(self) -> Runtime:
        return get_runtime()


_heartbeat_redis: Any = None


def _beat_heartbeat(hostname: str | None = None) -> None:
    """Write the heartbeat; one Redis client for the process (it reconnects by itself)."""
    global _heartbeat_redis
    from worker.heartbeat import write_heartbeat

    settings = get_settings()
    if _heartbeat_redis is None:
        try:
            _heartbeat_redis = connect(redis_url(settings), socket_timeout=2)
        except Exception:  # a heartbeat must never take the worker down; the file still works
            _heartbeat_redis = None
    write_heartbeat(settings.data_dir, _heartbeat_redis, hostname)


def _calm_gc() -> None:
    """An ingest chunk allocates tens of thousands of short-lived dicts, which trips the
    cyclic collector's generation-0 threshold (700) dozens of times per chunk, each pass also
    walking Celery's long-lived object graph. Freezing what exists now and raising the
    threshold cuts that to a few passes; nothing we allocate per event forms cycles.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


_worker_hostname: str | None = None


@signals.worker_init.connect
def _calm_gc_in_the_consumer(**_: Any) -> None:
    """The consumer process decodes every message: same collector tuning as the children.
    Only a worker consumes messages, so only a worker needs Celery's bad-message records
    redacted (importing Celery's consumer from a producer's configuration recursed)."""
    _calm_gc()
    install_log_redaction()


@signals.worker_ready.connect
def _on_ready(sender: Any = None, **_: Any) -> None:
    global _worker_hostname
    _worker_hostname = getattr(sender, "hostname", None)
    _beat_heartbeat(_worker_hostname)
    _warn_if_not_durable()


def _warn_if_not_durable() -> None:
    """One warning per data server whose persistence can lose acknowledged events (AOF off,
    or an ``appendfsync`` other than ``always``): configured outside this program, and
    otherwise only found out by a crash. Never stops the worker (the operator decides)."""
    from worker.store.persistence import read_persistence, risks

    if _heartbeat_redis is None:
        return
    try:
        found = list(risks(read_persistence(_heartbeat_redis)))
    except Exception as exc:  # a warning must not cost a worker
        log.info("Redis persistence not checked (%s)", type(exc).__name__)
        return
    for risk in found:
        log.warning("%s", risk)


@signals.heartbeat_sent.connect
def _on_heartbeat(sender: Any = None, **_: Any) -> None:
    hostname = getattr(getattr(sender, "eventer", None), "hostname", None) or _worker_hostname
    _beat_heartbeat(hostname)


@signals.worker_process_init.connect
def _fresh_runtime_after_fork(**_: Any) -> None:
    """A forked child must not share its parent's sockets, and gets a calmer collector."""
    global _runtime, _heartbeat_redis
    _runtime = None
    _heartbeat_redis = None
    _calm_gc()


@signals.worker_process_shutdown.connect
def _close_runtime(**_: Any) -> None:
    """Give back any batch still held (a cold shutdown), so nobody waits for its lease."""
    if _runtime is not None:
        try:
            released = _runtime.release_in_flight()
            if released:
                log.warning("released %d in-flight batches on shutdown", released)
        finally:
            _runtime.client.close()
