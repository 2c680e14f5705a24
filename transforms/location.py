"""``user.city``, ``user.state`` and ``user.country``: normalised, never hashed (as every peer).

* **city**, **state** - lower-cased, accents transliterated (``"Mérida"`` → ``"merida"``),
  everything but ``[a-z0-9]`` removed (``"San Luis Potosí"`` → ``"sanluispotosi"``):
  Segment's normal form (lower-case alphanumerics), with accents kept as their letter
  instead of being lost. Nothing left (``"—"``, ``"東京"``) → omitted.
* **country** - ISO 3166-1 alpha-2, lower-case (``"MX"`` → ``"mx"``). Accepted, compared in
  the city form above: an alpha-2 or alpha-3 code (``"MEX"``), a country's name in English,
  Spanish, Portuguese or French (``"México"``, ``"Mexique"``, ``"Estados Unidos"``,
  ``"United States of America"``) and a few common abbreviations (``"EEUU"``, ``"UK"``);
  see :mod:`transforms.countries`. Anything else is omitted rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

from transforms.countries import COUNTRY_CODES

__all__ = ["normalise_country", "normalise_place"]

_NON_ALNUM: Final = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def normalise_place(text: str) -> str | None:
    """City/state normal form (module docstring); ``None`` when nothing is left."""
    lowered = text.strip().lower()
    if not lowered.isascii():
        decomposed = unicodedata.normalize("NFKD", lowered)
        lowered = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_ALNUM.sub("", lowered) or None


@lru_cache(maxsize=4096)
def normalise_country(text: str) -> str | None:
    """ISO 3166-1 alpha-2, lower-case, or ``None`` when the country is not recognised."""
    key = normalise_place(text)
    return COUNTRY_CODES.get(key) if key else None
