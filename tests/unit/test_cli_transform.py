"""`masivo-tiktok transform`: one JSON line out per line in, in order; exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from worker.cli import main

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
        pytest.param(["transform", "--now", "yesterday"], {}, "not a time", id="bad-now"),
        pytest.param(
            ["transform"],
            {"MASIVO_TIKTOK_DESTINATIONS": "/no/such.yaml"},
            "MASIVO_TIKTOK_DESTINATIONS",
            id="bad-config",
        ),
    ],
)
def test_bad_usage_or_configuration_exits_2_with_one_line(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith("masivo-tiktok")
    )  # one line, after usage


def test_main_is_importable_and_returns_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transform", "--destination", "nope"]) == 2
    assert "unknown destination" in capsys.readouterr().err
