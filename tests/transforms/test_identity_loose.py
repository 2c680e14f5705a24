"""Identity inputs given loosely: anonymous flags, address-like emails, numeric ids and
phones, Mexican legacy phone forms, and ``ttclid`` from the query string only."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.transforms.support import options, send_one
from transforms.identity import hash_email, normalise_email, normalise_phone


def _user(fields: dict[str, Any], region: str = "US") -> dict[str, Any]:
    raw = {"type": "ClickButton", "customer_id": "c1", **fields}
    return dict(send_one(raw, options(phone_region=region)).get("user", {}))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- is_anonymous (item 3) --------------------------------------------------------------


@pytest.mark.parametrize(
    "flag",
    [
        pytest.param(True, id="true"),
        pytest.param("true", id="string-true"),
        pytest.param(" TRUE ", id="string-true-upper"),
        pytest.param(1, id="one"),
        pytest.param("1", id="string-one"),
        pytest.param("yes", id="yes"),
        pytest.param("maybe", id="unreadable-is-anonymous"),
    ],
)
@pytest.mark.parametrize("where", ["top", "customer"])
def test_loose_anonymous_flags_hide_the_email(flag: object, where: str) -> None:
    if where == "top":
        fields: dict[str, Any] = {"email": "ana@gmail.com", "is_anonymous": flag}
    else:
        fields = {"customer": {"email": "ana@gmail.com", "is_anonymous": flag}}
    assert "email" not in _user(fields)


@pytest.mark.parametrize(
    "flag",
    [
        pytest.param(False, id="false"),
        pytest.param("false", id="string-false"),
        pytest.param(0, id="zero"),
        pytest.param("no", id="no"),
        pytest.param(None, id="null"),
    ],
)
def test_not_anonymous_flags_keep_the_email(flag: object) -> None:
    assert _user({"email": "ana@gmail.com", "is_anonymous": flag})["email"] == _sha("ana@gmail.com")


# --- emails (item 9) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        pytest.param(" Ana@Gmail.com ", "ana@gmail.com", id="trim-lower"),
        pytest.param("a@b.co", "a@b.co", id="short"),
        pytest.param("first.last+tag@sub.mail.mx", "first.last+tag@sub.mail.mx", id="plus-tag"),
        pytest.param("a@b.com.", "a@b.com.", id="root-dot"),
        pytest.param("a@b", None, id="no-dot-in-domain"),
        pytest.param("a@.com", None, id="dot-only-at-start"),
        pytest.param("a@com.", None, id="dot-only-at-end"),
        pytest.param("@b.com", None, id="empty-local"),
        pytest.param("a@", None, id="empty-domain"),
        pytest.param("a@@b.com", None, id="two-ats"),
        pytest.param("a@b@c.com", None, id="two-ats-apart"),
        pytest.param("a b@c.com", None, id="space-in-local"),
        pytest.param("a@c .com", None, id="space-in-domain"),
        pytest.param("a\t@c.com", None, id="tab"),
        pytest.param("plainaddress", None, id="no-at"),
    ],
)
def test_only_address_like_emails_are_sent(given: str, normal: str | None) -> None:
    assert normalise_email(given) == normal
    user = _user({"email": given})
    assert user.get("email") == (None if normal is None else _sha(normal))
    assert "external_id" in user


def test_prehashed_email_still_passes_through() -> None:
    digest = _sha("ana@gmail.com")
    assert hash_email(digest.upper()) == digest


# --- customer_id and phones as numbers (item 10) ---------------------------------------


@pytest.mark.parametrize(
    ("given", "text"),
    [
        pytest.param(123, "123", id="int"),
        pytest.param(123.0, "123", id="integral-float"),
        pytest.param(2**70, str(2**70), id="huge-int-exact"),
        pytest.param(12345678901234567890, "12345678901234567890", id="beyond-int64"),
        pytest.param(" 7 ", "7", id="string-trimmed"),
    ],
)
def test_customer_id_numbers(given: object, text: str) -> None:
    assert _user({"customer_id": given})["external_id"] == _sha(text)


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param(1.5, id="fraction"),
        pytest.param(float("nan"), id="nan"),
        pytest.param({"id": 1}, id="object"),
    ],
)
def test_customer_id_non_ids_are_omitted(given: object) -> None:
    raw = {"type": "ClickButton", "customer_id": given}
    assert "external_id" not in send_one(raw).get("user", {})


@pytest.mark.parametrize(
    ("fields", "region", "e164"),
    [
        pytest.param({"phone": 2133734253}, "US", "+12133734253", id="int-national"),
        pytest.param({"phone": 12133734253}, "US", "+12133734253", id="int-with-trunk-1"),
        pytest.param({"phone": 2133734253.0}, "US", "+12133734253", id="integral-float"),
        pytest.param({"customer": {"phone": 5512345678}}, "MX", "+525512345678", id="customer"),
        pytest.param({"phone": 12133734253}, None, "+12133734253", id="no-region-valid-e164"),
    ],
)
def test_phones_given_as_numbers(fields: dict[str, Any], region: str | None, e164: str) -> None:
    raw = {"type": "ClickButton", **fields}
    assert send_one(raw, options(phone_region=region))["user"]["phone"] == _sha(e164)


@pytest.mark.parametrize(
    ("given", "region"),
    [
        pytest.param(True, "US", id="bool"),
        pytest.param(2133734253.5, "US", id="fraction"),
        # A JSON number cannot carry "+": without a region its digits must be a valid
        # E.164 number once "+" is added; +2133734253 is not (issue 10, point 1).
        pytest.param(2133734253, None, id="no-region-no-country-code"),
    ],
)
def test_non_phone_numbers_are_omitted(given: object, region: str | None) -> None:
    raw = {"type": "ClickButton", "customer_id": "c1", "phone": given}
    assert "phone" not in send_one(raw, options(phone_region=region))["user"]


@pytest.mark.parametrize(
    ("given", "region", "e164"),
    [
        pytest.param("+52 1 55 1234 5678", "MX", "+525512345678", id="mx-mobile-1"),
        pytest.param("+52 1 55 1234 5678", None, "+525512345678", id="mx-mobile-1-no-region"),
        pytest.param("+5215512345678", "US", "+525512345678", id="mx-mobile-1-compact"),
        pytest.param("044 55 1234 5678", "MX", "+525512345678", id="mx-044"),
        pytest.param("045 33 1234 5678", "MX", "+523312345678", id="mx-045"),
        pytest.param("+52 55 1234 5678", "MX", "+525512345678", id="mx-current"),
        pytest.param("+1 213 373 4253", "US", "+12133734253", id="us-valid"),
        pytest.param("+1 555 010 0123", None, "+15550100123", id="possible-not-valid"),
        pytest.param("555-0100", "US", None, id="local-only-omitted"),
        pytest.param("+1 000 000 0000", "US", None, id="all-zero-omitted"),
        pytest.param("044 55 1234", "MX", None, id="mx-044-too-short"),
        pytest.param("12", "MX", None, id="too-short"),
        # hypothesis found it: E.164 formatting drops one of several leading zeros
        pytest.param("+200000000001", None, None, id="several-leading-zeros-omitted"),
        pytest.param("+39 06 1234 5678", None, "+390612345678", id="italian-leading-zero"),
    ],
)
def test_phone_possible_numbers_and_mexican_legacy_forms(
    given: str, region: str | None, e164: str | None
) -> None:
    assert normalise_phone(given, region) == e164


# --- ttclid (item 11) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ttclid"),
    [
        pytest.param("https://s.com/p?ttclid=q1", "q1", id="query"),
        pytest.param("https://s.com/p?a=1&ttclid=q2#top", "q2", id="query-then-fragment"),
        pytest.param("https://s.com/p#x?ttclid=frag", None, id="fragment-only"),
        pytest.param("https://s.com/p#ttclid=frag", None, id="fragment-param"),
        pytest.param("https://s.com/p?a=1#y&ttclid=frag", None, id="fragment-after-query"),
        pytest.param("https://s.com/p?ttclid=q3#ttclid=frag", "q3", id="query-wins"),
    ],
)
def test_ttclid_only_from_the_query_string(url: str, ttclid: str | None) -> None:
    assert _user({"context": {"page_url": url}}).get("ttclid") == ttclid
