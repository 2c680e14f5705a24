"""Logs and Sentry, with secrets and raw PII scrubbed on the way out.

Logs are structured: JSON lines when stderr is not a terminal (collectors), plain text when
it is (people). Extra fields (``destination``, ``batch_id``, ``request_id``, counts) ride along.

Sentry (when ``SENTRY_DSN`` is set) gets the Celery integration with beat monitoring, and the
same scrubber on events, transactions and breadcrumbs; task arguments are never collected.

:class:`Scrubber` is the one value-based scrubber of the project. It knows every configured
secret (access tokens, the Sentry DSN, a Redis password) and finds it raw and in every escaped
form a log line or an event can hold: JSON (``\\u00e9``, ``\\"``), ``repr()`` / ``ascii()``,
``unicode_escape``, bytes reprs, URL-encoding, base64, and one escape inside another (the JSON
of a ``repr``). It also redacts raw e-mails and phone numbers in text, and values under
sensitive keys. The dead-letter store strips token-named keys itself
(:func:`worker.store.deadletter.scrub`): ``worker.store`` may import only ``worker.store``, and
dropping a key before storing is a different job from redacting a value on its way out.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import orjson

from worker.settings import Settings

__all__ = [
    "JsonFormatter",
    "Scrubber",
    "ScrubbingFormatter",
    "init_sentry",
    "scrubber_for",
    "secret_forms",
    "sentry_hook",
    "setup_logging",
]

#: values under these keys are always redacted
SECRET_KEYS = re.compile(
    r"(access[-_ ]?token|(^|[-_])token$|authorization|secret|password|email|phone|^ip$"
    r"|user[-_]?agent)",
    re.IGNORECASE,
)
#: values under these keys are redacted unless they are a number (a count of them)
BULK_KEYS = re.compile(r"(raw_event|customer_ids?|^events$|^payload$)", re.IGNORECASE)
REDACTED = "[redacted]"
EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_IN_TEXT = re.compile(r"\+\d[\d ().-]{8,18}\d")
#: shorter strings are not treated as secrets: they would redact ordinary words
MIN_SECRET_LENGTH = 6
MAX_DEPTH = 20
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _repr_inner(value: str | bytes) -> Iterator[str]:
    """The inside of ``repr(value)``, quoted with ``'`` and with ``"``.

    Which quote ``repr`` picks depends on the *whole* string the secret sits in, so both.
    """
    prefix: Any = "'\"" if isinstance(value, str) else b"'\""
    forced = repr(prefix + value)  # holds both quotes: always '-quoted, ' escaped
    single = forced[4:-1] if isinstance(value, str) else forced[5:-1]
    yield single
    yield single.replace("\\'", "'")  # the "-quoted spelling (only ever without a ")


def _literal_forms(value: str) -> set[str]:
    """How a string literal spells ``value``: JSON, repr, ascii, unicode_escape, bytes."""
    forms = {
        orjson.dumps(value).decode()[1:-1],
        json.dumps(value)[1:-1],  # ensure_ascii: \u00e9
        value.encode("unicode_escape").decode("ascii"),
        value.encode("ascii", "backslashreplace").decode("ascii"),
    }
    forms.update(f.replace("/", "\\/") for f in list(forms))  # JSON's optional \/
    forms.update(_repr_inner(value))
    forms.update(_repr_inner(value.encode("ascii", "backslashreplace").decode("ascii")))
    forms.update(_repr_inner(value.encode("utf-8", "surrogatepass")))
    return forms


def _transport_forms(value: str) -> set[str]:
    """URL-encoded and base64 spellings of ``value``."""
    raw = value.encode("utf-8", "surrogatepass")
    urls = {quote(raw, safe=""), quote(raw), quote_plus(raw)}
    urls |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), u) for u in urls}
    b64 = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return urls | b64 | {b.rstrip("=") for b in b64}


def secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` the scrubber looks for (raw first, then escaped)."""
    first = {secret} | _literal_forms(secret) | _transport_forms(secret)
    second = {f for form in first for f in _literal_forms(form)}  # e.g. JSON of a repr
    return first | second


