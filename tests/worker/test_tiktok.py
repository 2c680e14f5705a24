"""The one boundary: HTTP statuses, TikTok codes and httpx errors become our taxonomy."""

from __future__ import annotations

from typing import Any

import h11
import httpcore
import httpx
import orjson
import pytest
from pydantic import SecretStr

from worker.errors import (
    AuthFailed,
    DeliveryError,
    Invalid,
    Misconfigured,
    RateLimited,
    Retryable,
    Timeout,
)
from worker.tiktok import TRACK_PATH, Accepted, TikTokClient, build_body, classify

TOKEN = SecretStr("tok-secret-abcdef")


def envelope(
    code: int, message: str = "", request_id: str = "20261125031200ABCDEF0123456789ABCD"
) -> bytes:
    return orjson.dumps({"code": code, "message": message, "request_id": request_id, "data": {}})


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(200, envelope(0, "OK"), Accepted, id="ok"),
        pytest.param(200, envelope(20001, "partial"), Accepted, id="20001-accepted-with-warning"),
        pytest.param(200, envelope(40100, "Too many requests."), RateLimited, id="40100"),
        pytest.param(200, envelope(40001, "No permission"), AuthFailed, id="40001"),
        pytest.param(200, envelope(40105, "Access token is incorrect"), AuthFailed, id="40105"),
        pytest.param(
            200, envelope(40002, "data.3.event_id: not a valid string"), Invalid, id="40002"
        ),
        pytest.param(
            200, envelope(51010, "internal service timed out"), Retryable, id="unknown-code"
        ),
        pytest.param(500, b"oops", Retryable, id="500"),
        pytest.param(502, b"<html>502 Bad Gateway</html>", Retryable, id="502-html"),
        pytest.param(503, b'{"error":{"message":"Service Unavailable"}}', Retryable, id="503-json"),
        pytest.param(429, b"", RateLimited, id="429"),
        pytest.param(401, b"", AuthFailed, id="401"),
        pytest.param(403, b"", AuthFailed, id="403"),
        pytest.param(404, b"not found", Retryable, id="404-wrong-base-url"),
        pytest.param(200, b"not json", Retryable, id="200-garbage"),
    ],
)
def test_responses_are_classified_at_one_boundary(status: int, body: bytes, expected: type) -> None:
    if expected is Accepted:
        assert isinstance(classify(status, body), Accepted)
        return
    with pytest.raises(DeliveryError) as info:
        classify(status, body)
    assert type(info.value) is expected


def test_invalid_names_the_event_index_and_keeps_diagnostics() -> None:
    with pytest.raises(Invalid) as info:
        classify(
            200,
            envelope(
                40002, "data.17.properties.contents.0.content_id: Not a valid string", "rid-1"
            ),
        )
    err = info.value
    assert err.event_index == 17
    assert err.code == 40002
    assert err.http_status == 200
    assert err.request_id == "rid-1"


def test_invalid_without_an_index() -> None:
    with pytest.raises(Invalid) as info:
        classify(200, envelope(40002, "Invalid value for event_id: not a valid string."))
    assert info.value.event_index is None


def test_body_groups_one_pixel_and_one_test_code() -> None:
    body = build_body("C9XXXXXXXXXXXXXXXXXX", [{"event": "Search"}], "TEST12345", "Masivo")
    assert body == {
        "event_source": "web",
        "event_source_id": "C9XXXXXXXXXXXXXXXXXX",
        "test_event_code": "TEST12345",
        "partner_name": "Masivo",
        "data": [{"event": "Search"}],
    }
    assert "test_event_code" not in build_body("C9XXXXXXXXXXXXXXXXXX", [], None, None)


