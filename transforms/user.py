"""The ``user`` and ``page`` objects of a customer event: every match key the event carries.

==================  =====================================================================
TikTok ``user``     Masivo source (hashing and normal forms: :mod:`transforms.identity`,
                    :mod:`transforms.location`)
==================  =====================================================================
``external_id``     ``customer_id``, ``external_id``, ``customer.customer_id``,
                    ``customer.external_id`` (all of them, in this order); only when none
                    is present, ``customer.id``
``email``           ``email``, ``customer.email`` (both); not for anonymous customers
``phone``           ``phone``, ``customer.phone`` (both); region ``phone_region``
``first_name``      ``customer.first_name``; without first and last name,
``last_name``       ``customer.name`` split at its first space (``"Ana María López"`` →
                    ``ana`` / ``maría lópez``; one word is a first name only)
``zip_code``        ``customer.address.zip`` (or ``zip_code``, ``postal_code``; each also
``city``            read on ``customer`` itself when ``address`` lacks it), ``city``,
``state``           ``state``, ``country``
``country``
``ttclid``, ``ttp``,  ``context.*`` as given (trimmed); ``ttclid`` else from the page URL's
``ip``,             query string - never the ``#fragment``, which the landing page, not
``user_agent``,     TikTok, controls
``locale``
==================  =====================================================================

**Lists.** ``email``, ``phone`` and the customer ids may each be a value or a list of values
(TikTok accepts arrays). Every value is normalised and hashed on its own; unusable ones are
left out, order is kept (top-level values first), duplicates (after hashing) are removed, and
at most :data:`MAX_VALUES_PER_KEY` are sent per key. One value is sent as a string, several as
an array.

**Anonymous and placeholder customers.** ``is_anonymous``/``customer.is_anonymous`` read as a
flag (:func:`transforms.values.to_flag`; an unreadable value counts as anonymous - privacy
first, as for consent), or an email on a placeholder address
(:func:`~transforms.identity.is_placeholder_email`): Masivo gives such customers placeholder
emails and names, so neither is sent; nor is a name that is itself a placeholder
(:data:`PLACEHOLDER_NAMES`). Their ids, phones and addresses are real and are sent.

**Warnings.** A given email that is not an address (placeholders excepted: they are
expected) raises ``email_unusable``; a given phone that cannot be normalised raises
``phone_unusable`` (:mod:`transforms.quality`). Empty values are omitted, never ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote_plus

from transforms.identity import (
    hash_email,
    hash_external_id,
    hash_name,
    hash_phone,
    hash_zip,
    is_placeholder_email,
    normalise_email,
)
from transforms.location import normalise_country, normalise_place
from transforms.quality import QualityWarning
from transforms.values import clean_text, get_dict, to_flag

__all__ = ["MAX_VALUES_PER_KEY", "PLACEHOLDER_NAMES", "build_page", "build_user", "id_text"]

#: At most this many values per list key (``email``, ``phone``, ``external_id``).
MAX_VALUES_PER_KEY: Final = 5

#: Names that are placeholders, not people (compared trimmed, lower-cased).
PLACEHOLDER_NAMES: Final = frozenset(
    {"anonymous", "anonimo", "anónimo", "guest", "invitado", "unknown", "desconocido", "n/a"}
)

_PASSTHROUGH: Final = ("ttclid", "ttp", "ip", "user_agent", "locale")
_TTCLID: Final = re.compile(r"[?&]ttclid=([^&#]*)")
_ZIP_KEYS: Final = ("zip", "zip_code", "postal_code")
_NO_CUSTOMER: Final[dict[str, object]] = {}  # shared, never mutated
_NO_IDS: Final = (None, None)
_PROFILE_KEYS: Final = frozenset(
    {"first_name", "last_name", "name", "address", "city", "state", "country", *_ZIP_KEYS}
)


def id_text(value: object) -> str | None:
    """An id or phone as text: strings, and numbers as their digits (integral floats too)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _email_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_EMPTY: Final[tuple[object, ...]] = ()
_NO_FAILURES: Final[list[str]] = []  # shared, never mutated


def _listed(value: object) -> list[object] | tuple[object, ...]:
    if value is None:
        return _EMPTY
    return value if type(value) is list else (value,)


def _hashed(
    values: list[object] | tuple[object, ...],
    text_of: Callable[[object], str | None],
    digest: Callable[..., str | None],
    *args: str | None,
) -> tuple[list[str], list[str]]:
    """``(hashes, texts that gave none)``: deduplicated, in order, capped. Blank texts and
    ``null`` are skipped silently; values of the wrong type count as failed (``""``)."""
    out: list[str] = []
    failed: list[str] = []
    for value in values:
        text = text_of(value)
        if text is None:
            if value is not None:
                failed.append("")
            continue
        hashed = digest(text, *args)
        if hashed is None:
            if text.strip():
                failed.append(text)
        elif hashed not in out:
            out.append(hashed)
            if len(out) == MAX_VALUES_PER_KEY:
                break
    return out, failed


def _anonymous_flag(value: object) -> bool:
    """Missing or a no value → not anonymous; a yes or anything unreadable → anonymous."""
    return value is not None and to_flag(value) is not False


