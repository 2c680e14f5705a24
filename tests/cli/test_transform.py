"""`masivo-tiktok transform`: one JSON line out per line in, in order; exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from cli import main

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "masivo-tiktok")
NOW = "2026-11-24T12:00:00Z"


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def test_every_line_gets_exactly_one_outcome_in_order() -> None:
    lines = [
        '{"id": "1", "type": "purchase", "issued_at": "2026-11-24T11:00:00Z", "order": {"purchase_id": "o1", "value": 10, "currency": "MXN", "products": [{"sku": 7, "amount": 2, "value": 10}]}}',
        "not json at all",
        "[1, 2]",
        '{"type": "view_item", "issued_at": 1700000000}',
        '{"id": "x", "type": "free_trial_started", "issued_at": 1795518000000, "metadata": {"plan": {"name": "Pro"}}}',
    ]
    result = run("transform", "--now", NOW, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert [o["outcome"] for o in out] == ["send", "reject", "reject", "drop", "send"]
    purchase = out[0]["events"][0]
    assert purchase["event"] == "CompletePayment"
    assert purchase["properties"]["contents"][0] == {"content_id": "7", "quantity": 2, "price": 5}
    assert out[1]["reason"] == "invalid_json"
    assert out[2]["reason"] == "not_an_object"
    assert out[3]["reason"] == "too_old"
    assert out[4]["events"][0]["properties"]["custom_plan_name"] == "Pro"


def test_reads_a_file_and_the_sample_covers_every_outcome() -> None:
    result = run("transform", str(ROOT / "samples" / "events.jsonl"), "--now", NOW)
    assert result.returncode == 0, result.stderr
    outcomes = {orjson.loads(x)["outcome"] for x in result.stdout.splitlines()}
    assert outcomes == {"send", "drop", "reject"}


def test_destination_settings_shape_the_preview(tmp_path: Path) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        "destinations:\n  - {id: mx, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T0ken, default_currency: MXN, features: {events: false}}\n"
    )
    env = {"MASIVO_TIKTOK_DESTINATIONS": str(dfile)}
    search = '{"type": "search", "query": "x", "issued_at": "2026-11-24T11:00:00Z"}\n'
    dropped = orjson.loads(
        run("transform", "--destination", "mx", "--now", NOW, stdin=search, env=env).stdout
    )
    assert (dropped["outcome"], dropped["reason"]) == ("drop", "feature_disabled")
    cart = '{"type": "add_to_cart", "value": 5, "items": [{"id": 1}], "issued_at": "2026-11-24T11:00:00Z"}\n'
    out = orjson.loads(
        run("transform", "--destination", "mx", "--now", NOW, stdin=cart, env=env).stdout
    )
    assert out["events"][0]["properties"]["currency"] == "MXN"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["transform", "--destination", "nope"],
            {},
            "unknown destination 'nope'",
            id="unknown-destination",
        ),
        pytest.param(
            ["transform", "/no/such/file"], {}, "cannot read /no/such/file", id="missing-file"
        ),
        pytest.param(
            ["transform"],
            {"MASIVO_TIKTOK_DESTINATIONS": "/no/such.yaml"},
            "MASIVO_TIKTOK_DESTINATIONS",
            id="bad-config",
        ),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("masivo-tiktok transform: ")


def test_bad_usage_exits_2_with_usage_and_the_error_last() -> None:
    result = run("transform", "--now", "yesterday")
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: masivo-tiktok transform")
    assert result.stderr.strip().splitlines()[-1].startswith("Error: Invalid value for '--now'")
    assert "not a time" in result.stderr


def test_main_is_importable_and_returns_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["transform", "--destination", "nope"], standalone_mode=False) == 2
    assert "unknown destination" in capsys.readouterr().err


def test_blank_lines_bom_and_any_newline_still_give_one_line_out_per_line_in(
    tmp_path: Path,
) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(
        b'\xef\xbb\xbf{"type":"search","query":"a","issued_at":"2026-11-24T11:00:00Z"}\r\n'
        b"\r\n"
        b'   \n{"type":"search","query":"b","issued_at":"2026-11-24T11:00:00Z"}\r'
        b'{"type":"search","query":"c","issued_at":"2026-11-24T11:00:00Z"}\n'
        b"\xff\xfe not utf-8\n"
    )
    result = run("transform", str(src), "--now", NOW)
    assert result.returncode == 0, result.stderr
    out = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert [o["outcome"] for o in out] == ["send", "reject", "reject", "send", "send", "reject"]
    assert out[1]["detail"] == "line is empty"
    assert [o["events"][0]["properties"]["query"] for o in out if o["outcome"] == "send"] == [
        "a",
        "b",
        "c",
    ]


@pytest.mark.parametrize("now", ["1e30", "nan", "inf", "-5", "0"])
def test_absurd_now_values_are_usage_errors(now: str) -> None:
    result = run("transform", "--now", now)
    assert result.returncode == 2
    assert "not a time" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("yaml_body", "message"),
    [
        pytest.param("max_event_age_days: .inf", "max_event_age_days", id="infinite-age"),
        pytest.param("max_event_age_days: 1.0e-9", "max_event_age_days", id="zero-age"),
        pytest.param("max_event_age_days: true", "not a boolean", id="boolean-age"),
        pytest.param("phone_region: UK", "phone_region", id="unknown-region"),
    ],
)
def test_settings_that_would_fail_silently_are_refused(
    tmp_path: Path, yaml_body: str, message: str
) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        f"destinations:\n  - id: mx\n    pixel_code: C9XXXXXXXXXXXXXXXXXX\n    access_token: T0ken\n    {yaml_body}\n"
    )
    result = run("transform", "--destination", "mx", env={"MASIVO_TIKTOK_DESTINATIONS": str(dfile)})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_destinations_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_bytes(
        "destinations:\n  - {id: m\u00e9x, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T0ken}\n".encode(
            "latin-1"
        )
    )
    result = run("transform", env={"MASIVO_TIKTOK_DESTINATIONS": str(dfile)})
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr


def test_ids_differing_only_by_case_are_refused(tmp_path: Path) -> None:
    dfile = tmp_path / "d.yaml"
    dfile.write_text(
        "destinations:\n  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T0ken}\n  - {id: A, pixel_code: C9YXXXXXXXXXXXXXXXXX, access_token: T0ken2}\n"
    )
    result = run("transform", env={"MASIVO_TIKTOK_DESTINATIONS": str(dfile)})
    assert result.returncode == 2
    assert "only by case" in result.stderr
    assert str(dfile) in result.stderr


def test_a_bad_environment_variable_is_named(tmp_path: Path) -> None:
    result = run("transform", env={"TIKTOK_RATE_LIMIT": "fast"})
    assert result.returncode == 2
    assert "TIKTOK_RATE_LIMIT" in result.stderr


def test_unreachable_redis_is_one_line_and_exit_2() -> None:
    result = run("status", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    assert "cannot reach Redis" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("size", ["0", "-3", "lots"])
def test_enqueue_chunk_size_must_be_positive(size: str) -> None:
    result = run("enqueue", "-", "--chunk-size", size)
    assert result.returncode == 2
    assert "--chunk-size" in result.stderr
