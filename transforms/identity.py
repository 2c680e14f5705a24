"""Match-key hashing per TikTok's rules (API notes §7); the ``user`` object is
:mod:`transforms.user`.

* **email** - trim, lower-case, SHA-256. Only values that look like an address are sent:
  exactly one ``@``, a non-empty local part, a domain with a dot between non-empty labels
  (``a@b.c``; a trailing root dot is fine), no whitespace inside. Anything else (``"a@b"``,
  ``"a b@c.d"``, ``"@x.com"``) is omitted, not rejected. Placeholder addresses (see
  :func:`is_placeholder_email`) are never sent.
* **phone** - strings, or JSON numbers taken as their digit string (``5215512345678``).
  Parsed with ``phonenumbers`` (``phone_region`` is the default region for numbers without
  a ``+country`` prefix), formatted E.164 with ``+``, SHA-256. Accepted when
  ``is_valid_number``, or when ``is_possible_number_with_reason`` is ``IS_POSSIBLE`` (right
  length for the country, so new number ranges not yet in the metadata still match) with a
  non-zero national number; ``IS_POSSIBLE_LOCAL_ONLY`` (e.g. US 7-digit ``555-0100``) is
  not, as it has no area code and cannot be a subscriber's E.164 number. Mexico's pre-2019
  mobile forms, which ``phonenumbers`` 9 (metadata after the dialing reform) finds
  ``TOO_LONG``, are rewritten to the current number: ``+52 1 55 1234 5678`` (the mobile
  ``1``) and ``044``/``045 55 1234 5678`` (region MX; the old mobile dialing prefixes) both
  become ``+525512345678``. A number without ``+`` and no ``phone_region`` (``12133734253``,
  as many stores keep them) is read as its digits with ``+`` put in front, and accepted
  only when libphonenumber finds *that* a valid number (``is_valid_number``, after the
  Mexican rewrite): digits without a country are ambiguous, so mere plausibility is not
  enough. A number still not accepted is *omitted*, not rejected: a bad phone should not
  cost the conversion, which still matches on ``external_id``.
* **external_id** - a customer id (string or number), trimmed, case kept (the pixel side
  sends it unchanged), SHA-256. Integers use their exact decimal string (however large); a
  float with an integral value uses the integer's (``123.0`` → ``"123"``); booleans and
  non-integral floats are not ids and are omitted.
* **first_name**, **last_name** - trim, lower-case, SHA-256 (inner spaces kept:
  ``"Ana María"`` → ``"ana maría"``).
* **zip_code** - spaces and dashes removed, lower-case, SHA-256 (``"SW1A 1AA"`` →
  ``"sw1a1aa"``; numbers are their digits).
* Values that already are 64 hex characters are taken as hashes: lower-cased and passed
  through, never hashed twice.

Normalising and hashing are cached (``lru_cache``): the same customers come back again and
again, and ``phonenumbers`` parsing is the most expensive step of the whole transform.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Final

import phonenumbers

__all__ = [
    "AUDIENCE_MANAGER_ID",
    "PLACEHOLDER_DOMAINS",
    "PLACEHOLDER_DOMAIN_SUFFIXES",
    "PLACEHOLDER_LOCAL_PARTS",
    "hash_email",
    "hash_external_id",
    "hash_name",
    "hash_phone",
    "hash_zip",
    "is_placeholder_email",
    "is_sha256_hex",
    "normalise_email",
    "normalise_phone",
    "sha256_hex",
]

_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_CACHE: Final = 65536
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MX: Final = 52
_MX_OLD_PREFIXES: Final = ("044", "045")
_NOT_DIGITS: Final = re.compile(r"[^0-9]+")
_ZIP_DROP: Final = re.compile(r"[\s-]+")

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
    if number.italian_leading_zero:
        # a number that is not valid keeps no stable E.164 form with a leading zero: the
        # library may drop one of several ("+95 00100000" -> "+950100000" -> "+95100000")
        return False
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


def _with_plus(phone: str) -> str | None:
    """A number without ``+`` nor region: its digits as E.164, when that is a valid number."""
    if any(char.isalpha() for char in phone):
        return None
    digits = _NOT_DIGITS.sub("", phone)
    if not digits or digits[0] == "0":
        return None
    try:
        number = phonenumbers.parse(f"+{digits}", None)
        # validated once per form (validating is most of a miss's cost: ~15 µs)
        if not phonenumbers.is_valid_number(number):
            if number.country_code != _MX:
                return None
            current = _mx_current_form(number)
            if current is None or not phonenumbers.is_valid_number(current):
                return None
            number = current
    except phonenumbers.NumberParseException:
        return None
    result: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return result


@lru_cache(maxsize=_CACHE)
def normalise_phone(phone: str, region: str | None = None) -> str | None:
    """E.164 with ``+`` (``"(+1)2133734253"`` → ``"+12133734253"``), ``None`` if unusable."""
    if region is None and "+" not in phone:
        return _with_plus(phone)
    try:
        number: phonenumbers.PhoneNumber | None = phonenumbers.parse(phone, region)
        # validated once per form (validating is most of a miss's cost: ~15 µs)
        if number is not None and not _acceptable(number):
            number = _mx_current_form(number) if number.country_code == _MX else None
            if number is None or not _acceptable(number):
                return None
    except phonenumbers.NumberParseException:
        return None
    if number is None:
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


@lru_cache(maxsize=_CACHE)
def hash_name(name: str) -> str | None:
    """Hashed first or last name (trim, lower-case); ``None`` when blank. Hashes pass through."""
    text = name.strip()
    if not text:
        return None
    if is_sha256_hex(text):
        return text.lower()
    return sha256_hex(text.lower())


@lru_cache(maxsize=_CACHE)
def hash_zip(zip_code: str) -> str | None:
    """Hashed zip code (spaces and dashes removed, lower-case); ``None`` when blank."""
    text = zip_code.strip()
    if is_sha256_hex(text):
        return text.lower()
    text = _ZIP_DROP.sub("", text).lower()
    return sha256_hex(text) if text else None
