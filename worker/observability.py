"""Logs and Sentry, with secrets and raw PII scrubbed on the way out.

Logs are structured: JSON lines when stderr is not a terminal (collectors), plain text when
it is (people). Extra fields (``destination``, ``batch_id``, ``request_id``, counts) ride along.

Sentry (when ``SENTRY_DSN`` is set) gets the Celery integration with beat monitoring, and a
scrubber on events, breadcrumbs and task arguments that removes access tokens (by key and by
value: every configured token is searched for in every string) and raw PII keys.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import orjson

from worker.settings import Settings

__all__ = ["JsonFormatter", "Scrubber", "init_sentry", "setup_logging"]

SENSITIVE_KEYS = re.compile(
    r"(access[-_]?token|authorization|secret|password|email|phone|^ip$|user_agent|raw_event"
    r"|customer_ids?|^events$|^payload$)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_IN_TEXT = re.compile(r"\+\d[\d ().-]{8,18}\d")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class ScrubFilter(logging.Filter):
    """Defence in depth: scrub every record's text before any handler sees it."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub.text(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(
    level: int = logging.INFO, stream: Any = None, scrub: Scrubber | None = None
) -> None:
    """Configure the root logger once (idempotent)."""
    root = logging.getLogger()
    if any(getattr(h, "_masivo", False) for h in root.handlers):
        return
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if hasattr(stream, "isatty") and stream.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    if scrub is not None:
        handler.addFilter(ScrubFilter(scrub))
    handler._masivo = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class Scrubber:
    """Removes tokens (by value) and sensitive keys from any JSON-like structure."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s for s in secrets if len(s) >= 6]

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if "@" in value:
            value = EMAIL_IN_TEXT.sub("[email]", value)
        if "+" in value:
            value = PHONE_IN_TEXT.sub("[phone]", value)
        return value

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > 20:
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: (
                    REDACTED
                    if isinstance(k, str) and SENSITIVE_KEYS.search(k)
                    else self(v, depth + 1)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self(v, depth + 1) for v in value]
        return value


def scrubber_for(settings: Settings) -> Scrubber:
    secrets = [d.access_token.get_secret_value() for d in settings.destinations.values()]
    if settings.tiktok_access_token is not None:
        secrets.append(settings.tiktok_access_token.get_secret_value())
    return Scrubber(secrets)


def init_sentry(settings: Settings) -> bool:
    """Initialise Sentry if ``SENTRY_DSN`` is set; returns whether it did."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    scrub = scrubber_for(settings)

    def before_send(event: Any, _hint: Any) -> Any:
        return scrub(event)

    def before_breadcrumb(crumb: Any, _hint: Any) -> Any:
        return scrub(crumb)

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        integrations=[CeleryIntegration(monitor_beat_tasks=True, propagate_traces=False)],
        # Task arguments are raw events (PII): never collected. ``data_collection`` replaced
        # ``send_default_pii`` in sentry-sdk 2.7x, which is why that version is the floor.
        data_collection={
            "user_info": False,
            "queues": False,
            "http_bodies": [],
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        traces_sample_rate=0.0,
    )
    return True