class Scrubber:
    """Redacts secrets (by value, in any escaped form), raw PII in text and sensitive keys."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH})
        forms = {f for s in self.secrets for f in secret_forms(s)}
        alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        self._pattern = re.compile(alternatives) if forms else None

    def text(self, value: str) -> str:
        """``value`` with every secret (any spelling), e-mail and phone number replaced."""
        if self._pattern is not None:
            value = self._pattern.sub(REDACTED, value)
        if "@" in value:
            value = EMAIL_IN_TEXT.sub("[email]", value)
        if "+" in value:
            value = PHONE_IN_TEXT.sub("[phone]", value)
        return value

    def field(self, key: Any, value: Any, depth: int = 0) -> Any:
        """The value stored under ``key``, redacted when the key names a secret or PII."""
        if isinstance(key, str):
            if SECRET_KEYS.search(key) and value is not None:
                return REDACTED
            if BULK_KEYS.search(key) and not isinstance(value, int | float | None):
                return REDACTED
        return self(value, depth + 1)

    def __call__(self, value: Any, depth: int = 0) -> Any:
        """A scrubbed copy of a JSON-like ``value``; other objects become scrubbed text."""
        if depth > MAX_DEPTH:
            return REDACTED
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.text(bytes(value).decode("utf-8", "backslashreplace"))
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.field(k, v, depth)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self(v, depth + 1) for v in value]
        return self.text(str(value))

    def record(self, record: logging.LogRecord, formatter: logging.Formatter) -> logging.LogRecord:
        """A scrubbed copy of ``record``: every field a formatter can print.

        The message is rendered (``msg % args``) and then scrubbed; the exception and the
        stack are formatted by ``formatter`` and scrubbed into ``exc_text`` / ``stack_info``;
        every extra attribute is scrubbed by key and value. The original is left alone for
        the other handlers.
        """
        clean = logging.makeLogRecord(dict(vars(record)))
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: say so, never fall back to printing them
            message = f"{record.msg} (log arguments did not fit the format)"
        clean.msg, clean.args = self.text(str(message)), None
        exc_text = record.exc_text
        if record.exc_info and not exc_text:
            exc_text = formatter.formatException(record.exc_info)
        clean.exc_info, clean.exc_text = None, self.text(exc_text) if exc_text else None
        if record.stack_info:
            clean.stack_info = self.text(record.stack_info)
        for name, value in vars(record).items():
            if name in ("msg", "args", "exc_info", "exc_text", "stack_info"):
                continue
            if name not in _STANDARD_ATTRS:
                setattr(clean, name, self.field(name, value))
            elif isinstance(value, str):
                setattr(clean, name, self.text(value))
        return clean


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
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


class ScrubbingFormatter(logging.Formatter):
    """Formats a scrubbed copy of each record with ``inner``, then scrubs the line again.

    The second pass catches a secret in whatever escaping ``inner`` itself applied.
    """

    def __init__(self, inner: logging.Formatter, scrub: Scrubber) -> None:
        super().__init__()
        self.inner = inner
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub.text(self.inner.format(self.scrub.record(record, self.inner)))


def setup_logging(
    level: int = logging.INFO, stream: Any = None, scrub: Scrubber | None = None
) -> logging.Handler:
    """Configure the root logger once (idempotent); returns the handler.

    Every line is scrubbed: with ``scrub`` (secrets, PII) or, without, of raw PII.
    """
    root = logging.getLogger()
    for existing in root.handlers:
        if getattr(existing, "_masivo", False):
            return existing
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    inner: logging.Formatter
    if hasattr(stream, "isatty") and stream.isatty():
        inner = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        inner = JsonFormatter()
    handler.setFormatter(ScrubbingFormatter(inner, scrub or Scrubber(())))
    handler._masivo = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


def scrubber_for(settings: Settings) -> Scrubber:
    """A scrubber for every secret ``settings`` holds."""
    secrets = [d.access_token.get_secret_value() for d in settings.destinations.values()]
    for secret in (settings.tiktok_access_token, settings.sentry_dsn):
        if secret is not None:
            secrets.append(secret.get_secret_value())
    for url in (settings.redis_url, settings.celery_broker_url):
        password = urlsplit(url.replace(",", "/", 1)).password if url else None  # cluster: a,b
        if password:
            secrets.append(password)
    return Scrubber(secrets)


def sentry_hook(scrub: Scrubber) -> Callable[[Any, Any], Any]:
    """Sentry's ``before_send`` / ``before_send_transaction`` / ``before_breadcrumb``."""

    def scrubbed(event: Any, _hint: Any) -> Any:
        return scrub(event)

    return scrubbed


def init_sentry(settings: Settings) -> bool:
    """Initialise Sentry if ``SENTRY_DSN`` is set; returns whether it did."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    hook = sentry_hook(scrubber_for(settings))
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
        before_send=hook,
        before_send_transaction=hook,
        before_breadcrumb=hook,
        traces_sample_rate=0.0,
    )
    return True
