"""The track endpoint's answers: codes, messages naming paths, whole-request rejection."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from emulator import EmulatorServer

from .conftest import HASH, OTHER_PIXEL, PIXEL, Api, FakeClock, ServerFactory, make_body, make_event

REQUEST_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")


def test_valid_request_is_accepted_with_tiktok_envelope(api: Api) -> None:
    response = api.post(make_body([make_event(1, api.clock.now), make_event(2, api.clock.now)]))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0
    assert body["message"] == "OK"
    assert body["data"] == {}
    assert REQUEST_ID.match(body["request_id"])
    assert response.headers["x-tt-logid"] == body["request_id"]
    assert api.server.summary()["accepted"] == {"events": 2, "unique": 2, "duplicates": 0}


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "empty", "unknown"])
def test_bad_token_is_40105(api: Api, token: str | None) -> None:
    body = api.post(make_body([make_event(1, api.clock.now)]), token=token).json()
    assert body["code"] == 40105
    assert body["message"] == "Access token is incorrect or has been revoked."
    assert REQUEST_ID.match(body["request_id"])


def test_token_without_permission_on_pixel_is_40001(api: Api) -> None:
    body = api.post(make_body([make_event(1, api.clock.now)], pixel=OTHER_PIXEL)).json()
    assert body["code"] == 40001
    assert body["message"].startswith(f"No permission to operate pixel code: {OTHER_PIXEL}.")


def test_without_credentials_any_non_empty_token_works(make_server: ServerFactory) -> None:
    server = make_server(credentials=None)
    body = make_body([make_event(1, server.config.clock())], pixel="ANYPIXEL")
    answer = httpx.post(server.track_url, json=body, headers={"Access-Token": "x"}).json()
    assert answer["code"] == 0
    missing = httpx.post(server.track_url, json=body).json()
    assert missing["code"] == 40105


# (id, mutate(body), expected message prefix)
INVALID = [
    ("event_source", lambda b: b.update(event_source="offline"), "event_source:"),
    ("event_source_missing", lambda b: b.pop("event_source"), "event_source: Missing data"),
    ("pixel_not_string", lambda b: b.update(event_source_id=123), "event_source_id:"),
    ("test_code_not_string", lambda b: b.update(test_event_code=1), "test_event_code:"),
    ("data_not_list", lambda b: b.update(data={}), "data: Not a valid list."),
    ("data_empty", lambda b: b.update(data=[]), "data: Length must be between 1 and 1000."),
    ("event_not_object", lambda b: b["data"].append("x"), "data.1: Not a valid mapping"),
    ("event_missing", lambda b: b["data"][0].pop("event"), "data.0.event: Missing data"),
    ("event_empty", lambda b: b["data"][0].update(event=""), "data.0.event:"),
    ("event_time_string", lambda b: b["data"][0].update(event_time="1"), "data.0.event_time:"),
    ("event_time_bool", lambda b: b["data"][0].update(event_time=True), "data.0.event_time:"),
    ("event_time_float", lambda b: b["data"][0].update(event_time=1.5), "data.0.event_time:"),
    ("event_id_number", lambda b: b["data"][0].update(event_id=3), "data.0.event_id: Not a valid string"),
    ("event_id_missing", lambda b: b["data"][0].pop("event_id"), "data.0.event_id: Missing data"),
    ("event_id_null", lambda b: b["data"][0].update(event_id=None), "data.0.event_id: Field may not be null"),
    ("user_not_object", lambda b: b["data"][0].update(user=[]), "data.0.user:"),
    ("user_plain_email", lambda b: b["data"][0]["user"].update(email="a@b.com"), "data.0.user.email:"),
    ("user_plain_email_in_list", lambda b: b["data"][0]["user"].update(email=[HASH, "a@b.com"]), "data.0.user.email.1:"),
    ("user_upper_hash", lambda b: b["data"][0]["user"].update(phone=HASH.upper()), "data.0.user.phone:"),
    ("user_plain_external_id", lambda b: b["data"][0]["user"].update(external_id=["u1"]), "data.0.user.external_id.0:"),
    ("user_number", lambda b: b["data"][0]["user"].update(ip=1), "data.0.user.ip:"),
    ("user_list_of_numbers", lambda b: b["data"][0]["user"].update(locale=[1]), "data.0.user.locale.0:"),
    ("props_not_object", lambda b: b["data"][0].update(properties="x"), "data.0.properties:"),
    ("content_id_number", lambda b: b["data"][0]["properties"]["contents"].append({"content_id": 7}), "data.0.properties.contents.1.content_id: Not a valid string"),
    ("content_price_string", lambda b: b["data"][0]["properties"]["contents"][0].update(price="1"), "data.0.properties.contents.0.price:"),
    ("content_quantity_float", lambda b: b["data"][0]["properties"]["contents"][0].update(quantity=1.5), "data.0.properties.contents.0.quantity:"),
    ("content_nested", lambda b: b["data"][0]["properties"]["contents"][0].update(brand={}), "data.0.properties.contents.0.brand:"),
    ("contents_not_list", lambda b: b["data"][0]["properties"].update(contents={}), "data.0.properties.contents:"),
    ("content_not_object", lambda b: b["data"][0]["properties"].update(contents=[1]), "data.0.properties.contents.0:"),
    ("value_string", lambda b: b["data"][0]["properties"].update(value="9.99"), "data.0.properties.value:"),
    ("value_bool", lambda b: b["data"][0]["properties"].update(value=True), "data.0.properties.value:"),
    ("content_ids_numbers", lambda b: b["data"][0]["properties"].update(content_ids=[1]), "data.0.properties.content_ids:"),
    ("property_object", lambda b: b["data"][0]["properties"].update(extra={"a": 1}), "data.0.properties.extra:"),
    ("property_list", lambda b: b["data"][0]["properties"].update(extra=[1]), "data.0.properties.extra:"),
    ("property_null", lambda b: b["data"][0]["properties"].update(currency=None), "data.0.properties.currency: Field may not be null"),
    ("page_not_object", lambda b: b["data"][0].update(page="x"), "data.0.page:"),
    ("page_url_number", lambda b: b["data"][0]["page"].update(url=1), "data.0.page.url:"),
    ("ldu_string", lambda b: b["data"][0].update(limited_data_use="false"), "data.0.limited_data_use:"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "message"), [pytest.param(m, msg, id=i) for i, m, msg in INVALID]
)
def test_invalid_request_is_40002_naming_the_path(api: Api, mutate: Any, message: str) -> None:
    body = make_body([make_event(0, api.clock.now)])
    mutate(body)
    answer = api.post(body).json()
    assert answer["code"] == 40002
    assert answer["message"].startswith(message), answer["message"]


def test_error_names_the_index_of_the_bad_event(api: Api) -> None:
    events = [make_event(i, api.clock.now) for i in range(5)]
    events[3]["event_id"] = 3
    answer = api.post(make_body(events)).json()
    assert answer["code"] == 40002
    assert answer["message"] == "data.3.event_id: Not a valid string."


def test_one_bad_event_rejects_the_whole_request(api: Api) -> None:
    events = [make_event(i, api.clock.now) for i in range(3)]
    events[2]["user"]["email"] = "alice@example.com"
    assert api.post(make_body(events)).json()["code"] == 40002
    summary = api.server.summary()
    assert summary["accepted"]["events"] == 0
    assert summary["refused"] == {"requests": 1, "events": 3, "by_code": {"40002": 1}}
    assert api.server.events() == []


def test_more_than_1000_events_rejects_the_request(api: Api) -> None:
    events = [make_event(i, api.clock.now) for i in range(1001)]
    answer = api.post(make_body(events)).json()
    assert answer["code"] == 40002
    assert answer["message"] == "data: Length must be between 1 and 1000."
    assert api.send(1000)["code"] == 0


@pytest.mark.parametrize("raw", [b"not json", b"", b"{", b"[1, 2]", b'"web"'])
def test_non_json_or_non_object_body_is_40002(api: Api, raw: bytes) -> None:
    answer = api.post(None, raw=raw).json()
    assert answer["code"] == 40002


def test_events_older_than_max_age_are_refused(api: Api, clock: FakeClock) -> None:
    events = [make_event(i, clock.now) for i in range(3)]
    events[2]["event_time"] = int(clock.now) - 7 * 86_400 - 1
    answer = api.post(make_body(events)).json()
    assert answer["code"] == 40002
    assert answer["message"] == "data.2.event_time: event is older than 7 days"
    events[2]["event_time"] = int(clock.now) - 7 * 86_400 + 60
    assert api.post(make_body(events)).json()["code"] == 0


def test_max_age_is_configurable(
    make_server: ServerFactory, client: httpx.Client, clock: FakeClock
) -> None:
    server = make_server(max_age_s=3600)
    api = Api(client, server, clock)
    old = make_event(1, clock.now - 3601)
    answer = api.post(make_body([old])).json()
    assert answer["message"] == "data.0.event_time: event is older than 1 hour"


def test_events_far_in_the_future_are_refused(api: Api, clock: FakeClock) -> None:
    answer = api.post(make_body([make_event(1, clock.now + 3600)])).json()
    assert answer["code"] == 40002
    assert answer["message"].startswith("data.0.event_time:")
    assert api.post(make_body([make_event(1, clock.now + 60)])).json()["code"] == 0


def test_unknown_fields_are_tolerated(api: Api) -> None:
    event = make_event(1, api.clock.now, device={"platform": "macOS"}, custom_flag="x")
    event["properties"]["gtm_version"] = "1"
    assert api.post(make_body([event], partner_name="Masivo")).json()["code"] == 0


def test_unknown_path_is_404_and_wrong_method_405(api: Api, server: EmulatorServer) -> None:
    assert api.http.post(server.url + "/open_api/v1.3/pixel/track/", json={}).status_code == 404
    assert api.http.get(server.url + "/").status_code == 404
    assert api.http.get(server.url + "/_emulator/nope").status_code == 404
    response = api.http.get(server.track_url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert api.http.get(server.url + "/_emulator/reset").status_code == 405


def test_request_ids_are_deterministic_with_a_seed(
    make_server: ServerFactory, client: httpx.Client, clock: FakeClock
) -> None:
    ids = []
    for _ in range(2):
        server = make_server(seed=7)
        api = Api(client, server, clock)
        ids.append([api.send()["request_id"] for _ in range(3)])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3


def test_pixel_constant_used_by_fixtures_is_tiktok_shaped() -> None:
    assert re.fullmatch(r"[0-9A-Z]{20}", PIXEL)
