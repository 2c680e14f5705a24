"""``issued_at`` → ``event_time``, and the too-old / future rules."""

from __future__ import annotations

import pytest

from tests.transforms.support import NOW, OPTIONS, dropped, options, rejected, send_one
from transforms import DropReason, RejectReason, is_too_old, parse_issued_at

T = 1_795_514_400  # 2026-11-24T10:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-24T10:00:00Z", T, id="iso-z"),
        pytest.param("2026-11-24T10:00:00+00:00", T, id="iso-utc-offset"),
        pytest.param("2026-11-24T04:00:00-06:00", T, id="iso-negative-offset"),
        pytest.param("2026-11-24T15:30:00+05:30", T, id="iso-half-hour-offset"),
        pytest.param("2026-11-24T10:00:00", T, id="iso-naive-is-utc"),
        pytest.param("2026-11-24 10:00:00", T, id="iso-space"),
        pytest.param("2026-11-24T10:00:00.999Z", T, id="iso-fraction-floored"),
        pytest.param(" 2026-11-24T10:00:00Z ", T, id="iso-padded"),
        pytest.param(T, T, id="unix-seconds"),
        pytest.param(T + 0.9, T, id="unix-seconds-float"),
        pytest.param(T * 1000 + 999, T, id="unix-ms"),
        pytest.param(str(T), T, id="digit-string-seconds"),
        pytest.param(str(T * 1000), T, id="digit-string-ms"),
        pytest.param(f"{T}.5", T, id="decimal-string"),
        pytest.param(99_999_999_999, 99_999_999_999, id="just-below-ms-threshold"),
        pytest.param(100_000_000_000, 100_000_000, id="ms-threshold"),
    ],
)
def test_parse_issued_at(value: object, expected: int) -> None:
    assert parse_issued_at(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="words"),
        pytest.param("2026-13-01T00:00:00Z", id="bad-month"),
        pytest.param("", id="empty"),
        pytest.param(True, id="bool"),
        pytest.param(0, id="zero"),
        pytest.param(-5, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(10**400, id="huge-int"),
        pytest.param({"t": 1}, id="object"),
        pytest.param([T], id="array"),
        pytest.param("0001-01-01T00:00:00Z", id="before-epoch"),
    ],
)
def test_unreadable_issued_at(value: object) -> None:
    assert parse_issued_at(value) is None
    reject = rejected({"type": "Contact", "issued_at": value})
    assert reject.reason == RejectReason.INVALID_TIMESTAMP
    assert reject.detail.startswith("issued_at:")


def test_event_time_is_an_int_from_issued_at() -> None:
    event = send_one({"type": "Contact", "issued_at": "2026-11-24T10:00:00Z"})
    assert event["event_time"] == T
    assert type(event["event_time"]) is int


@pytest.mark.parametrize("value", [pytest.param(None, id="null"), pytest.param(..., id="absent")])
def test_missing_issued_at_uses_now(value: object) -> None:
    raw: dict[str, object] = {"type": "Contact"}
    if value is not ...:
        raw["issued_at"] = value
    assert send_one(raw, now=NOW + 0.7)["event_time"] == int(NOW)


@pytest.mark.parametrize(
    ("age_s", "outcome"),
    [
        pytest.param(7 * 86400 - 1, "send", id="just-under-7-days"),
        pytest.param(7 * 86400, "send", id="exactly-7-days"),
        pytest.param(7 * 86400 + 1, "drop", id="just-over-7-days"),
        pytest.param(30 * 86400, "drop", id="a-month"),
    ],
)
def test_seven_day_rule(age_s: int, outcome: str) -> None:
    raw = {"type": "Contact", "issued_at": int(NOW) - age_s}
    if outcome == "drop":
        assert dropped(raw).reason == DropReason.TOO_OLD
        assert is_too_old(int(NOW) - age_s, OPTIONS, NOW)
    else:
        send_one(raw)
        assert not is_too_old(int(NOW) - age_s, OPTIONS, NOW)


def test_age_limit_comes_from_options() -> None:
    raw = {"type": "Contact", "issued_at": int(NOW) - 3600}
    assert dropped(raw, options(max_event_age_s=60)).reason == DropReason.TOO_OLD


@pytest.mark.parametrize(
    ("ahead_s", "ok"),
    [
        pytest.param(0, True, id="now"),
        pytest.param(300, True, id="at-skew"),
        pytest.param(301, False, id="past-skew"),
        pytest.param(86400, False, id="a-day-ahead"),
    ],
)
def test_future_timestamps(ahead_s: int, ok: bool) -> None:
    raw = {"type": "Contact", "issued_at": int(NOW) + ahead_s}
    if ok:
        send_one(raw)
    else:
        reject = rejected(raw)
        assert reject.reason == RejectReason.FUTURE_TIMESTAMP
        assert reject.detail.startswith("issued_at:")


def test_future_skew_comes_from_options() -> None:
    raw = {"type": "Contact", "issued_at": int(NOW) + 100}
    assert rejected(raw, options(max_future_skew_s=10)).reason == RejectReason.FUTURE_TIMESTAMP
