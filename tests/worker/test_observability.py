"""Logs and Sentry never carry a token or raw PII.

Sentry is tested end to end: the SDK sends real envelopes over a socket to a capture server.
"""

from __future__ import annotations

import gzip
import io
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import sentry_sdk

from tests.leakscan import scan_for_leaks
from worker import observability
from worker.observability import JsonFormatter, Scrubber, init_sentry, sentry_hook, setup_logging
from worker.settings import Settings

TOKEN = "tok-live-5ecret-abcdef123"
EMAIL = "maria.perez@example.mx"


class Capture(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        Capture.bodies.append(raw)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_server() -> Iterator[str]:
    Capture.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1"
    finally:
        server.shutdown()
        sentry_sdk.init(dsn=None)


def settings_with_token(tmp_path: Path, dsn: str | None) -> Settings:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        f"destinations:\n  - {{id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: '{TOKEN}'}}\n"
    )
    return Settings(destinations_file=dfile, sentry_dsn=dsn)


def test_scrubber_removes_tokens_by_value_and_pii_by_key() -> None:
    scrub = Scrubber([TOKEN])
    dirty = {
        "message": f"failed with header Access-Token: {TOKEN}",
        "extra": {
            "email": EMAIL,
            "nested": [{"access_token": "x", "ok": 1}],
            "phone": "+5215512345678",
        },
    }
    clean = scrub(dirty)
    text = orjson.dumps(clean).decode()
    assert TOKEN not in text
    assert EMAIL not in text
    assert "5512345678" not in text
    assert clean["extra"]["nested"][0]["ok"] == 1
    assert scrub(f"mail {EMAIL} or call +52 55 1234 5678") == "mail [email] or call [phone]"


def test_no_dsn_means_no_sentry(tmp_path: Path) -> None:
    assert init_sentry(settings_with_token(tmp_path, None)) is False


def test_sentry_events_reach_the_server_without_token_or_pii(
    tmp_path: Path, sentry_server: str
) -> None:
    assert init_sentry(settings_with_token(tmp_path, sentry_server)) is True
    logging.getLogger("test").warning("about to fail for %s", EMAIL)  # a breadcrumb
    try:
        raise RuntimeError(f"TikTok refused token {TOKEN}")
    except RuntimeError:
        sentry_sdk.set_extra("event", {"email": EMAIL, "customer_id": "c1"})
        sentry_sdk.capture_exception()
    sentry_sdk.capture_message(f"paused; token={TOKEN}")
    sentry_sdk.flush(timeout=10)
    sent = b"".join(Capture.bodies)
    assert b"RuntimeError" in sent  # the event did arrive
    assert TOKEN.encode() not in sent
    assert EMAIL.encode() not in sent


def test_celery_task_arguments_are_not_sent_to_sentry(tmp_path: Path, sentry_server: str) -> None:
    from celery import Celery

    init_sentry(settings_with_token(tmp_path, sentry_server))
    app = Celery("t", broker="memory://")
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True

    @app.task(name="t.explode")
    def explode(destination: str, events: list[Any]) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        explode.delay("brand-a", [{"email": EMAIL, "token": TOKEN}])
    sentry_sdk.flush(timeout=10)
    sent = b"".join(Capture.bodies)
    assert b"boom" in sent
    assert EMAIL.encode() not in sent
    assert TOKEN.encode() not in sent


def test_json_logs_carry_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("masivo.test.json")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("delivered %d events", 5, extra={"destination": "brand-a", "request_id": "r1"})
    finally:
        log.removeHandler(handler)
    line = orjson.loads(stream.getvalue())
    assert line["msg"] == "delivered 5 events"
    assert line["destination"] == "brand-a"
    assert line["request_id"] == "r1"
    assert line["level"] == "warning"


# -- issue 9: every field of every record, every spelling of every secret ----------------------

#: the token of the incident: an accent, a double quote and a control character
BAD = 'tok-"caf\u00e9"-\x01-5ecret-abcdef'
PHONE = "+52 55 1234 5678"


