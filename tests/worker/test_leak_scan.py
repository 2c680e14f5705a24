"""tests/leakscan.py, the helper reliability tests use to prove nothing leaked, is itself sound."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import orjson
import pytest

from tests.leakscan import forms_of, scan_for_leaks

SECRET = 'tok-"caf\u00e9"-\x01-5ecret'
EMAIL = "maria.perez@example.mx"
PHONE = "+5215512345678"


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda s: f"header {s} sent", id="raw"),
        pytest.param(lambda s: json.dumps({"t": s}), id="json-ascii"),
        pytest.param(lambda s: orjson.dumps({"t": s}).decode(), id="json-utf8"),
        pytest.param(lambda s: repr({"t": s}), id="repr"),
        pytest.param(lambda s: repr(f"it's {s}"), id="repr-other-quote"),
        pytest.param(lambda s: ascii([s]), id="ascii"),
        pytest.param(lambda s: s.encode("unicode_escape").decode(), id="unicode-escape"),
        pytest.param(lambda s: repr(s.encode()), id="bytes-repr"),
        pytest.param(lambda s: "?t=" + quote(s), id="url"),
        pytest.param(lambda s: "?t=" + quote_plus(s).lower(), id="url-lower"),
        pytest.param(lambda s: base64.b64encode(s.encode()).decode(), id="base64"),
        pytest.param(lambda s: base64.b64encode(b"Bearer:" + s.encode()).decode(), id="base64-in"),
        pytest.param(lambda s: base64.urlsafe_b64encode(b"x" + s.encode()).decode(), id="b64url"),
        pytest.param(lambda s: json.dumps({"exc": repr(ValueError(s))}), id="json-of-repr"),
        pytest.param(lambda s: repr(json.dumps(s)), id="repr-of-json"),
    ],
)
def test_a_secret_is_found_in_every_spelling(spell: Callable[[str], str]) -> None:
    text = spell(SECRET)
    assert scan_for_leaks([text], [SECRET]) != []
    assert scan_for_leaks([text.encode("utf-8")], [SECRET]) != []  # bytes too


def test_clean_texts_and_other_secrets_are_not_findings() -> None:
    texts = ["delivered 1000 events", b"\x00\xff binary", "tok-caf-5ecret", "[redacted]"]
    assert scan_for_leaks(texts, [SECRET, "another-token-123"]) == []


def test_findings_name_text_and_spelling_but_never_the_secret() -> None:
    found = scan_for_leaks(["ok", json.dumps(SECRET), f"mail {EMAIL}"], [SECRET], needles=[EMAIL])
    assert found == ["text 1: secret 0 as json-ascii", "text 2: needle 0 as raw"]
    assert all(SECRET not in line and EMAIL not in line for line in found)


def test_emails_and_phones_are_found_as_extra_needles() -> None:
    texts = [f"customer {PHONE}", quote(EMAIL)]
    assert scan_for_leaks(texts, [], needles=[EMAIL, PHONE]) == [
        "text 0: needle 1 as raw",
        "text 1: needle 0 as url",
    ]


def test_an_empty_needle_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        scan_for_leaks(["x"], [""])


def test_every_spelling_is_distinct_and_named() -> None:
    forms = forms_of(SECRET)
    assert forms["raw"] == SECRET
    assert len(set(forms.values())) == len(forms)
    assert {"json", "json-ascii", "repr", "ascii", "bytes-repr", "url", "base64@0"} <= set(forms)
