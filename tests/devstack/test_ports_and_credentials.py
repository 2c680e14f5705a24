"""free_port gives a port we can bind; the credentials make destinations the worker accepts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devstack import credentials as c
from devstack import free_port, write_destinations
from worker.settings import PIXEL_CODE_RE, Settings


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert sock.getsockname()[1] == port


@pytest.mark.parametrize("pixel", [c.PIXEL_A, c.PIXEL_B, c.PIXEL_BAD, c.PIXEL_NAIVE])
def test_pixels_are_valid_codes_starting_c9(pixel: str) -> None:
    assert PIXEL_CODE_RE.match(pixel)
    assert pixel.startswith("C9")


def test_pixels_and_tokens_are_all_distinct() -> None:
    pixels = {c.PIXEL_A, c.PIXEL_B, c.PIXEL_BAD, c.PIXEL_NAIVE}
    tokens = {c.TOKEN_A, c.TOKEN_B, c.TOKEN_BAD, c.TOKEN_NAIVE}
    assert len(pixels) == len(tokens) == 4


def test_the_emulator_knows_a_and_b_but_not_the_bad_token() -> None:
    creds = c.emulator_credentials()
    assert creds == {c.TOKEN_A: frozenset({c.PIXEL_A}), c.TOKEN_B: frozenset({c.PIXEL_B})}
    creds[c.TOKEN_BAD] = frozenset({c.PIXEL_BAD})  # a test "fixes" the token...
    assert c.TOKEN_BAD not in c.emulator_credentials()  # ...in its own copy only


def test_default_destinations_load_in_the_worker_settings(tmp_path: Path) -> None:
    path = write_destinations(tmp_path / "d.json", c.default_destinations())
    assert path.stat().st_mode & 0o777 == 0o600  # it holds access tokens
    dests = Settings(destinations_file=path).destinations
    assert {d: dests[d].pixel_code for d in ("brand-a", "brand-b", "brand-bad")} == {
        "brand-a": c.PIXEL_A,
        "brand-b": c.PIXEL_B,
        "brand-bad": c.PIXEL_BAD,
    }
    assert dests["brand-a"].access_token.get_secret_value() == c.TOKEN_A