def _match(
    user: dict[str, Any],
    key: str,
    first: object,
    second: object,
    text_of: Callable[[object], str | None],
    digest: Callable[..., str | None],
    *args: str | None,
) -> list[str]:
    """Puts ``user[key]`` from ``first`` then ``second`` (each a value, a list of values or
    ``None``); returns the texts that gave no hash (``""`` for values of the wrong type)."""
    if second is None and type(first) is str:  # the usual cases, kept cheap
        text = first
    elif first is None and type(second) is str:
        text = second
    elif first is None and second is None:
        return _NO_FAILURES
    else:
        values = [*_listed(first), *_listed(second)]
        hashes, failed = _hashed(values, text_of, digest, *args)
        if hashes:
            user[key] = hashes[0] if len(hashes) == 1 else hashes
        return failed
    hashed = digest(text, *args)
    if hashed is not None:
        user[key] = hashed
        return _NO_FAILURES
    return [text] if text.strip() else _NO_FAILURES


def _placeholder_only(failed: list[str]) -> tuple[bool, bool]:
    """``(some email was unusable, one was a placeholder)`` of the emails that gave no hash."""
    unusable = placeholder = False
    for text in failed:
        normal = normalise_email(text) if text else None
        if normal is not None and is_placeholder_email(normal):
            placeholder = True
        else:
            unusable = True
    return unusable, placeholder


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text and text.lower() not in PLACEHOLDER_NAMES else None


def _names(customer: dict[str, object], user: dict[str, Any]) -> None:
    first, last = customer.get("first_name"), customer.get("last_name")
    if first is None and last is None and isinstance(customer.get("name"), str):
        parts = str(customer["name"]).split(None, 1)
        first, last = (parts[0], parts[1] if len(parts) > 1 else None) if parts else (None, None)
    for key, value in (("first_name", _name(first)), ("last_name", _name(last))):
        hashed = hash_name(value) if value else None
        if hashed:
            user[key] = hashed


def _address(customer: dict[str, object], user: dict[str, Any]) -> None:
    address = get_dict(customer, "address") or {}

    def pick(*keys: str) -> str | None:
        for source in (address, customer):
            for key in keys:
                text = id_text(source.get(key))
                if text is not None and text.strip():
                    return text
        return None

    zip_text = pick(*_ZIP_KEYS)
    zip_code = hash_zip(zip_text) if zip_text else None
    if zip_code:
        user["zip_code"] = zip_code
    for key, normalise in (
        ("city", normalise_place),
        ("state", normalise_place),
        ("country", normalise_country),
    ):
        text = pick(key)
        value = normalise(text) if text else None
        if value:
            user[key] = value


def _ttclid_from_url(url: str | None) -> str | None:
    """``ttclid`` from the landing URL's query string (a regex: ``urlsplit`` + ``parse_qs``
    cost a fifth of the whole transform)."""
    if url is None or "ttclid=" not in url:  # most URLs have none: skip the regex
        return None
    match = _TTCLID.search(url.partition("#")[0] if "#" in url else url)
    if match is None:
        return None
    value = match.group(1)
    return (unquote_plus(value) if "%" in value or "+" in value else value).strip() or None


def build_user(
    raw: dict[str, object], phone_region: str | None, page_url: str | None, warnings: list[str]
) -> dict[str, Any]:
    """The ``user`` object of a customer event (module docstring); appends the identity
    warnings (``email_unusable``, ``phone_unusable``) to ``warnings``."""
    customer = raw.get("customer")
    if not isinstance(customer, dict):
        customer = _NO_CUSTOMER
    context = raw.get("context")
    if not isinstance(context, dict):
        context = _NO_CUSTOMER
    user: dict[str, Any] = {}
    # each key: one string (the usual case) inline, anything else through _match
    first, second = raw.get("customer_id"), customer.get("customer_id")
    extra = (raw.get("external_id"), customer.get("external_id"))
    if extra != _NO_IDS:
        first, second = [*_listed(first), *_listed(extra[0]), *_listed(second)], extra[1]
    elif first is None and second is None:
        first = customer.get("id")
    one = first if second is None else second if first is None else None
    if type(one) is str and (hashed := hash_external_id(one)):
        user["external_id"] = hashed
    elif first is not None or second is not None:
        _match(user, "external_id", first, second, id_text, hash_external_id)
    flags = (raw.get("is_anonymous"), customer.get("is_anonymous"))
    placeholder = flags != _NO_IDS and (_anonymous_flag(flags[0]) or _anonymous_flag(flags[1]))
    if not placeholder:
        first, second = raw.get("email"), customer.get("email")
        one = first if second is None else second if first is None else None
        if type(one) is str and (hashed := hash_email(one)):
            user["email"] = hashed
        elif first is not None or second is not None:
            failed = _match(user, "email", first, second, _email_text, hash_email)
            if failed:
                unusable, placeholder = _placeholder_only(failed)
                if unusable:
                    warnings.append(QualityWarning.EMAIL_UNUSABLE.value)
    first, second = raw.get("phone"), customer.get("phone")
    one = first if second is None else second if first is None else None
    if type(one) is str and (hashed := hash_phone(one, phone_region)):
        user["phone"] = hashed
    elif (first is not None or second is not None) and _match(
        user, "phone", first, second, id_text, hash_phone, phone_region
    ):
        warnings.append(QualityWarning.PHONE_UNUSABLE.value)
    if not _PROFILE_KEYS.isdisjoint(customer):
        if not placeholder:
            _names(customer, user)
        _address(customer, user)
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
