"""Find secrets and raw PII in captured output (logs, Sentry envelopes, error messages, files).

::

    from tests.leakscan import scan_for_leaks

    assert scan_for_leaks([stream.getvalue(), *captured_bodies], [TOKEN], needles=[EMAIL]) == []

A secret is looked for raw and in every spelling an escaping layer can give it: JSON
(``\\"``, ``\\u00e9``, ``\\/``), ``repr()`` / ``ascii()`` with either quote, ``unicode_escape``,
a bytes repr (``\\xc3\\xa9``), URL-encoding (``%C3%A9``, ``%c3%a9``, ``+`` for spaces) and base64
(also inside a longer base64 text, at any alignment), plus one escape inside another (the JSON of
a repr). ``needles`` (raw e-mails, phone numbers, anything) get the same treatment.

This is deliberately independent of ``worker.observability``: a test helper that shared the
scrubber's list of spellings could not catch a spelling the scrubber forgot. A finding names
the text and the spelling, never the secret itself, so a failing assertion leaks nothing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

__all__ = ["forms_of", "scan_for_leaks"]

_Escape = Callable[[str], str]


def _repr_quoted(value: str | bytes, quote_char: str, spell: Callable[[object], str] = repr) -> str:
    """The inside of ``repr(value)`` (or ``ascii``) as if Python had chosen ``quote_char``."""
    # a string holding both quotes is always '-quoted with ' escaped: strip the helper prefix
    both = "'\"" + value if isinstance(value, str) else b"'\"" + value
    inner = spell(both)[4 if isinstance(value, str) else 5 : -1]
    return inner if quote_char == "'" else inner.replace("\\'", "'")


_LITERAL_ESCAPES: dict[str, _Escape] = {
    "json": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json-ascii": lambda s: json.dumps(s)[1:-1],
    "json-slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "repr": lambda s: _repr_quoted(s, "'"),
    'repr"': lambda s: _repr_quoted(s, '"'),
    "ascii": lambda s: _repr_quoted(s, "'", ascii),
    'ascii"': lambda s: _repr_quoted(s, '"', ascii),
    "unicode-escape": lambda s: s.encode("unicode_escape").decode("ascii"),
    "bytes-repr": lambda s: _repr_quoted(s.encode("utf-8", "surrogatepass"), "'"),
    'bytes-repr"': lambda s: _repr_quoted(s.encode("utf-8", "surrogatepass"), '"'),
}

_TRANSPORT_ESCAPES: dict[str, _Escape] = {
    "url": lambda s: quote(s.encode("utf-8", "surrogatepass"), safe=""),
    "url-path": lambda s: quote(s.encode("utf-8", "surrogatepass")),
    "url-plus": lambda s: quote_plus(s.encode("utf-8", "surrogatepass")),
    "url-lower": lambda s: re.sub(
        r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s.encode("utf-8", "surrogatepass"))
    ),
}


def _base64_forms(secret: str) -> dict[str, str]:
    """The base64 characters fully determined by ``secret`` at each of the three alignments."""
    raw = secret.encode("utf-8", "surrogatepass")
    out: dict[str, str] = {}
    for offset in range(3):
        padded = b"\0" * offset + raw + b"\0\0\0"
        first = -(-8 * offset // 6)  # ceil: the first character holding only secret bits
        last = 8 * (offset + len(raw)) // 6  # exclusive: the first holding bits after it
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = encode(padded).decode("ascii")[first:last]
            if len(text) >= 6:
                out[f"{name}@{offset}"] = text
    return out


def forms_of(secret: str) -> dict[str, str]:
    """Every spelling of ``secret`` looked for, by a name of how it was spelled."""
    first: dict[str, str] = {"raw": secret}
    for name, escape in {**_LITERAL_ESCAPES, **_TRANSPORT_ESCAPES}.items():
        first[name] = escape(secret)
    first.update(_base64_forms(secret))
    forms = dict(first)
    for outer_name, outer in _LITERAL_ESCAPES.items():
        for inner_name, inner in first.items():
            if inner_name != "raw":
                forms[f"{outer_name}({inner_name})"] = outer(inner)
    unique: dict[str, str] = {}
    for name, form in forms.items():
        if form not in unique.values():
            unique[name] = form
    return unique


def scan_for_leaks(
    texts: Iterable[str | bytes],
    secrets: Iterable[str],
    *,
    needles: Iterable[str] = (),
) -> list[str]:
    """One line per secret or needle found in ``texts``, in any spelling; ``[]`` when clean.

    ``bytes`` are searched as they are (each spelling encoded as UTF-8) and decoded as UTF-8.
    A finding reads ``text 2: secret 0 as json(repr)``: it never repeats the secret.
    """
    targets = [("secret", i, s) for i, s in enumerate(secrets)]
    targets += [("needle", i, s) for i, s in enumerate(needles)]
    for kind, i, value in targets:
        if not value:
            raise ValueError(f"{kind} {i} is empty: it would be found everywhere")
    found: list[str] = []
    for t, text in enumerate(texts):
        haystacks: list[str | bytes] = [text]
        if isinstance(text, bytes):
            haystacks.append(text.decode("utf-8", "replace"))
        for kind, i, value in targets:
            for name, form in forms_of(value).items():
                if any(
                    (form.encode("utf-8", "surrogatepass") if isinstance(h, bytes) else form) in h
                    for h in haystacks
                ):
                    found.append(f"text {t}: {kind} {i} as {name}")
                    break
    return found