def test_the_token_travels_only_in_the_access_token_header() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.path
        seen["token"] = request.headers.get("Access-Token")
        seen["body"] = request.content
        return httpx.Response(200, content=envelope(0, "OK"))

    client = TikTokClient("https://example.test", transport=httpx.MockTransport(handler))
    result = client.send("C9XXXXXXXXXXXXXXXXXX", TOKEN, [{"event": "Search", "event_id": "1"}])
    assert isinstance(result, Accepted)
    assert seen["path"] == TRACK_PATH
    assert seen["token"] == TOKEN.get_secret_value()
    assert TOKEN.get_secret_value().encode() not in seen["body"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(httpx.ConnectError("refused"), id="connect"),
        pytest.param(httpx.RemoteProtocolError("reset"), id="reset"),
    ],
)
def test_network_failures_are_retryable_and_carry_no_token(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    client = TikTokClient("https://example.test", transport=httpx.MockTransport(handler))
    with pytest.raises(Retryable) as info:
        client.send("C9XXXXXXXXXXXXXXXXXX", TOKEN, [{"event": "Search"}])
    assert TOKEN.get_secret_value() not in str(info.value)
    assert info.value.__cause__ is None  # httpx's exception (with its request) is not chained


def test_scripted_answers_429_then_500_then_ok() -> None:
    answers = iter(
        [
            httpx.Response(200, content=envelope(40100)),
            httpx.Response(500),
            httpx.Response(200, content=envelope(0)),
        ]
    )
    client = TikTokClient(
        "https://example.test", transport=httpx.MockTransport(lambda r: next(answers))
    )
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(type(client.send("C9XXXXXXXXXXXXXXXXXX", TOKEN, [{}])).__name__)
        except DeliveryError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["RateLimited", "Retryable", "Accepted"]


def test_spliced_body_is_exactly_the_encoded_request() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, content=envelope(0, "OK"))

    events = [
        {"event": "Search", "event_id": "1", "properties": {"query": "x"}},
        {"event": "Lead", "event_id": "2"},
    ]
    client = TikTokClient("https://example.test", transport=httpx.MockTransport(handler))
    client.send_raw("C9XXXXXXXXXXXXXXXXXX", TOKEN, [orjson.dumps(e) for e in events], "TEST1")
    client.send("C9XXXXXXXXXXXXXXXXXX", TOKEN, events)
    assert orjson.loads(seen[0]) == build_body("C9XXXXXXXXXXXXXXXXXX", events, "TEST1", "Masivo")
    assert orjson.loads(seen[1]) == build_body("C9XXXXXXXXXXXXXXXXXX", events, None, "Masivo")


# -- issue 9: nothing escapes the boundary, and no message carries the token ------------------

SECRET = "tok-Sup3r-secret-9f8e7d6c"
BAD_TOKENS = [
    pytest.param('tok-"caf\u00e9"-\x01-secret', id="accent-quote-control"),
    pytest.param("tok-caf\u00e9-secret", id="accent"),
    pytest.param("tok-\x01-secret", id="control"),
    pytest.param("tok-\r\nX-Injected: 1", id="header-injection"),
    pytest.param("tok with a space", id="space"),
    pytest.param("tok-\x7f-secret", id="delete"),
    pytest.param("", id="empty"),
]


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


def assert_no_leak(error: BaseException, *secrets: str) -> None:
    from tests.leakscan import scan_for_leaks

    texts = [str(error), repr(error), *(str(a) for a in error.args)]
    assert scan_for_leaks(texts, [s for s in secrets if len(s) >= 6]) == []
    assert error.__cause__ is None or not any(s in str(error.__cause__) for s in secrets if s)


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_token_that_is_no_header_value_is_a_configuration_error_before_any_request(
    token: str,
) -> None:
    client = TikTokClient("https://example.test", transport=httpx.MockTransport(never_called))
    with pytest.raises(Misconfigured) as info:
        client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(token), [{"event": "Search"}])
    assert info.value.kind == "config"
    assert "no request was sent" in info.value.message
    assert "access_token" in info.value.message
    assert_no_leak(info.value, token)


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://example.test" + TRACK_PATH)


