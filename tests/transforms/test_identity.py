"""The ``user`` and ``page`` objects: hashing (TikTok's worked examples), placeholders, context."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.transforms.support import options, send_one
from transforms.identity import (
    AUDIENCE_MANAGER_ID,
    hash_email,
    hash_external_id,
    hash_phone,
    is_placeholder_email,
    normalise_email,
    normalise_phone,
)

HEX64 = re.compile(r"[0-9a-f]{64}")

# API notes §7: TikTok's own examples.
ALICE = "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f"
PHONE = "9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd"
USER_123 = "80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b"


def _user(**fields: Any) -> dict[str, Any]:
    return dict(send_one({"type": "ClickButton", **fields}).get("user", {}))


def test_tiktok_email_example() -> None:
    assert hash_email(" ALICE_abc@gmail.com ") == ALICE
    assert _user(email=" ALICE_abc@gmail.com ")["email"] == ALICE


def test_tiktok_phone_example() -> None:
    assert normalise_phone("(+1)2133734253") == "+12133734253"
    assert hash_phone("(+1)2133734253") == PHONE
    assert _user(phone="(+1)2133734253")["phone"] == PHONE


def test_tiktok_external_id_example() -> None:
    assert hash_external_id("user_123") == USER_123
    assert _user(customer_id="user_123")["external_id"] == USER_123


@pytest.mark.parametrize(
    ("fields", "key", "expected"),
    [
        pytest.param(
            {"customer_id": " user_123 "}, "external_id", USER_123, id="customer_id-trimmed"
        ),
        pytest.param(
            {"customer_id": 42},
            "external_id",
            hashlib.sha256(b"42").hexdigest(),
            id="customer_id-number",
        ),
        pytest.param(
            {"customer_id": "User_123"},
            "external_id",
            hashlib.sha256(b"User_123").hexdigest(),
            id="customer_id-case-kept",
        ),
        pytest.param(
            {"customer_id": USER_123.upper()}, "external_id", USER_123, id="external_id-prehashed"
        ),
        pytest.param(
            {"customer": {"email": "alice_abc@gmail.com"}}, "email", ALICE, id="customer.email"
        ),
        pytest.param({"email": ALICE.upper()}, "email", ALICE, id="email-prehashed"),
        pytest.param(
            {"customer": {"phone": "+1 213 373 4253"}}, "phone", PHONE, id="customer.phone"
        ),
        pytest.param({"phone": "213-373-4253"}, "phone", PHONE, id="phone-default-region"),
        pytest.param({"phone": PHONE.upper()}, "phone", PHONE, id="phone-prehashed"),
    ],
)
def test_match_keys_are_hashed(fields: dict[str, Any], key: str, expected: str) -> None:
    assert _user(**fields)[key] == expected


def test_phone_region_comes_from_options() -> None:
    mx = send_one({"type": "Contact", "phone": "55 1234 5678"}, options(phone_region="MX"))
    assert mx["user"]["phone"] == hashlib.sha256(b"+525512345678").hexdigest()


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("not a phone", id="letters"),
        pytest.param("123", id="too-short"),
        pytest.param("+1 000 000 0000", id="invalid-number"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_phone_is_omitted_not_rejected(phone: str) -> None:
    user = _user(phone=phone, customer_id="c1")
    assert "phone" not in user
    assert "external_id" in user


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"email": "ana@gmail.com", "is_anonymous": True}, id="is_anonymous"),
        pytest.param(
            {"customer": {"email": "ana@gmail.com", "is_anonymous": True}},
            id="customer.is_anonymous",
        ),
        pytest.param({"email": "x@anon.invalid"}, id="dot-invalid"),
        pytest.param({"email": "x@shop.example"}, id="dot-example"),
        pytest.param({"email": "x@qa.test"}, id="dot-test"),
        pytest.param({"email": "x@box.localhost"}, id="dot-localhost"),
        pytest.param({"email": "x@printer.local"}, id="dot-local"),
        pytest.param({"email": "x@example.com"}, id="example.com"),
        pytest.param({"email": "x@EXAMPLE.org"}, id="example.org"),
        pytest.param({"email": "x@example.net"}, id="example.net"),
        pytest.param({"email": "anonymous@masivo.com"}, id="anonymous-local-part"),
        pytest.param({"email": "no-reply@brand.mx"}, id="no-reply-local-part"),
        pytest.param({"email": "not-an-address"}, id="no-at-sign"),
        pytest.param({"email": 42}, id="not-a-string"),
    ],
)
def test_placeholder_and_bad_emails_are_not_sent(fields: dict[str, Any]) -> None:
    assert "email" not in _user(customer_id="c1", **fields)


def test_placeholder_check() -> None:
    assert is_placeholder_email("a@example.com")
    assert not is_placeholder_email("a@examples.com")
    assert not is_placeholder_email("a@gmail.com")


def test_is_anonymous_false_keeps_email() -> None:
    assert _user(email="alice_abc@gmail.com", is_anonymous=False)["email"] == ALICE


def test_context_fields_pass_through_unhashed() -> None:
    context = {
        "ip": " 203.0.113.7 ",
        "user_agent": "Mozilla/5.0",
        "ttclid": "E.C.P.abc",
        "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
        "locale": "es-MX",
        "page_url": "https://shop.mx/p?x=1",
        "referrer": "https://google.com/",
    }
    event = send_one({"type": "ViewContent", "context": context})
    assert event["user"] == {
        "ttclid": "E.C.P.abc",
        "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "locale": "es-MX",
    }
    assert event["page"] == {"url": "https://shop.mx/p?x=1", "referrer": "https://google.com/"}


@pytest.mark.parametrize(
    ("context", "ttclid"),
    [
        pytest.param({"page_url": "https://s.mx/?ttclid=E.C.P.q1"}, "E.C.P.q1", id="page_url"),
        pytest.param(
            {"url": "https://s.mx/?a=1&ttclid=E.C.P.q2#top"}, "E.C.P.q2", id="url-fragment"
        ),
        pytest.param(
            {"url": "https://s.mx/?ttclid=E.C.P.a%2Bb"}, "E.C.P.a+b", id="percent-encoded"
        ),
        pytest.param(
            {"url": "https://s.mx/?ttclid=E.C.P.q3", "ttclid": "E.C.P.ctx"},
            "E.C.P.ctx",
            id="context-wins",
        ),
        pytest.param({"url": "https://s.mx/?xttclid=nope"}, None, id="other-param"),
        pytest.param({"url": "https://s.mx/?ttclid="}, None, id="empty"),
    ],
)
def test_ttclid_from_page_url(context: dict[str, str], ttclid: str | None) -> None:
    assert (
        send_one({"type": "ViewContent", "context": context}).get("user", {}).get("ttclid")
        == ttclid
    )


def test_page_url_prefers_page_url_over_url() -> None:
    event = send_one(
        {"type": "ViewContent", "context": {"page_url": "https://a/", "url": "https://b/"}}
    )
    assert event["page"] == {"url": "https://a/"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"limited_data_use": True}, True, id="top-level-true"),
        pytest.param({"limited_data_use": False}, False, id="top-level-false"),
        pytest.param({"context": {"limited_data_use": True}}, True, id="context"),
        pytest.param({"limited_data_use": "yes"}, True, id="loose-yes"),
        pytest.param({"limited_data_use": "false"}, False, id="loose-no"),
        pytest.param({"limited_data_use": "maybe"}, True, id="unreadable-limits"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_limited_data_use(fields: dict[str, Any], expected: bool | None) -> None:
    assert send_one({"type": "ViewContent", **fields}).get("limited_data_use") == expected


def test_no_identity_means_no_user_object() -> None:
    assert "user" not in send_one({"type": "ViewContent", "context": "junk", "customer": 5})


def test_audience_manager_id_is_hashed() -> None:
    assert hash_external_id(AUDIENCE_MANAGER_ID) == hashlib.sha256(b"audience_manager").hexdigest()


# --- properties -------------------------------------------------------------------------


@given(st.text())
def test_email_normalising_twice_equals_once(text: str) -> None:
    once = normalise_email(text)
    assert once is None or normalise_email(once) == once


@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"\+?[0-9 ()\-]{6,18}", fullmatch=True),
        st.sampled_from(["(+1)2133734253", "+52 55 1234 5678", "2133734253", "+44 20 7946 0958"]),
    ),
    st.sampled_from([None, "US", "MX", "GB"]),
)
@example("+9500100000", None)  # two leading zeros the library keeps as one, then drops
def test_phone_normalising_twice_equals_once(text: str, region: str | None) -> None:
    once = normalise_phone(text, region)
    if once is not None:
        assert once.startswith("+")
        assert normalise_phone(once, region) == once
        assert normalise_phone(once, None) == once


@given(st.text(), st.sampled_from([hash_email, hash_external_id, hash_phone]))
def test_hashes_are_64_lowercase_hex_and_never_double_hashed(text: str, hasher: Any) -> None:
    digest = hasher(text)
    if digest is not None:
        assert HEX64.fullmatch(digest)
        assert hasher(digest) == digest
