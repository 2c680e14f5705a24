"""Issue 10, point 1: every identifier TikTok can match on, and the identity warnings."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.transforms.support import NOW, OPTIONS, options, send_one
from transforms import Send, TransformOptions, transform
from transforms.identity import hash_name, hash_zip, normalise_phone
from transforms.location import normalise_country, normalise_place
from transforms.user import MAX_VALUES_PER_KEY


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user(fields: dict[str, Any], opts: TransformOptions = OPTIONS) -> dict[str, Any]:
    return dict(send_one({"type": "ClickButton", **fields}, opts).get("user", {}))


def _warnings(fields: dict[str, Any], opts: TransformOptions = OPTIONS) -> tuple[str, ...]:
    outcome = transform({"type": "ClickButton", **fields}, opts, NOW)
    assert isinstance(outcome, Send)
    return outcome.quality[0].warnings


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "first", "last"),
    [
        pytest.param({"first_name": " Ana ", "last_name": "LÓPEZ"}, "ana", "lópez", id="fields"),
        pytest.param({"first_name": "Ana María"}, "ana maría", None, id="first-only"),
        pytest.param({"last_name": "López"}, None, "lópez", id="last-only"),
        pytest.param({"name": "Ana María López"}, "ana", "maría lópez", id="name-split"),
        pytest.param({"name": "  Ana  "}, "ana", None, id="name-one-word"),
        pytest.param({"name": "Ana López", "first_name": "Anita"}, "anita", None, id="no-split"),
        pytest.param({"first_name": _sha("ana")}, "ana", None, id="prehashed"),
        pytest.param({"first_name": "Guest", "last_name": "López"}, None, "lópez", id="guest"),
        pytest.param({"name": "Anonymous"}, None, None, id="placeholder-name"),
        pytest.param({"first_name": 7, "last_name": ""}, None, None, id="not-text"),
    ],
)
def test_names_are_trimmed_lowercased_and_hashed(
    customer: dict[str, Any], first: str | None, last: str | None
) -> None:
    user = _user({"customer_id": "c1", "customer": customer})
    assert user.get("first_name") == (first and _sha(first))
    assert user.get("last_name") == (last and _sha(last))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"is_anonymous": True}, id="anonymous"),
        pytest.param({"customer": {"is_anonymous": "yes"}}, id="customer-anonymous"),
        pytest.param({"email": "anon-123@masivo.invalid"}, id="placeholder-email"),
    ],
)
def test_no_names_for_anonymous_or_placeholder_customers(fields: dict[str, Any]) -> None:
    customer = {"first_name": "Ana", "last_name": "López", "city": "Mérida"}
    raw = {"customer_id": "c1", **fields}
    raw["customer"] = {**raw.get("customer", {}), **customer}
    user = _user(raw)
    assert "first_name" not in user
    assert "last_name" not in user
    assert user["city"] == "merida"  # addresses are real even then
    assert "email_unusable" not in _warnings(raw)  # placeholders are expected, not counted


def test_hash_name_and_zip() -> None:
    assert hash_name("  ") is None
    assert hash_zip(" - ") is None
    assert hash_zip("SW1A 1AA") == _sha("sw1a1aa")
    assert hash_zip("12345-6789") == _sha("123456789")
    assert hash_zip(_sha("x").upper()) == _sha("x")


# --- address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        pytest.param(
            {"address": {"city": "Mérida", "state": "Yucatán", "country": "MX", "zip": "97000"}},
            {"city": "merida", "state": "yucatan", "country": "mx", "zip_code": _sha("97000")},
            id="nested",
        ),
        pytest.param(
            {"city": "San Luis Potosí", "state": "S.L.P.", "country": "México", "zip": 78000},
            {"city": "sanluispotosi", "state": "slp", "country": "mx", "zip_code": _sha("78000")},
            id="flat-on-customer",
        ),
        pytest.param(
            {"address": {"zip_code": "SW1A 1AA", "country": "United Kingdom"}},
            {"country": "gb", "zip_code": _sha("sw1a1aa")},
            id="zip_code-alias",
        ),
        pytest.param(
            {"address": {"postal_code": "10001"}, "country": "USA"},
            {"country": "us", "zip_code": _sha("10001")},
            id="postal_code-and-flat-fallback",
        ),
        pytest.param({"address": {"city": "—", "country": "Narnia"}}, {}, id="unusable-left-out"),
        pytest.param({"address": "Calle 1"}, {}, id="address-not-an-object"),
    ],
)
def test_address(customer: dict[str, Any], expected: dict[str, str]) -> None:
    user = _user({"customer_id": "c1", "customer": customer})
    got = {k: user[k] for k in ("city", "state", "country", "zip_code") if k in user}
    assert got == expected


@pytest.mark.parametrize(
    ("given", "code"),
    [
        pytest.param("MX", "mx", id="alpha-2"),
        pytest.param(" mx ", "mx", id="alpha-2-lower"),
        pytest.param("MEX", "mx", id="alpha-3"),
        pytest.param("México", "mx", id="spanish"),
        pytest.param("Mexique", "mx", id="french"),
        pytest.param("Estados Unidos", "us", id="spanish-us"),
        pytest.param("United States of America", "us", id="official"),
        pytest.param("EEUU", "us", id="alias"),
        pytest.param("Brasil", "br", id="portuguese"),
        pytest.param("XX", None, id="unknown-code"),
        pytest.param("Atlantis", None, id="unknown-name"),
        pytest.param("", None, id="empty"),
    ],
)
def test_country_is_iso_alpha_2_lower_case(given: str, code: str | None) -> None:
    assert normalise_country(given) == code


def test_place_normal_form() -> None:
    assert normalise_place(" Ciudad de México ") == "ciudaddemexico"
    assert normalise_place("東京") is None


# --- lists ------------------------------------------------------------------------------


def test_lists_are_hashed_in_order_deduplicated_and_invalid_left_out() -> None:
    user = _user(
        {
            "customer_id": ["b", 2, " b ", True, None],
            "email": ["B@x.com", "nope", "b@x.com"],
            "customer": {"email": "a@x.com", "phone": ["+52 55 1234 5678", "12"]},
        }
    )
    assert user["external_id"] == [_sha("b"), _sha("2")]
    assert user["email"] == [_sha("b@x.com"), _sha("a@x.com")]
    assert user["phone"] == _sha("+525512345678")  # one usable value: a string


def test_lists_are_capped() -> None:
    emails = [f"u{i}@x.com" for i in range(MAX_VALUES_PER_KEY + 3)]
    assert _user({"email": emails})["email"] == [_sha(e) for e in emails[:MAX_VALUES_PER_KEY]]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"customer_id": "a", "external_id": "b"}, [_sha("a"), _sha("b")], id="both"),
        pytest.param({"external_id": 5}, _sha("5"), id="external_id-alias"),
        pytest.param({"customer": {"customer_id": "c", "id": "x"}}, _sha("c"), id="customer"),
        pytest.param({"customer": {"id": "x"}}, _sha("x"), id="customer.id-last-resort"),
        pytest.param({"customer_id": "a", "customer": {"id": "x"}}, _sha("a"), id="id-ignored"),
    ],
)
def test_customer_id_sources(fields: dict[str, Any], expected: object) -> None:
    assert _user(fields)["external_id"] == expected


# --- phones without "+" -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        pytest.param("12133734253", "+12133734253", id="issue-example"),
        pytest.param("1 (213) 373-4253", "+12133734253", id="punctuated"),
        pytest.param("525512345678", "+525512345678", id="mexico"),
        pytest.param("5215512345678", "+525512345678", id="mexico-legacy-mobile"),
        pytest.param("2133734253", None, id="national-without-country"),
        pytest.param("0445512345678", None, id="leading-zero"),
        pytest.param("1-800-FLOWERS", None, id="letters"),
    ],
)
def test_phone_without_plus_and_region(given: str, e164: str | None) -> None:
    assert normalise_phone(given, None) == e164
    no_region = options(phone_region=None)
    user = _user({"customer_id": "c1", "phone": given}, no_region)
    assert user.get("phone") == (e164 and _sha(e164))
    assert ("phone_unusable" in _warnings({"phone": given}, no_region)) is (e164 is None)


def test_phone_region_still_reads_national_numbers() -> None:
    assert _user({"phone": "213-373-4253"})["phone"] == _sha("+12133734253")  # region US


# --- identity warnings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "warnings"),
    [
        pytest.param({"customer_id": "c1"}, (), id="fine"),
        pytest.param({}, ("no_match_key",), id="nothing"),
        pytest.param(
            {"context": {"ip": "203.0.113.1", "user_agent": "UA"}},
            ("no_match_key",),
            id="ip-and-ua-only",
        ),
        pytest.param({"context": {"ttp": "abc"}}, (), id="ttp-matches"),
        pytest.param(
            {"email": "nope", "phone": "12"},
            ("no_match_key", "email_unusable", "phone_unusable"),
            id="both-unusable",
        ),
        pytest.param({"customer_id": "c", "email": 5}, ("email_unusable",), id="email-not-text"),
        pytest.param({"customer_id": "c", "email": " "}, (), id="blank-is-absent"),
        pytest.param({"email": "x@example.com"}, ("no_match_key",), id="placeholder-not-unusable"),
        pytest.param(
            {"email": "ana@gmail.com", "is_anonymous": True},
            ("no_match_key",),
            id="anonymous-email-not-unusable",
        ),
    ],
)
def test_identity_warnings(fields: dict[str, Any], warnings: tuple[str, ...]) -> None:
    assert _warnings(fields) == warnings


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        pytest.param({}, (), id="none"),
        pytest.param(
            {
                "customer_id": "c",
                "email": "a@b.co",
                "phone": "+12133734253",
                "customer": {"last_name": "López", "address": {"city": "Mérida"}},
                "context": {"ttclid": "E.C.P.x", "ttp": "t", "ip": "1.2.3.4", "user_agent": "U"},
            },
            (
                "email",
                "phone",
                "external_id",
                "ttclid",
                "ttp",
                "ip_user_agent",
                "name_address",
            ),
            id="all",
        ),
        pytest.param({"context": {"ip": "1.2.3.4"}}, (), id="ip-without-user-agent"),
        pytest.param({"customer": {"country": "MX"}}, (), id="country-alone-is-not-a-key"),
        pytest.param({"customer": {"zip": "97000"}}, ("name_address",), id="zip"),
    ],
)
def test_match_keys(fields: dict[str, Any], keys: tuple[str, ...]) -> None:
    outcome = transform({"type": "ClickButton", **fields}, OPTIONS, NOW)
    assert isinstance(outcome, Send)
    assert outcome.quality[0].keys == keys