FAILURES = [
    # (what the transport raises, what send_raw raises)
    pytest.param(
        lambda: httpx.ConnectTimeout(SECRET, request=_request()), Timeout, id="connect-timeout"
    ),
    pytest.param(lambda: httpx.ReadTimeout(SECRET, request=_request()), Timeout, id="read-timeout"),
    pytest.param(
        lambda: httpx.WriteTimeout(SECRET, request=_request()), Timeout, id="write-timeout"
    ),
    pytest.param(lambda: httpx.PoolTimeout(SECRET, request=_request()), Timeout, id="pool-timeout"),
    pytest.param(lambda: httpx.ConnectError(SECRET, request=_request()), Retryable, id="connect"),
    pytest.param(lambda: httpx.ReadError(SECRET, request=_request()), Retryable, id="read"),
    pytest.param(lambda: httpx.WriteError(SECRET, request=_request()), Retryable, id="write"),
    pytest.param(lambda: httpx.CloseError(SECRET, request=_request()), Retryable, id="close"),
    pytest.param(lambda: httpx.ProxyError(SECRET, request=_request()), Retryable, id="proxy"),
    pytest.param(
        lambda: httpx.RemoteProtocolError(SECRET, request=_request()),
        Retryable,
        id="remote-protocol",
    ),
    pytest.param(lambda: httpx.DecodingError(SECRET, request=_request()), Retryable, id="decoding"),
    pytest.param(
        lambda: httpx.TooManyRedirects(SECRET, request=_request()), Retryable, id="redirects"
    ),
    pytest.param(lambda: httpx.StreamConsumed(), Retryable, id="stream-consumed"),
    pytest.param(lambda: RuntimeError(f"boom {SECRET}"), Retryable, id="unexpected-runtime"),
    pytest.param(lambda: KeyError(SECRET), Retryable, id="unexpected-keyerror"),
    pytest.param(lambda: ValueError(f"bad header {SECRET}"), Retryable, id="valueerror"),
    pytest.param(
        lambda: httpx.LocalProtocolError(SECRET, request=_request()),
        Misconfigured,
        id="local-protocol",
    ),
    pytest.param(
        lambda: UnicodeEncodeError("ascii", SECRET, 3, 4, "ordinal not in range(128)"),
        Misconfigured,
        id="unicode-encode",
    ),
    pytest.param(
        lambda: h11.LocalProtocolError(f"Illegal header value {SECRET.encode()!r}"),
        Misconfigured,
        id="h11-local-protocol",
    ),
    pytest.param(
        lambda: httpcore.LocalProtocolError(f"Illegal header value {SECRET.encode()!r}"),
        Misconfigured,
        id="httpcore-local-protocol",
    ),
    pytest.param(
        lambda: httpx.UnsupportedProtocol(SECRET, request=_request()),
        Misconfigured,
        id="unsupported-protocol",
    ),
    pytest.param(lambda: httpx.InvalidURL(SECRET), Misconfigured, id="invalid-url"),
]


@pytest.mark.parametrize(("make", "expected"), FAILURES)
def test_every_failure_is_classified_and_none_quotes_the_token(
    make: Any, expected: type[DeliveryError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise make()

    client = TikTokClient("https://example.test", transport=httpx.MockTransport(handler))
    with pytest.raises(DeliveryError) as info:
        client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(SECRET), [{"event": "Search"}])
    assert type(info.value) is expected
    assert_no_leak(info.value, SECRET)
    assert info.value.__cause__ is None  # every cause above quotes the token
    assert info.value.__suppress_context__


def test_an_unencodable_body_field_is_a_configuration_error() -> None:
    client = TikTokClient("https://example.test", transport=httpx.MockTransport(never_called))
    with pytest.raises(Misconfigured, match="could not be encoded"):
        client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(SECRET), [{}], test_event_code="\ud800")


def test_a_refusal_that_echoes_the_token_is_stripped_of_it() -> None:
    answer = envelope(40105, f"Access token {SECRET} is incorrect")
    client = TikTokClient(
        "https://example.test",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=answer)),
    )
    with pytest.raises(AuthFailed) as info:
        client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(SECRET), [{}])
    assert info.value.message == "Access token [redacted] is incorrect"
    assert_no_leak(info.value, SECRET)


def test_a_refused_connection_names_the_os_error_not_the_request() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = TikTokClient(f"http://127.0.0.1:{port}", timeout_s=2.0)
    with pytest.raises(Retryable) as info:
        client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(SECRET), [{}])
    assert info.value.message == "network error talking to TikTok (ConnectError: ECONNREFUSED)"
    assert info.value.__cause__ is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param('tok-"caf\u00e9"-\x01-secret', id="unicode-encode-error"),
        pytest.param("tok-\r\nX-Injected: 1", id="h11-illegal-header"),
    ],
)
def test_without_the_precheck_the_real_http_stack_errors_are_still_classified(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """Defence in depth: what httpx / h11 raise for a bad header over a real socket."""
    import re
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from worker import tiktok

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(envelope(0, "OK"))

        def log_message(self, *args: Any) -> None:
            pass

    monkeypatch.setattr(tiktok, "HEADER_VALUE_RE", re.compile(r"(?s).*"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = TikTokClient(f"http://127.0.0.1:{server.server_address[1]}", timeout_s=5.0)
        assert isinstance(client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(SECRET), [{}]), Accepted)
        with pytest.raises(Misconfigured) as info:
            client.send("C9XXXXXXXXXXXXXXXXXX", SecretStr(token), [{}])
        assert info.value.message.startswith("the request could not be built (")
        assert_no_leak(info.value, token)
        assert info.value.__cause__ is None
        client.close()
    finally:
        server.shutdown()
        server.server_close()
