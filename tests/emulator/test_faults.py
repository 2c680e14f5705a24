"""Fault injection: the spec syntax, each fault kind over real sockets, seeded determinism."""

from __future__ import annotations

import time

import httpx
import pytest

from emulator import EmulatorServer, Fault, FaultSpec, Outage, parse_faults
from emulator.faults import FaultInjector

from .conftest import Api, FakeClock, ServerFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", FaultSpec(), id="empty"),
        pytest.param(
            "500=0.1,502=0.01,503=0.05,40100=0.1",
            FaultSpec(http_500=0.1, http_502=0.01, http_503=0.05, rate_40100=0.1),
            id="shares",
        ),
        pytest.param("latency=50ms", FaultSpec(latency_s=0.05), id="latency-ms"),
        pytest.param("latency=50", FaultSpec(latency_s=0.05), id="latency-bare-ms"),
        pytest.param("hang=0.01:30s", FaultSpec(hang=0.01, hang_s=30), id="hang"),
        pytest.param("hang=0.5", FaultSpec(hang=0.5, hang_s=30), id="hang-default"),
        pytest.param("reset=0.02", FaultSpec(reset=0.02), id="reset"),
        pytest.param(
            "outage=10s@5s, outage=1m",
            FaultSpec(outages=(Outage(10, 5), Outage(60, 0))),
            id="outages",
        ),
    ],
)
def test_parse_faults(text: str, expected: FaultSpec) -> None:
    assert parse_faults(text) == expected
    assert parse_faults(expected.to_text()) == expected


@pytest.mark.parametrize(
    "text",
    ["500", "500=x", "500=1.5", "500=0.6,503=0.6", "nope=1", "latency=fast", "outage=10s@x"],
)
def test_parse_faults_rejects_bad_specs(text: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_faults(text)


def test_decisions_are_deterministic_with_a_seed() -> None:
    spec = parse_faults("500=0.2,503=0.2,reset=0.1,40100=0.1")

    def sequence(seed: int) -> list[Fault]:
        injector = FaultInjector(spec, seed=seed, now=0.0)
        return [injector.decide(0.0).fault for _ in range(200)]

    first = sequence(42)
    assert first == sequence(42)
    assert first != sequence(43)
    assert {Fault.NONE, Fault.HTTP_500, Fault.HTTP_503, Fault.RESET} <= set(first)


def _statuses(api: Api, count: int) -> list[int | str]:
    out: list[int | str] = []
    for i in range(count):
        try:
            response = api.post({"event_source": "web"}, raw=None)
            out.append(
                response.status_code if response.status_code != 200 else response.json()["code"]
            )
        except httpx.TransportError as exc:
            out.append(type(exc).__name__)
        del i
    return out


def test_same_seed_same_faults_over_http(make_server: ServerFactory, clock: FakeClock) -> None:
    runs = []
    for _ in range(2):
        server = make_server(seed=3, faults=parse_faults("500=0.3,503=0.3"))
        with httpx.Client(timeout=5) as http:
            runs.append(_statuses(Api(http, server, clock), 30))
    assert runs[0] == runs[1]
    assert {500, 503, 40002} <= set(runs[0])  # 40002: the body is invalid when not faulted


def test_http_500(api: Api, server: EmulatorServer) -> None:
    server.set_faults("500=1")
    response = api.post({})
    assert response.status_code == 500
    assert server.summary()["faults"] == {"500": 1}


def test_http_502_is_an_nginx_page(api: Api, server: EmulatorServer) -> None:
    server.set_faults("502=1")
    response = api.post({})
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert "502 Bad Gateway" in response.text
    assert "nginx" in response.text


def test_http_503_json_body(api: Api, server: EmulatorServer) -> None:
    server.set_faults("503=1")
    response = api.post({})
    assert response.status_code == 503
    assert response.json() == {"error": {"message": "Service Unavailable"}}


def test_40100_storm_ignores_the_bucket(api: Api, server: EmulatorServer) -> None:
    server.set_faults("40100=1")
    answer = api.send(1)
    assert answer["code"] == 40100
    assert server.summary()["faults"] == {"40100": 1}
    assert server.summary()["refused"]["by_code"] == {"40100": 1}


def test_latency_is_added_and_counted(api: Api, server: EmulatorServer) -> None:
    server.set_faults("latency=20ms")
    assert api.send(1)["code"] == 0
    assert server.summary()["faults"] == {"latency": 1}


def test_reset_drops_the_connection(api: Api, server: EmulatorServer) -> None:
    server.set_faults("reset=1")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        api.send(1)
    server.set_faults("")
    assert api.send(1)["code"] == 0  # the client reconnects
    assert server.summary()["faults"] == {"reset": 1}


def test_hang_outlasts_the_client_timeout_then_is_processed(
    api: Api, server: EmulatorServer
) -> None:
    server.set_faults("hang=1:0.3s")
    with pytest.raises(httpx.ReadTimeout):
        api.send(1, timeout=0.05)
    deadline = time.monotonic() + 5
    while server.summary()["accepted"]["events"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    # like a real timeout: the client gave up, yet the event may have been accepted
    assert server.summary()["accepted"]["events"] == 1
    assert server.summary()["faults"] == {"hang": 1}


def test_stop_releases_hung_requests(make_server: ServerFactory, clock: FakeClock) -> None:
    server = make_server(faults=parse_faults("hang=1:60s"))
    with httpx.Client(timeout=0.05) as http, pytest.raises(httpx.ReadTimeout):
        Api(http, server, clock).send(1)
    server.stop()  # returns (the per-test timeout guards it) instead of waiting out the hang
    assert server.summary()["accepted"]["events"] == 0  # the hung request was dropped


def test_outage_window_from_the_spec(api: Api, server: EmulatorServer, clock: FakeClock) -> None:
    server.set_faults("outage=10s@5s")
    assert api.send(1)["code"] == 0
    clock.advance(5)
    response = api.post({})
    assert response.status_code == 503
    clock.advance(9.9)
    assert api.post({}).status_code == 503
    clock.advance(0.1)
    assert api.send(1, start=1)["code"] == 0
    assert server.summary()["faults"] == {"outage": 2}


def test_outage_triggered_via_inspection_endpoint(
    api: Api, server: EmulatorServer, clock: FakeClock
) -> None:
    response = api.http.post(f"{server.url}/_emulator/faults", json={"spec": "outage=30s"})
    assert response.status_code == 200
    assert response.json() == {"spec": "outage=30s@0s"}
    assert api.get("faults") == {"spec": "outage=30s@0s"}
    assert api.post({}).status_code == 503
    clock.advance(30)
    assert api.send(1)["code"] == 0


def test_bad_runtime_spec_is_http_400(api: Api, server: EmulatorServer) -> None:
    response = api.http.post(f"{server.url}/_emulator/faults", json={"spec": "500=2"})
    assert response.status_code == 400
    assert "fault" in response.json()["error"]


def test_startup_faults_come_back_after_reset(make_server: ServerFactory, clock: FakeClock) -> None:
    server = make_server(faults=parse_faults("503=1"))
    with httpx.Client() as http:
        api = Api(http, server, clock)
        server.set_faults("")
        assert api.send(1)["code"] == 0
        server.reset()
        assert api.post({}).status_code == 503


def test_inspection_endpoints_never_fail(api: Api, server: EmulatorServer) -> None:
    server.set_faults("500=1")
    assert api.get("summary")["faults"] == {}
    assert api.get("health") == {"ok": True}
