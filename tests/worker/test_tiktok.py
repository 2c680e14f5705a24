"""The one boundary: HTTP statuses, TikTok codes and httpx errors become our taxonomy."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from worker.errors import AuthFailed, DeliveryError, Invalid, RateLimited, Retryable
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
        classify(200, envelope(40002, "Invalid value for event_source_id"))
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
