"""Match quality for operators (issue 10, point 8): ``quality``, ``status --json``, the
Prometheus metrics, the ``transform`` preview, and the destination options behind them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from prometheus_client import generate_latest

from cli.metrics import registry_for
from cli.quality import HINTS, KEY_COLUMNS, quality, quality_rows, quality_text
from cli.status import status
from tests.cli.support import NOW, destinations_env, run
from transforms.quality import MatchKey, QualityWarning
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import keys

DESTINATIONS = """destinations:
  - {id: brand-a, pixel_code: C9AAAAAAAAAAAAAAAAAA, access_token: tok-a, default_currency: MXN}
  - {id: brand-b, pixel_code: C9AAAAAAAAAAAAAAAAAB, access_token: tok-b}
"""


@pytest.fixture
def rt(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> Runtime:
    dfile = tmp_path / "destinations.yaml"
    dfile.write_text(DESTINATIONS)
    settings = Settings(redis_url=redis_url, destinations_file=dfile, data_dir=tmp_path)
    return Runtime(
        settings=settings,
        redis=redis_client,
        client=None,  # type: ignore[arg-type]  # nothing here talks to TikTok
        schedule_flush=lambda *args, **kwargs: None,
    )


def _sample(now: int) -> list[Any]:
    item = {"sku": "s1", "price": 10}
    return [
        {"id": "1", "type": "add_to_cart", "customer_id": "c1", "issued_at": now, "items": [item]},
        {
            "id": "2",
            "type": "add_to_cart",
            "email": "ana(at)mail.com",
            "issued_at": now,
            "context": {"ip": "203.0.113.1", "user_agent": "UA"},
            "value": 10,
            "items": [item],
        },
        {"id": "3", "type": "trial_started", "customer_id": "c2", "issued_at": now, "ssn": "x"},
        {"id": "4", "type": "plan_changed", "customer_id": "c3", "issued_at": now},
        {"id": "5", "type": "add_to_cart", "issued_at": now - 30 * 86400},  # dropped: too old
    ]


def test_quality_report_table_status_and_metrics(rt: Runtime) -> None:
    ingest(rt, "brand-a", _sample(int(time.time()) - 60))
    report = quality(rt)
    assert set(report) == {"brand-a", "brand-b"}
    assert report["brand-b"] == {}
    cart = report["brand-a"]["AddToCart"]
    assert cart == {
        "events": 2,
        "keys": {"external_id": 1, "ip_user_agent": 1},
        "warnings": {"no_match_key": 1, "email_unusable": 1, "recommended_missing": 1},
    }
    assert status(rt, ["brand-a"])["brand-a"]["quality"] == report["brand-a"]

    text = quality_text(report)
    title, header, *rows = text.split("\n\n")[0].splitlines()
    assert title == "brand-a"
    assert header.split()[:2] == ["event", "events"]
    assert text.split("\n\n")[1] == "brand-b\n  no events sent yet"
    cart_row = next(r for r in rows if "AddToCart" in r)
    assert "50%" in cart_row and "no_match_key 50%" in cart_row
    assert f"no_match_key: {HINTS['no_match_key']}" in text
    assert "currency_missing:" not in text  # hints only for warnings that occurred

    exported = generate_latest(registry_for(lambda: rt)).decode()
    for line in (
        'masivo_tiktok_match_events_total{destination="brand-a",event="AddToCart"} 2.0',
        'masivo_tiktok_match_events_total{destination="brand-a",event="custom"} 2.0',
        'masivo_tiktok_match_key_total{destination="brand-a",event="AddToCart",key="external_id"} 1.0',
        'masivo_tiktok_match_key_total{destination="brand-a",event="custom",key="external_id"} 2.0',
        'masivo_tiktok_quality_warnings_total{destination="brand-a",event="AddToCart",warning="no_match_key"} 1.0',
        'masivo_tiktok_quality_warnings_total{destination="brand-a",event="custom",warning="params_ignored"} 1.0',
    ):
        assert line in exported, line
    assert "trial_started" not in exported  # custom names never become labels


def test_rows_cover_every_key_and_warning_in_a_fixed_order() -> None:
    assert list(KEY_COLUMNS) == list(MatchKey)
    assert list(HINTS) == list(QualityWarning)
    report = {
        "d": {
            "Search": {"events": 4, "keys": {"ttp": 1}, "warnings": {"params_ignored": 4}},
            "Lead": {"events": 0, "keys": {}, "warnings": {}},
        }
    }
    rows = quality_rows(report["d"])
    assert rows[0] == ["event", "events", *KEY_COLUMNS.values(), "warnings"]
    shares = ["0%", "0%", "0%", "0%", "25%", "0%", "0%"]
    assert rows[1] == ["Search", "4", *shares, "params_ignored 100%"]
    assert rows[2][2:] == ["-"] * 8
    assert quality_text({"d": {}}) == "no events sent yet: nothing to report on match quality"


def test_quality_command_and_status_json(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    env = destinations_env(tmp_path, redis_url, "brand-a", "brand-b")
    redis_client.hset(
        keys.quality("brand-a"),
        mapping={"Search|events": 10, "Search|key:external_id": 9, "Search|warn:no_match_key": 1},
    )
    as_json = run("quality", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert orjson.loads(as_json.stdout) == {
        "brand-a": {
            "Search": {"events": 10, "keys": {"external_id": 9}, "warnings": {"no_match_key": 1}}
        },
        "brand-b": {},
    }
    table = run("quality", "--destination", "brand-a", env=env)
    assert table.returncode == 0, table.stderr
    assert "90%" in table.stdout and "no_match_key 10%" in table.stdout
    assert "send customer_id with every event" in table.stdout
    unknown = run("quality", "--destination", "nope", env=env)
    assert unknown.returncode == 2
    assert "unknown destination 'nope'" in unknown.stderr
    report = orjson.loads(run("status", "--json", env=env).stdout)
    assert report["brand-a"]["quality"]["Search"]["events"] == 10
    assert report["brand-b"]["quality"] == {}


def test_transform_preview_shows_quality_beside_the_events() -> None:
    line = '{"type": "search", "query": "q", "issued_at": "2026-11-24T11:00:00Z"}\n'
    out = orjson.loads(run("transform", "--now", NOW, stdin=line).stdout)
    assert out["outcome"] == "send"
    assert set(out["events"][0]) == {"event", "event_time", "event_id", "properties"}
    assert out["quality"] == [
        {"event": "Search", "keys": [], "warnings": ["no_match_key"]},
    ]


def test_destination_options_shape_the_preview(tmp_path: Path) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        "destinations:\n"
        "  - id: shop\n"
        "    pixel_code: C9XXXXXXXXXXXXXXXXXX\n"
        "    access_token: T0ken\n"
        "    purchase_event_id: order_id\n"
        "    limited_data_use: true\n"
        "    event_map: {REGISTRATION: CompleteRegistration, ORDER_DONE: CompletePayment}\n"
    )
    env = {"MASIVO_TIKTOK_DESTINATIONS": str(dfile)}
    lines = [
        {"id": "r1", "type": "REGISTRATION", "customer_id": "c1"},
        {
            "id": "p1",
            "type": "ORDER_DONE",
            "order": {"purchase_id": "10045", "value": 5, "currency": "MXN"},
            "items": [{"sku": "a"}],
        },
        {"id": "p2", "type": "ORDER_DONE", "fulfilled": False, "items": [{"sku": "a"}]},
    ]
    stdin = "".join(
        orjson.dumps(x | {"issued_at": "2026-11-24T11:00:00Z"}).decode() + "\n" for x in lines
    )
    result = run("transform", "--destination", "shop", "--now", NOW, stdin=stdin, env=env)
    assert result.returncode == 0, result.stderr
    out = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert out[0]["events"][0]["event"] == "CompleteRegistration"
    assert out[0]["events"][0]["limited_data_use"] is True
    assert (out[1]["events"][0]["event"], out[1]["events"][0]["event_id"]) == (
        "CompletePayment",
        "10045",
    )
    assert (out[2]["outcome"], out[2]["reason"]) == ("drop", "not_fulfilled")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param(
            "event_map: {SIGNUP: completeregistration}",
            "destination 'shop': event_map: key 'SIGNUP': TikTok's names are case-sensitive",
            id="event-map-case",
        ),
        pytest.param(
            "event_map: {AUDIENCE: Lead}",
            "destination 'shop': event_map: key 'AUDIENCE'",
            id="event-map-special-key",
        ),
        pytest.param(
            "event_map: {SIGNUP: [1]}",
            "destination 'shop': event_map.SIGNUP:",
            id="event-map-not-text",
        ),
        pytest.param(
            "purchase_event_id: transaction",
            "destination 'shop': purchase_event_id:",
            id="purchase-event-id",
        ),
    ],
)
def test_bad_destination_options_are_refused_at_start_up(
    tmp_path: Path, option: str, message: str
) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        "destinations:\n  - id: shop\n    pixel_code: C9XXXXXXXXXXXXXXXXXX\n"
        f"    access_token: T0ken\n    {option}\n"
    )
    result = run(
        "transform", "--destination", "shop", env={"MASIVO_TIKTOK_DESTINATIONS": str(dfile)}
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert message in line
    assert "completeregistration" not in line  # the key is named, never the value
