"""The one set of pixel codes and access tokens for tests, benchmarks and the demo.

Every pixel code is valid for the worker (20 upper-case letters and digits) and starts with
``C9``; the letter after it tells the brand apart in logs and emulator summaries. The tokens
are distinctive enough that a test can search logs and Redis for them to prove they never leak.

* brand-a / brand-b: tokens the emulator knows (see :func:`emulator_credentials`).
* brand-bad: a token the emulator does not know until a test adds it (an expired token).
* naive: a pixel for deliveries that bypass the worker (the benchmark's naive baseline).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PIXEL_A",
    "PIXEL_B",
    "PIXEL_BAD",
    "PIXEL_NAIVE",
    "TEST_EVENT_CODE",
    "TOKEN_A",
    "TOKEN_B",
    "TOKEN_BAD",
    "TOKEN_NAIVE",
    "default_destinations",
    "destination",
    "emulator_credentials",
]

PIXEL_A = "C9AAAAAAAAAAAAAAAAAA"
PIXEL_B = "C9BBBBBBBBBBBBBBBBBB"
PIXEL_BAD = "C9CCCCCCCCCCCCCCCCCC"
PIXEL_NAIVE = "C9NNNNNNNNNNNNNNNNNN"
TOKEN_A = "test-token-A-7f3a9c2e51"  # noqa: S105 - a test token, not a secret
TOKEN_B = "test-token-B-0c4d8e1f62"  # noqa: S105 - a test token, not a secret
TOKEN_BAD = "wrong-token-xyz"  # noqa: S105 - a test token, not a secret
TOKEN_NAIVE = "test-token-N-5d1e2f3a4b"  # noqa: S105 - a test token, not a secret
#: a TikTok test event code: events sent with it land in the pixel's Test Events view
TEST_EVENT_CODE = "TEST12345"

_PIXEL_OF = {TOKEN_A: PIXEL_A, TOKEN_B: PIXEL_B, TOKEN_BAD: PIXEL_BAD, TOKEN_NAIVE: PIXEL_NAIVE}


def destination(dest_id: str, pixel_code: str, access_token: str, **extra: Any) -> dict[str, Any]:
    """One entry of a destinations file; ``extra`` adds optional fields (``rate_limit``...)."""
    return {"id": dest_id, "pixel_code": pixel_code, "access_token": access_token, **extra}


def default_destinations() -> list[dict[str, Any]]:
    """brand-a, brand-b and brand-bad, as a fresh list the caller may change."""
    return [
        destination("brand-a", PIXEL_A, TOKEN_A),
        destination("brand-b", PIXEL_B, TOKEN_B),
        destination("brand-bad", PIXEL_BAD, TOKEN_BAD),
    ]


def emulator_credentials(*tokens: str) -> dict[str, frozenset[str]]:
    """Token -> pixel codes for :class:`emulator.EmulatorConfig`: ``tokens`` (default A and B).

    A fresh dict each call: a test may add to it while the emulator runs, e.g. to accept
    ``TOKEN_BAD`` once "the brand has fixed its token".
    """
    return {token: frozenset({_PIXEL_OF[token]}) for token in tokens or (TOKEN_A, TOKEN_B)}
