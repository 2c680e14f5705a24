"""The ``user`` and ``page`` objects: match keys, hashed per TikTok's rules (API notes §7).

Hashing rules:

* **email** - trim, lower-case, SHA-256. Only values that look like an address are sent:
  exactly one ``@``, a non-empty local part, a domain with a dot between non-empty labels
  (``a@b.c``; a trailing root dot is fine), no whitespace inside. Anything else (``"a@b"``,
  ``"a b@c.d"``, ``"@x.com"``) is omitted, not rejected. Placeholder addresses (see
  :func:`is_placeholder_email`) are never sent, nor is any email (or name) of an anonymous
  customer: ``is_anonymous``/``customer.is_anonymous`` read as a flag
  (:func:`transforms.values.to_flag`: ``true``, ``"true"``, ``1``, ``"yes"``), and an
  unreadable value (``"maybe"``) also counts as anonymous - privacy first, as for consent.
* **phone** - strings, or JSON numbers taken as their digit string (``5215512345678``).
  Parsed with ``phonenumbers`` (``options.phone_region`` is the default region for numbers
  without a ``+country`` prefix), formatted E.164 with ``+``, SHA-256. Accepted when
  ``is_valid_number``, or when ``is_possible_number_with_reason`` is ``IS_POSSIBLE`` (right
  length for the country, so new number ranges not yet in the metadata still match) with a
  non-zero national number; ``IS_POSSIBLE_LOCAL_ONLY`` (e.g. US 7-digit ``555-0100``) is
  not, as it has no area code and cannot be a subscriber's E.164 number. Mexico's pre-2019
  mobile forms, which ``phonenumbers`` 9 (metadata after the dialing reform) finds
  ``TOO_LONG``, are rewritten to the current number: ``+52 1 55 1234 5678`` (the mobile
  ``1``) and ``044``/``045 55 1234 5678`` (region MX; the old mobile dialing prefixes) both
  become ``+525512345678``. A number still not accepted is *omitted*, not rejected: a bad
  phone should not cost the conversion, which still matches on ``external_id``.
* **external_id** - ``customer_id`` (string or number), trimmed, case kept (the pixel side
  sends it unchanged), SHA-256. Integers use their exact decimal string (however large); a
  float with an integral value uses the integer's (``123.0`` → ``"123"``); booleans and
  non-integral floats are not ids and are omitted.
* Values that already are 64 hex characters are taken as hashes: lower-cased and passed
  through, never hashed twice.
* ``ip``, ``user_agent``, ``ttclid``, ``ttp`` and ``locale`` are sent as given (trimmed).
  Without ``context.ttclid``, ``ttclid`` is read from the page URL's *query string* only -
  never from the ``#fragment``, which the landing page, not TikTok, controls.

Match keys are emitted as plain strings, not single-element lists: TikTok accepts both, and
strings are what its own GTM template sends. Empty values are omitted, never ``null``.

Normalising and hashing are cached (``lru_cache``): the same customers come back again and
again, and ``phonenumbers`` parsing is the most expensive step of the whole transform.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote_plus

import phonenumbers

from transforms.values import clean_text, get_dict, to_flag

__all__ = [
    "AUDIENCE_MANAGER_ID",
    "PLACEHOLDER_DOMAINS",
    "PLACEHOLDER_DOMAIN_SUFFIXES",
    "PLACEHOLDER_LOCAL_PARTS",
    "build_page",
    "build_user",
    "hash_email",
    "hash_external_id",
    "hash_phone",
    "is_placeholder_email",
    "is_sha256_hex",
    "normalise_email",
    "normalise_phone",
    "sha256_hex",
]

_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_CACHE: Final = 65536
_PASSTHROUGH: Final = ("ttclid", "ttp", "ip", "user_agent", "locale")
_TTCLID: Final = re.compile(r"[?&]ttclid=([^&#]*)")
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MX: Final = 52
_MX_OLD_PREFIXES: Final = ("044", "045")

#: Reserved by RFC 2606 / RFC 6761 (and ``.local``, mDNS): nobody receives mail there.
PLACEHOLDER_DOMAIN_SUFFIXES: Final = (".invalid", ".example", ".test", ".localhost", ".local")
PLACEHOLDER_DOMAINS: Final = frozenset(
    {"example.com", "example.org", "example.net", "invalid", "localhost", "test", "example"}
)
#: Local parts used for generated placeholder addresses (Masivo's anonymous customers get
#: placeholder values until they identify themselves; its exact format is not published, so
#: these common ones are covered on any domain, and ``is_anonymous`` covers the rest).
PLACEHOLDER_LOCAL_PARTS: Final = frozenset(
    {"anonymous", "anon", "placeholder", "noemail", "no-email", "noreply", "no-reply", "unknown"}
)

#: The literal id the product spec gives audience events, hashed like any external_id.
AUDIENCE_MANAGER_ID: Final = "audience_manager"


def sha256_hex(text: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def is_sha256_hex(text: str) -> bool:
    """True when ``text`` already looks like a SHA-256 hex digest (any case)."""
    return len(text) == 64 and _HEX64.fullmatch(text) is not None


def normalise_email(email: str) -> str | None:
    """TikTok's email normal form (trim + lower); ``None`` when it is not an address."""
    text = email.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def is_placeholder_email(normalised: str) -> bool:
    """True for addresses that cannot belong to a real person (see the constants above)."""
    local, _, domain = normalised.rpartition("@")
    domain = domain.rstrip(".")
    return (
        domain in PLACEHOLDER_DOMAINS
        or domain.endswith(PLACEHOLDER_DOMAIN_SUFFIXES)
        or local in PLACEHOLDER_LOCAL_PARTS
    )