def test_the_scrubber_finds_a_secret_in_every_spelling() -> None:
    import base64
    import json
    from urllib.parse import quote, quote_plus

    scrub = Scrubber([BAD])
    spellings = [
        BAD,
        json.dumps(BAD),
        orjson.dumps(BAD).decode(),
        repr(BAD),
        repr(f"it's {BAD}"),  # the other quote
        ascii(BAD),
        BAD.encode("unicode_escape").decode(),
        repr(BAD.encode()),
        quote(BAD),
        quote_plus(BAD),
        quote(BAD).lower(),
        base64.b64encode(BAD.encode()).decode(),
        json.dumps(repr(BAD)),  # the JSON of a repr: Celery's data.exc in a JSON line
        json.dumps({"exc": repr(UnicodeEncodeError("ascii", BAD, 8, 9, "ordinal"))}),
    ]
    for text in spellings:
        assert scan_for_leaks([text], [BAD]), "the scan itself must see the raw spelling"
        clean = scrub.text(text)
        assert scan_for_leaks([clean], [BAD]) == [], clean
        assert "[redacted]" in clean


def test_short_values_are_not_secrets_and_counts_survive_bulk_keys() -> None:
    scrub = Scrubber(["abc", BAD])
    assert scrub.secrets == [BAD]
    assert scrub.text("abc abc") == "abc abc"
    assert scrub({"events": 1000, "payload": {"email": EMAIL}, "tokens": 3.5}) == {
        "events": 1000,
        "payload": "[redacted]",
        "tokens": 3.5,
    }


