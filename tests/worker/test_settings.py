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


def test_demo_with_real_credentials_insists_on_a_test_event_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.demo import run_demo

    monkeypatch.setenv("TIKTOK_PIXEL_CODE", "C9AAAAAAAAAAAAAAAAAA")
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="TIKTOK_TEST_EVENT_CODE") as info:
        run_demo(load_settings(), events=10, timeout=5.0)
    assert TOKEN not in str(info.value)


# -- issue 9: a token that cannot be an HTTP header value is refused, and never quoted --------

BAD_TOKENS = [
    pytest.param("tok-caf\u00e9-5ecret-0123", id="accent"),
    pytest.param('tok-"quoted"-\u00e9-\x01-secret', id="accent-quote-control"),
    pytest.param("tok-\x01-control-secret", id="control"),
    pytest.param("tok with-a-space-secret", id="inner-space"),
    pytest.param("tok-\u201csmart\u201d-secret", id="typographic-quotes"),
    pytest.param("tok-\x7f-delete-secret", id="delete"),
    pytest.param("tok-\n-newline-secret", id="newline"),
]


def assert_secret_free(message: str, token: str) -> None:
    from tests.leakscan import scan_for_leaks

    assert scan_for_leaks([message], [token]) == []
    assert "\u00e9" not in message and "\x01" not in message


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_token_that_is_no_header_value_is_refused_in_a_file(tmp_path: Path, token: str) -> None:
    import json

    path = write(
        tmp_path,
        json.dumps(
            {
                "destinations": [
                    {"id": "a", "pixel_code": "C9XXXXXXXXXXXXXXXXXX", "access_token": token}
                ]
            }
        ),
        "d.json",
    )
    with pytest.raises(ConfigError) as info:
        _ = Settings(destinations_file=path).destinations
    message = str(info.value)
    assert f"{path}: destination 'a': access_token: must be visible ASCII only" in message
    assert_secret_free(message, token)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_token_that_is_no_header_value_is_refused_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("TIKTOK_PIXEL_CODE", "C9AAAAAAAAAAAAAAAAAA")
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", token)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(
        "environment: destination 'default': access_token (TIKTOK_ACCESS_TOKEN): must be visible"
    )
    assert_secret_free(message, token)


def test_every_visible_ascii_character_is_a_valid_token() -> None:
    from worker.settings import Destination

    token = "".join(chr(c) for c in range(0x21, 0x7F))
    dest = Destination(id="a", pixel_code="C9XXXXXXXXXXXXXXXXXX", access_token=f"  {token}\n")
    assert dest.access_token.get_secret_value() == token  # surrounding blanks trimmed


def test_pydantic_errors_never_quote_a_secret_input() -> None:
    from pydantic import ValidationError

    from worker.settings import Destination

    token = 'tok-"\u00e9\x01-secret'
    with pytest.raises(ValidationError) as info:
        Destination(id="a", pixel_code="C9XXXXXXXXXXXXXXXXXX", access_token=token)
    assert "input_value" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        Settings(sentry_dsn=123, rate_limit=token)
    assert "input_value" not in str(info.value)


# -- issue 8: one alias mechanism, one feature-switch model -------------------------------------


def test_every_setting_has_one_environment_variable_and_both_spellings_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.settings import env_name

    names = {field: env_name(field) for field in Settings.model_fields}
    assert names["redis_url"] == "REDIS_URL"
    assert names["rate_limit"] == "TIKTOK_RATE_LIMIT"
    assert names["linger_s"] == "MASIVO_TIKTOK_LINGER"
    assert len(set(names.values())) == len(names)
    for field, var in names.items():
        alias = Settings.model_fields[field].validation_alias
        assert alias == var, f"{field}: declare it with env({var!r}, ...)"
        assert Settings.model_fields[field].description, f"{field}: needs a docstring"
    assert Settings(rate_limit=5).rate_limit == 5
    assert Settings(TIKTOK_RATE_LIMIT=6).rate_limit == 6
    monkeypatch.setenv("MASIVO_TIKTOK_LINGER", "0.25")
    assert Settings().linger_s == 0.25
    assert Settings(linger_s=1).linger_s == 1  # a keyword beats the environment
    with pytest.raises(ConfigError, match=r"^environment: MASIVO_TIKTOK_BATCH_SIZE: "):
        load_settings(batch_size=5000)
    with pytest.raises(ConfigError, match=r"^environment: MASIVO_TIKTOK_BATCH_SIZE: "):
        load_settings(MASIVO_TIKTOK_BATCH_SIZE=5000)


def test_feature_switches_are_the_transforms_own_switches() -> None:
    """Settings validates transforms' model itself: the two can never drift apart."""
    import dataclasses

    from transforms import Features
    from transforms.names import Switch
    from worker.settings import Destination, FeatureSwitches

    assert FeatureSwitches is Features
    fields = {f.name for f in dataclasses.fields(Features)}
    switches = {v for k, v in vars(Switch).items() if k.isupper()}
    assert fields == switches
    assert Destination.model_fields["features"].annotation is Features
    dest = Destination(
        id="a",
        pixel_code="C9XXXXXXXXXXXXXXXXXX",
        access_token="tok",
        features={"purchases": False},
    )
    assert dest.transform_options().features == Features(purchases=False)
    with pytest.raises(Exception, match="colour"):
        Destination(
            id="a", pixel_code="C9XXXXXXXXXXXXXXXXXX", access_token="t", features={"colour": 1}
        )


def test_unknown_feature_switches_are_refused_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "destinations:\n  - {id: a, pixel_code: C9XXXXXXXXXXXXXXXXXX, access_token: T, "
        "features: {purchase: false}}\n",
    )
    with pytest.raises(ConfigError, match=r"destination 'a': features\.purchase: "):
        _ = Settings(destinations_file=path).destinations
