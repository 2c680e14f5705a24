"""worker.store.persistence: what a crash of each data Redis may lose, in words an operator
acts on, and the ``appendfsync`` policy read as ``unknown`` where ``CONFIG`` is refused.

The real servers (AOF always, AOF off, ``CONFIG`` denied by an ACL) are read through the
exporter in tests/cli/test_metrics.py; here, the texts and the answers a managed service may
give, from a stub server.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from worker.store.persistence import Persistence, read_persistence, risks


def _reading(aof: bool = True, fsync: str = "always", node: str = "") -> Persistence:
    return Persistence(node=node, aof=aof, fsync=fsync, delayed_fsync=0)


def test_aof_with_appendfsync_always_has_no_risk() -> None:
    assert _reading().risk is None


def test_without_aof_everything_since_the_last_snapshot_is_at_risk() -> None:
    risk = _reading(aof=False).risk
    assert risk is not None
    assert risk.startswith("Redis runs without AOF (appendonly no)")
    assert "loses every event acknowledged since its last snapshot" in risk


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_a_policy_other_than_always_names_itself_and_its_window(fsync: str) -> None:
    risk = _reading(fsync=fsync).risk
    assert risk is not None
    assert f"runs appendfsync {fsync}" in risk
    assert "~2 s of acknowledged events" in risk


def test_an_unreadable_policy_is_a_risk_too() -> None:
    risk = _reading(fsync="unknown").risk
    assert risk is not None
    assert "appendfsync unreadable (CONFIG GET refused)" in risk


def test_a_cluster_master_is_named_in_its_risk() -> None:
    risk = _reading(aof=False, node="10.0.0.7:6379").risk
    assert risk is not None
    assert risk.startswith("Redis 10.0.0.7:6379 runs without AOF")


def test_risks_lists_only_the_servers_that_have_one() -> None:
    readings = [_reading(node="a:1"), _reading(fsync="everysec", node="b:2")]
    assert [r.split(" ", 2)[1] for r in risks(readings)] == ["b:2"]


class _Server:
    """The two commands a reading sends, answered as a managed service may."""

    def __init__(self, info: dict[str, Any], config: dict[Any, Any] | Exception) -> None:
        self._info = info
        self._config = config

    def info(self, section: str) -> dict[str, Any]:
        assert section == "persistence"
        return self._info

    def config_get(self, name: str) -> dict[Any, Any]:
        assert name == "appendfsync"
        if isinstance(self._config, Exception):
            raise self._config
        return self._config


@pytest.mark.parametrize(
    "refusal",
    [
        redis.ResponseError("unknown command 'CONFIG', with args beginning with: 'GET'"),
        redis.exceptions.NoPermissionError("this user has no permissions to run 'config'"),
    ],
    ids=["renamed", "denied"],
)
def test_a_refused_config_get_reads_as_unknown_and_not_durable(refusal: Exception) -> None:
    server = _Server({"aof_enabled": 1, "aof_delayed_fsync": 3}, refusal)
    (reading,) = read_persistence(server)
    assert reading == Persistence(node="", aof=True, fsync="unknown", delayed_fsync=3)
    assert reading.risk is not None


def test_a_policy_hidden_by_config_get_reads_as_unknown() -> None:
    (reading,) = read_persistence(_Server({"aof_enabled": 1}, {}))
    assert (reading.fsync, reading.delayed_fsync) == ("unknown", 0)


def test_byte_answers_are_read_as_text() -> None:
    (reading,) = read_persistence(_Server({"aof_enabled": 0}, {b"appendfsync": b"everysec"}))
    assert (reading.aof, reading.fsync) == (False, "everysec")
