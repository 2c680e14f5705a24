"""``masivo-tiktok demo``: refusals that happen before anything starts (the full run is in
tests/system/test_operator_cli.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.support import run

TOKEN = "tok-SUPER-secret-123456"


def test_real_credentials_without_a_test_event_code_exit_2_without_the_token(
    tmp_path: Path,
) -> None:
    env = {
        "TIKTOK_PIXEL_CODE": "C9AAAAAAAAAAAAAAAAAA",
        "TIKTOK_ACCESS_TOKEN": TOKEN,
        "MASIVO_TIKTOK_DATA_DIR": str(tmp_path),
    }
    result = run("demo", "--events", "10", env=env, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("masivo-tiktok demo: ") and "TIKTOK_TEST_EVENT_CODE" in line
    assert TOKEN not in result.stderr + result.stdout
    assert not (tmp_path / "demo").exists()


def test_a_sample_of_no_events_is_bad_usage() -> None:
    result = run("demo", "--events", "0")
    assert result.returncode == 2
    assert "Invalid value for '--events'" in result.stderr
