"""Fixtures for the deployed-shape tests: a fresh Redis and an emulator per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import EmulatorConfig, EmulatorServer
from tests.system.stack import PIXEL_A, PIXEL_B, TOKEN_A, TOKEN_B
from worker.embedded import RedisProcess


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[str]:
    with RedisProcess(tmp_path / "redis", port=0) as server:
        yield server.url


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    creds = {TOKEN_A: frozenset({PIXEL_A}), TOKEN_B: frozenset({PIXEL_B})}
    with EmulatorServer(EmulatorConfig(credentials=creds, rate_limit=1000)) as server:
        yield server
