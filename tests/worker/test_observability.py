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

from worker.observability import JsonFormatter, Scrubber, init_sentry
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