@lru_cache(maxsize=_CACHE)
def hash_email(email: str) -> str | None:
    """Hashed email, or ``None`` for non-addresses and placeholders. Hashes pass through."""
    text = email.strip()
    if is_sha256_hex(text):
        return text.lower()
    normalised = normalise_email(text)
    if normalised is None or is_placeholder_email(normalised):
        return None
    return sha256_hex(normalised)


def _acceptable(number: phonenumbers.PhoneNumber) -> bool:
    if phonenumbers.is_valid_number(number):
        return True
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE and number.national_number != 0


def _mx_current_form(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """Mexico's pre-2019 mobile forms (module docstring) rewritten, else ``None``."""
    zeros = (number.number_of_leading_zeros or 1) if number.italian_leading_zero else 0
    national = "0" * zeros + str(number.national_number)
    if len(national) == 11 and national.startswith("1"):
        national = national[1:]
    elif len(national) == 13 and national.startswith(_MX_OLD_PREFIXES):
        national = national[3:]
    else:
        return None
    return phonenumbers.parse(f"+52{national}", None)


@lru_cache(maxsize=_CACHE)
def normalise_phone(phone: str, region: str | None = None) -> str | None:
    """E.164 with ``+`` (``"(+1)2133734253"`` → ``"+12133734253"``), ``None`` if unusable."""
    try:
        number: phonenumbers.PhoneNumber | None = phonenumbers.parse(phone, region)
        if number is not None and not _acceptable(number):
            number = _mx_current_form(number) if number.country_code == _MX else None
    except phonenumbers.NumberParseException:
        return None
    if number is None or not _acceptable(number):
        return None
    result: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return result


@lru_cache(maxsize=_CACHE)
def hash_phone(phone: str, region: str | None = None) -> str | None:
    """Hashed E.164 phone; ``None`` when it cannot be normalised. Hashes pass through."""
    text = phone.strip()
    if is_sha256_hex(text):
        return text.lower()
    normalised = normalise_phone(text[:64], region)
    return None if normalised is None else sha256_hex(normalised)


@lru_cache(maxsize=_CACHE)
def hash_external_id(customer_id: str) -> str | None:
    """Hashed external id: trimmed, case kept; ``None`` when blank. Hashes pass through."""
    text = customer_id.strip()
    if not text:
        return None
    if is_sha256_hex(text):
        return text.lower()
    return sha256_hex(text)


def _customer_id(raw: dict[str, object], customer: dict[str, object] | None) -> str | None:
    value = raw.get("customer_id")
    if value is None and customer is not None:
        value = customer.get("customer_id", customer.get("id"))
    if isinstance(value, str):
        return hash_external_id(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return hash_external_id(str(value))
    if isinstance(value, float) and value.is_integer():
        return hash_external_id(str(int(value)))
    return None


def _anonymous_flag(value: object) -> bool:
    """Missing or a no value → not anonymous; a yes or anything unreadable → anonymous."""
    return value is not None and to_flag(value) is not False


def _is_anonymous(raw: dict[str, object], customer: dict[str, object] | None) -> bool:
    return _anonymous_flag(raw.get("is_anonymous")) or (
        customer is not None and _anonymous_flag(customer.get("is_anonymous"))
    )


def _contact(raw: dict[str, object], customer: dict[str, object] | None, key: str) -> str | None:
    value = raw.get(key)
    if not isinstance(value, str) and customer is not None:
        value = customer.get(key)
    return value if isinstance(value, str) else None


def _phone(raw: dict[str, object], customer: dict[str, object] | None) -> str | None:
    """The phone as text; JSON numbers are their digit string (integral floats included)."""
    value = raw.get("phone")
    if value is None and customer is not None:
        value = customer.get("phone")
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _ttclid_from_url(url: str | None) -> str | None:
    """``ttclid`` from the landing URL's query string (a regex: ``urlsplit`` + ``parse_qs``
    cost a fifth of the whole transform)."""
    if url is None:
        return None
    match = _TTCLID.search(url.partition("#")[0] if "#" in url else url)
    if match is None:
        return None
    value = match.group(1)
    return (unquote_plus(value) if "%" in value or "+" in value else value).strip() or None


def build_user(
    raw: dict[str, object], phone_region: str | None, page_url: str | None
) -> dict[str, Any]:
    """The ``user`` object of a customer event (see the module docstring for the rules)."""
    customer = get_dict(raw, "customer")
    context = get_dict(raw, "context") or {}
    user: dict[str, Any] = {}
    external_id = _customer_id(raw, customer)
    if external_id:
        user["external_id"] = external_id
    email = _contact(raw, customer, "email")
    if email is not None and not _is_anonymous(raw, customer):
        hashed = hash_email(email)
        if hashed:
            user["email"] = hashed
    phone = _phone(raw, customer)
    if phone is not None:
        hashed = hash_phone(phone, phone_region)
        if hashed:
            user["phone"] = hashed
    for key in _PASSTHROUGH:
        value = context.get(key)
        if isinstance(value, str):
            value = value.strip()
            if value:
                user[key] = value
    if "ttclid" not in user:
        ttclid = _ttclid_from_url(page_url)
        if ttclid:
            user["ttclid"] = ttclid
    return user


def build_page(raw: dict[str, object]) -> dict[str, str]:
    """``page.url`` from ``context.page_url`` (or ``context.url``), ``page.referrer``."""
    context = get_dict(raw, "context")
    if context is None:
        return {}
    page: dict[str, str] = {}
    url = clean_text(context.get("page_url")) or clean_text(context.get("url"))
    if url:
        page["url"] = url
    referrer = clean_text(context.get("referrer"))
    if referrer:
        page["referrer"] = referrer
    return page
