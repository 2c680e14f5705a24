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


def test_everysec_names_itself_and_its_window() -> None:
    risk = _reading(fsync="everysec").risk
    assert risk is not None
    assert "runs appendfsync everysec" in risk
    assert "~2-3 s of acknowledged events" in risk


def test_appendfsync_no_risks_a_machine_crash_not_a_process_crash() -> None:
    risk = _reading(fsync="no").risk
    assert risk is not None
    assert "runs appendfsync no" in risk
    assert "a machine crash loses up to ~30 s" in risk


def test_always_without_fsync_during_rewrites_is_a_risk() -> None:
    reading = Persistence(node="", aof=True, fsync="always", delayed_fsync=0,
                          fsync_on_rewrite=False)  # fmt: skip
    assert reading.risk is not None
    assert "no-appendfsync-on-rewrite yes" in reading.risk


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
        assert name == "*appendfsync*"
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


def test_no_fsync_during_rewrites_is_read_from_the_same_config_get() -> None:
    answer = {"appendfsync": "always", "no-appendfsync-on-rewrite": "yes"}
    (reading,) = read_persistence(_Server({"aof_enabled": 1}, answer))
    assert (reading.fsync, reading.fsync_on_rewrite) == ("always", False)
    assert reading.risk is not None
