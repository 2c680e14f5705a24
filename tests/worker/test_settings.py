"""Destination settings: validation names the destination and field, never the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.settings import Settings, load_settings

TOKEN = "tok-SUPER-secret-123456"


def write(tmp_path: Path, text: str, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_destination_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOK_PIXEL_CODE", "C9AAAAAAAAAAAAAAAAAA")
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("TIKTOK_TEST_EVENT_CODE", "TEST12345")
    monkeypatch.setenv("TIKTOK_RATE_LIMIT", "250")
    s = load_settings()
    d = s.destination("default")
    assert d.pixel_code == "C9AAAAAAAAAAAAAAAAAA"
    assert d.access_token.get_secret_value() == TOKEN
    assert d.test_event_code == "TEST12345"
    assert s.rate_limit == 250
    assert TOKEN not in repr(s)
    assert TOKEN not in str(d)


def test_many_destinations_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
destinations:
  - id: brand-a
    pixel_code: C9XXXXXXXXXXXXXXXXXX
    access_token: "{TOKEN}"
    test_event_code: TEST12345
    rate_limit: 500
    default_currency: mxn
    phone_region: mx
    max_event_age_days: 3
    features: {{events: true, conversions: false, purchases: true, audiences: false, customer_tags: true}}
  - id: brand-b
    pixel_code: D17TA5JC77UDOT6CA5FG
    access_token: other-token
""",
    )
    s = Settings(destinations_file=path)
    a = s.destination("brand-a")
    assert a.default_currency == "MXN"
    assert a.phone_region == "MX"
    opts = a.transform_options()
    assert opts.max_event_age_s == 3 * 86400
    assert opts.features.conversions is False
    assert opts.features.audiences is False
    assert opts.destination_id == "brand-a"
    assert set(s.destinations) == {"brand-a", "brand-b"}


def test_destinations_from_json(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"destinations": [{"id": "j", "pixel_code": "C9XXXXXXXXXXXXXXXXXX", "access_token": "t0ken-xyz"}]}',
        "d.json",
    )
    assert list(Settings(destinations_file=path).destinations) == ["j"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "  - {id: a, pixel_code: c9lower, access_token: T}",
            "destination 'a': pixel_code",
            id="pixel-shape",
        ),
        pytest.param(
            "  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: '  '}",
            "destination 'a': access_token: is required",
            id="blank-token",
        ),
        pytest.param(
            "  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX}",
            "destination 'a': access_token",
            id="missing-token",
        ),
        pytest.param(
            "  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T, default_currency: PESOS}",
            "default_currency",
            id="currency",
        ),
        pytest.param(
            "  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T, rate_limit: -1}",
            "rate_limit",
            id="rate",
        ),
        pytest.param(
            "  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T, colour: red}",
            "colour",
            id="unknown-field",
        ),
        pytest.param(
            "  - {pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T}",
            "destinations[0]: id",
            id="missing-id",
        ),
    ],
)
def test_invalid_destinations_name_destination_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path, "destinations:\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        _ = Settings(destinations_file=path).destinations
    assert expected in str(info.value)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """destinations:
  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T1}
  - {id: a, pixel_code: C9YXXXXXXXXXXXXXXXXX, access_token: T2}
""",
    )
    with pytest.raises(ConfigError, match="'a': id is defined twice"):
        _ = Settings(destinations_file=path).destinations


def test_a_token_never_appears_in_a_validation_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"destinations:\n  - {{id: a, pixel_code: bad, access_token: '{TOKEN}', rate_limit: '{TOKEN}'}}\n",
    )
    with pytest.raises(ConfigError) as info:
        _ = Settings(destinations_file=path).destinations
    assert TOKEN not in str(info.value)
    assert "rate_limit" in str(info.value)


def test_a_non_c9_pixel_is_warned_about_not_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path,
        f"destinations:\n  - {{id: a, pixel_code: D17TA5JC77UDOT6CA5FG, access_token: '{TOKEN}'}}\n",
    )
    with caplog.at_level(logging.WARNING):
        dests = Settings(destinations_file=path).destinations
    assert "a" in dests
    assert "does not start with C9" in caplog.text
    assert TOKEN not in caplog.text


def test_unreadable_or_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        _ = Settings(destinations_file=tmp_path / "missing.yaml").destinations
    with pytest.raises(ConfigError, match="not valid YAML or JSON"):
        _ = Settings(destinations_file=write(tmp_path, "destinations: [unclosed")).destinations
    with pytest.raises(ConfigError, match="'destinations' list"):
        _ = Settings(destinations_file=write(tmp_path, "hello: 1")).destinations


def test_default_env_destination_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOK_PIXEL_CODE", "C9AAAAAAAAAAAAAAAAAA")
    with pytest.raises(ConfigError, match="TIKTOK_ACCESS_TOKEN"):
        load_settings()


def test_unknown_destination_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path, "destinations:\n  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T}\n"
    )
    with pytest.raises(ConfigError, match=r"unknown destination 'zz' \(known: a\)"):
        Settings(destinations_file=path).destination("zz")


def test_rate_keeps_headroom_and_burst_holds_one_batch(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "destinations:\n  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T, rate_limit: 200}\n",
    )
    s = Settings(destinations_file=path, rate_limit=1000)
    d = s.destination("a")
    assert s.rate_for(d) == pytest.approx(198)
    assert s.burst_for(d) == 1000  # one full batch
    assert s.request_size_for(d) == 500
    assert s.bucket_capacity_for(d) == 500  # the other half is slack at TikTok


def test_without_a_rate_limit_requests_carry_full_batches(tmp_path: Path) -> None:
    path = write(
        tmp_path, "destinations:\n  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T}\n"
    )
    s = Settings(destinations_file=path, rate_limit=0)
    assert s.request_size_for(s.destination("a")) == 1000


def test_demo_with_real_credentials_insists_on_a_test_event_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.demo import run_demo

    monkeypatch.setenv("TIKTOK_PIXEL_CODE", "C9AAAAAAAAAAAAAAAAAA")
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="TIKTOK_TEST_EVENT_CODE") as info:
        run_demo(load_settings(), events=10, timeout=5.0)
    assert TOKEN not in str(info.value)