def _raise_with_the_token() -> None:
    token_local = BAD  # a local variable holding the token
    try:
        b"".join([token_local.encode("ascii")])
    except UnicodeEncodeError as exc:
        raise RuntimeError(f"send failed for {token_local!r}", token_local) from exc


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The real logging setup (setup_logging) writing JSON lines to a stream; restored after."""
    root = logging.getLogger()
    saved = [h for h in root.handlers if getattr(h, "_masivo", False)]
    for h in saved:
        root.removeHandler(h)
    level = root.level
    stream = io.StringIO()
    handler = setup_logging(logging.INFO, stream=stream, scrub=Scrubber([BAD]))
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h in saved:
            root.addHandler(h)


def test_logs_never_carry_the_token_in_any_field(json_log: io.StringIO) -> None:
    log = logging.getLogger("masivo.test.leak")
    seen: list[logging.LogRecord] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    spy = Spy()
    log.addHandler(spy)
    try:
        log.warning("refused token %s for %s", BAD, EMAIL)  # args
        log.warning(f"refused token {BAD!r}")  # the message, repr-escaped
        log.warning("dict args %(token)s", {"token": BAD})
        try:
            _raise_with_the_token()
        except RuntimeError as exc:
            log.error(  # what Celery logs for a failed task, and more
                "Task %(name)s[%(id)s] raised unexpected: %(exc)s",
                {"name": "tiktok.flush", "id": "t1", "exc": repr(exc)},
                exc_info=True,
                extra={
                    "data": {
                        "id": "t1",
                        "exc": repr(exc),
                        "args": [BAD],
                        "nested": {"deep": [BAD]},
                    },
                    "destination": "brand-a",
                    "events": 3,
                    "raw": BAD.encode(),
                    "headers": {"Access-Token": "x" * 10, "User-Agent": "curl"},
                    "phone_of_customer": PHONE,
                    "as_tuple": (BAD, 1),
                },
            )
        log.warning("with a stack %s", BAD, stack_info=True)
        record = logging.makeLogRecord(
            {
                "name": "celery.app.trace",
                "levelno": logging.ERROR,
                "levelname": "ERROR",
                "msg": "pre-formatted",
                "exc_text": f"Traceback ...\nUnicodeEncodeError: {BAD!r}",
                "stack_info": f"Stack (most recent call last):\n  token = {BAD!r}",
            }
        )
        logging.getLogger("celery.app.trace").handle(record)
    finally:
        log.removeHandler(spy)
    out = json_log.getvalue()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert len(lines) == 6
    assert scan_for_leaks([out], [BAD], needles=[EMAIL, PHONE]) == []
    assert BAD not in str(lines)
    assert lines[0]["msg"] == "refused token [redacted] for [email]"
    error = lines[3]
    assert error["destination"] == "brand-a"
    assert error["events"] == 3  # a count under a bulk key survives
    assert error["data"]["args"] == ["[redacted]"]
    assert error["data"]["nested"] == {"deep": ["[redacted]"]}
    assert error["headers"] == {"Access-Token": "[redacted]", "User-Agent": "[redacted]"}
    assert "RuntimeError" in error["exc"] and "UnicodeEncodeError" in error["exc"]
    assert "[redacted]" in error["exc"]
    assert "stack" in lines[4] and "[redacted]" in lines[5]["stack"]
    assert "[redacted]" in lines[5]["exc"]
    # the other handlers see the record as it was logged
    assert seen[0].args == (BAD, EMAIL)


def test_plain_text_logs_for_a_terminal_are_scrubbed_too() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    saved = [h for h in root.handlers if getattr(h, "_masivo", False)]
    for h in saved:
        root.removeHandler(h)
    stream = Tty()
    handler = setup_logging(stream=stream, scrub=Scrubber([BAD]))
    try:
        try:
            _raise_with_the_token()
        except RuntimeError:
            logging.getLogger("masivo.test.tty").exception("flush %s", BAD)
    finally:
        root.removeHandler(handler)
        for h in saved:
            root.addHandler(h)
    assert "Traceback" in stream.getvalue()
    assert scan_for_leaks([stream.getvalue()], [BAD]) == []


def test_sentry_before_send_scrubs_message_args_and_local_variables() -> None:
    import sys

    from sentry_sdk.utils import event_from_exception

    try:
        _raise_with_the_token()
    except RuntimeError:
        event, _ = event_from_exception(sys.exc_info())  # with local variables
    event["breadcrumbs"] = {"values": [{"message": f"retrying with {BAD}"}]}
    event["extra"] = {"args": [BAD], "headers": {"Access-Token": BAD}}
    raw = orjson.dumps(event).decode()
    assert scan_for_leaks([raw], [BAD]), "the event must carry the token before scrubbing"
    assert "token_local" in raw  # the local variable was captured
    clean = sentry_hook(Scrubber([BAD]))(event, {})
    assert scan_for_leaks([orjson.dumps(clean)], [BAD]) == []
    assert clean["exception"]["values"][-1]["type"] == "RuntimeError"

    transaction = {
        "type": "transaction",
        "transaction": f"flush {BAD}",
        "spans": [{"description": f"POST with {BAD!r}", "data": {"token": BAD}}],
    }
    assert (
        scan_for_leaks([orjson.dumps(sentry_hook(Scrubber([BAD]))(transaction, {}))], [BAD]) == []
    )


def test_sentry_envelopes_carry_no_escaped_token(
    tmp_path: Path, sentry_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: what reaches the server, with the token of the incident."""
    monkeypatch.setattr(observability, "scrubber_for", lambda settings: Scrubber([BAD, TOKEN]))
    assert init_sentry(settings_with_token(tmp_path, sentry_server)) is True
    options = sentry_sdk.get_client().options
    for hook in ("before_send", "before_send_transaction", "before_breadcrumb"):
        assert options[hook] is not None
    logging.getLogger("test").warning("retrying with %r", BAD)  # a breadcrumb
    try:
        _raise_with_the_token()
    except RuntimeError:
        sentry_sdk.set_extra("token", {"value": BAD})
        sentry_sdk.capture_exception()
    sentry_sdk.capture_message(f"paused; token={BAD!r}")
    sentry_sdk.flush(timeout=10)
    sent = b"".join(Capture.bodies)
    assert b"RuntimeError" in sent
    assert scan_for_leaks([sent], [BAD, TOKEN], needles=[EMAIL]) == []


def test_the_scrubber_knows_every_configured_secret(tmp_path: Path) -> None:
    settings = settings_with_token(tmp_path, "https://publickey@sentry.example/1")
    settings = settings.model_copy(update={"redis_url": "redis://:hunter2-redis-pw@redis:6379/0"})
    scrub = observability.scrubber_for(settings)
    text = f"{TOKEN} https://publickey@sentry.example/1 hunter2-redis-pw"
    assert scrub.text(text) == "[redacted] [redacted] [redacted]"
