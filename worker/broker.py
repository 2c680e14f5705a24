"""A hardened kombu Redis transport: the worker outlives garbage, a Redis restart, a full Redis.

Celery messages here are doorbells (events live in ``worker.store``), so a doorbell may be
discarded at no cost; the *process* must not die. Stock kombu 5.x lets three faults kill it
(reproduced with real ``redis-server`` processes; celery#4308, celery#7975, kombu#582,
kombu#970, celery#5716):

* **Garbage on a queue** (``LPUSH ingest garbage``, a bad base64 body, a JSON list instead of
  an envelope): ``Channel._brpop_read`` decodes the popped item outside every error handler,
  and the exception reaches Celery's event loop: ``Unrecoverable error``. Here every
  ``BRPOP``/``RPOP`` reply is checked before kombu sees it; a bad item (already popped) is
  logged by size and hash only, never its content, and dropped.
* **Redis restarts while messages are unacknowledged**: on the connection error Celery
  collects the connection (``transport.client = None``), then closing the channel restores
  unacked messages, which builds connection parameters from ``connection.client.hostname``:
  ``AttributeError``, not a connection error, so the worker exits. A late ack on the old
  channel dies the same way. Here the channel keeps its last parameters and reuses them.
* **Redis at maxmemory (noeviction)**: Redis refuses *every* command of a ``MULTI`` then,
  deletes included, and kombu acks (``ZREM`` + ``HDEL``) and records unacked messages
  (``ZADD`` + ``HSET``) in ``MULTI``. Here acks use a plain pipeline (deletes are allowed under
  OOM), a refused unacked record falls back to in-memory tracking, queue sizes are read
  without ``MULTI``, and connecting probes a write so that a full Redis looks like an
  unreachable one: Celery backs off and retries instead of restarting six times a second.

Celery's own decode / unknown-task / invalid-task errors log the message body, headers and
arguments; :func:`install_log_redaction` rewrites those records to name the error only.

Tested against celery 5.7 / kombu 5.7 (``tests/system/test_broker_faults.py``); the overrides
touch kombu internals, so that test is what tells us an upgrade still fits.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any

from kombu.transport import redis as kredis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads
from redis import exceptions as rexc

__all__ = ["Transport", "install_log_redaction"]

log = logging.getLogger(__name__)

#: what ``broker_transport`` names (``celery_app``)
TRANSPORT = "worker.broker:Transport"


def _check_envelope(channel: Any, raw: Any) -> None:
    """Raise if kombu or Celery would crash on this raw list item."""
    payload = loads(bytes_to_str(raw))
    if not isinstance(payload, dict):
        raise TypeError(f"envelope is {type(payload).__name__}")
    props = payload["properties"]
    info = props["delivery_info"]
    _ = (props["delivery_tag"], info["exchange"], info["routing_key"])
    if not isinstance(payload.get("headers") or {}, dict):
        raise TypeError("headers is not an object")
    if payload.get("body"):
        channel.decode_body(payload["body"], props.get("body_encoding"))


class _ValidatingClientMixin:
    """Checks ``BRPOP``/``RPOP`` replies before kombu decodes them; a bad item becomes None,
    which kombu reads as "queue empty"."""

    def __init__(self, *args: Any, kombu_channel: Any = None, **kwargs: Any) -> None:
        self._kombu_channel = kombu_channel
        super().__init__(*args, **kwargs)

    def parse_response(self, connection: Any, command_name: Any, **options: Any) -> Any:
        resp = super().parse_response(connection, command_name, **options)  # type: ignore[misc]
        if command_name in ("BRPOP", "RPOP") and resp:
            queue, item = (
                (bytes_to_str(resp[0]), resp[1]) if command_name == "BRPOP" else ("?", resp)
            )
            try:
                _check_envelope(self._kombu_channel, item)
            except Exception as exc:  # anything kombu would choke on: drop, never die
                data = item if isinstance(item, bytes) else str(item).encode()
                log.error(
                    "discarded a malformed message from queue %r (%d bytes, sha256 %s): %s",
                    queue,
                    len(data),
                    hashlib.sha256(data).hexdigest()[:12],
                    type(exc).__name__,
                )
                return None
        return resp


@functools.cache
def _validating(cls: type) -> type:
    return type(f"Validating{cls.__name__}", (_ValidatingClientMixin, cls), {})


class QoS(kredis.QoS):  # type: ignore[misc]
    def append(self, message: Any, delivery_tag: Any) -> None:
        try:
            super().append(message, delivery_tag)
        except rexc.ResponseError as exc:  # OOM: MULTI ZADD + HSET refused
            log.error(
                "could not record unacked message in Redis (%s); processing it anyway",
                type(exc).__name__,
            )
            virtual.QoS.append(self, message, delivery_tag)

    def _remove_from_indices(self, delivery_tag: Any, pipe: Any = None) -> Any:
        if pipe is not None:  # inside restore_by_tag's transaction
            return super()._remove_from_indices(delivery_tag, pipe)
        with self.channel.conn_or_acquire() as client:  # an ack: no MULTI (refused under OOM)
            return (
                client.pipeline(transaction=False)
                .hdel(self.unacked_key, delivery_tag)
                .zrem(self.unacked_index_key, delivery_tag)
            )

    def restore_unacked(self, client: Any = None) -> Any:
        try:
            return super().restore_unacked(client)
        except Exception as exc:  # Redis gone or full: they stay in unacked until visible
            log.warning(
                "could not restore %d unacked messages (%s); redelivered after the "
                "visibility timeout",
                len(self._delivered),
                type(exc).__name__,
            )
            self._delivered.clear()
            return None

    def restore_visible(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().restore_visible(*args, **kwargs)
        except (AttributeError, OSError, rexc.RedisError) as exc:
            log.warning("restore_visible skipped (%s)", type(exc).__name__)
            return None


class Channel(kredis.Channel):  # type: ignore[misc]
    QoS = QoS
    _last_connparams: dict[str, Any] | None = None

    def _get_client(self) -> Any:
        base = super()._get_client()  # redis.Redis, or partial(PrefixedStrictRedis, ...)
        if isinstance(base, functools.partial):
            return functools.partial(
                _validating(base.func), *base.args, kombu_channel=self, **base.keywords
            )
        return functools.partial(_validating(base), kombu_channel=self)

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        # after a reconnect the old channel has no connection.client, but late acks and
        # restore_unacked still arrive: reuse the last synchronous parameters
        if (
            not asynchronous
            and self._last_connparams is not None
            and (self.connection is None or self.connection.client is None)
        ):
            return dict(self._last_connparams)
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        if not asynchronous:
            self._last_connparams = dict(params)
        return params

    def _size(self, queue: str) -> int:  # kombu's, without MULTI (refused under OOM)
        with self.conn_or_acquire() as client, client.pipeline(transaction=False) as pipe:
            for pri in self.priority_steps:
                pipe = pipe.llen(self._q_for_pri(queue, pri))
            return sum(s for s in pipe.execute() if isinstance(s, int))


class Transport(kredis.Transport):  # type: ignore[misc]
    Channel = Channel

    def establish_connection(self) -> Any:
        conn = super().establish_connection()
        chan = self._avail_channels[-1]
        try:  # at maxmemory: report a connection error, so Celery backs off and retries
            with chan.conn_or_acquire() as client:
                client.set("_kombu.writable_probe", "1", ex=60)
        except rexc.OutOfMemoryError:
            self._avail_channels.remove(chan)
            chan.close()
            raise rexc.ConnectionError("Redis refuses writes (maxmemory)") from None
        return conn


class _RedactFilter(logging.Filter):
    """Rewrites Celery's records about bad messages: the error's name, never the content."""

    titles: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        title = self.titles.get(str(record.msg))
        if title:
            exc = record.exc_info[1] if record.exc_info else None
            if exc is None and isinstance(record.args, tuple) and record.args:
                first = record.args[0]
                exc = first if isinstance(first, BaseException) else None
            record.msg, record.args = "%s (%s); content redacted", (title, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_redaction() -> None:
    """Celery logs the body, headers and arguments of a message it cannot run: redact."""
    from celery.worker.consumer import consumer as c

    _RedactFilter.titles = {
        c.MESSAGE_DECODE_ERROR: "discarded a message with an undecodable body",
        c.UNKNOWN_TASK_ERROR: "discarded a message for an unregistered task",
        c.INVALID_TASK_ERROR: "discarded an invalid task message",
        c.UNKNOWN_FORMAT: "discarded a message of unknown format",
    }
    logger = logging.getLogger(c.__name__)
    if not any(isinstance(f, _RedactFilter) for f in logger.filters):
        logger.addFilter(_RedactFilter())
