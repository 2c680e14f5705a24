"""``masivo-tiktok dlq``: every action honours the filters and ``--json`` (real Redis)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import redis

from tests.cli.support import destinations_env, run
from worker.store.deadletter import DeadLetter, DeadLetterStore

pytestmark = pytest.mark.integration


def letter(destination: str, reason: str, n: int, **extra: object) -> DeadLetter:
    now = time.time()
    fields: dict[str, object] = {
        "destination": destination,
        "reason": reason,
        "category": "rejected" if reason == "invalid_json" else "exhausted",
        "event_id": f"e-{n}",
        "first_failure": now,
        "last_failure": now,
        **extra,
    }
    return DeadLetter.model_validate(fields)


@pytest.fixture
def store(redis_client: redis.Redis) -> DeadLetterStore:
    return DeadLetterStore(redis_client, max_entries=1000)


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return destinations_env(tmp_path, redis_url, "brand-a", "brand-b")


def seed(store: DeadLetterStore) -> float:
    """Three old entries, then (after the returned time) two new ones."""
    store.add(
        [
            letter("brand-a", "invalid_json", 1, raw_event="{not json"),
            letter("brand-a", "retryable", 2),
            letter("brand-b", "retryable", 3),
        ]
    )
    time.sleep(0.05)
    between = time.time()
    time.sleep(0.05)
    store.add([letter("brand-a", "retryable", 4), letter("brand-b", "invalid_json", 5)])
    return between


def stats(env: dict[str, str], *args: str) -> dict[str, object]:
    result = run("dlq", "stats", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def test_stats_without_filters_counts_everything(
    store: DeadLetterStore, env: dict[str, str]
) -> None:
    seed(store)
    report = stats(env)
    assert report["size"] == 5
    assert report["by_destination"] == {"brand-a": 3, "brand-b": 2}
    assert report["by_reason"] == {"invalid_json": 2, "retryable": 3}


def test_stats_applies_destination_reason_since_and_limit(
    store: DeadLetterStore, env: dict[str, str]
) -> None:
    between = seed(store)
    only_a = stats(env, "--destination", "brand-a")
    assert only_a["size"] == 3
    assert only_a["by_destination"] == {"brand-a": 3}
    assert only_a["by_reason"] == {"invalid_json": 1, "retryable": 2}

    retryable_a = stats(env, "--destination", "brand-a", "--reason", "retryable")
    assert (retryable_a["size"], retryable_a["by_category"]) == (2, {"exhausted": 2})

    recent = stats(env, "--since", str(between))
    assert recent["size"] == 2
    assert recent["by_destination"] == {"brand-a": 1, "brand-b": 1}
    assert isinstance(recent["oldest"], float) and recent["oldest"] >= between

    first_two = stats(env, "--limit", "2")
    assert first_two["by_destination"] == {"brand-a": 2}

    nothing = stats(env, "--reason", "no-such-reason")
    assert nothing == {
        "size": 0,
        "by_destination": {},
        "by_reason": {},
        "by_category": {},
        "oldest": None,
        "newest": None,
    }


def test_stats_text_output_is_filtered_too(store: DeadLetterStore, env: dict[str, str]) -> None:
    seed(store)
    result = run("dlq", "stats", "--destination", "brand-b", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "size: 2"
    assert "brand-a" not in result.stdout


def test_list_honours_the_filters(store: DeadLetterStore, env: dict[str, str]) -> None:
    between = seed(store)
    result = run("dlq", "list", "--json", "--since", str(between), "--reason", "retryable", env=env)
    assert result.returncode == 0, result.stderr
    rows = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert [r["event_id"] for r in rows] == ["e-4"]
    text = run("dlq", "list", "--destination", "brand-b", env=env)
    assert len(text.stdout.splitlines()) == 2
    assert text.stderr.strip() == "2 entries"


def test_purge_json_says_what_it_deleted(store: DeadLetterStore, env: dict[str, str]) -> None:
    seed(store)
    result = run("dlq", "purge", "--destination", "brand-b", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == {"purged": 2}
    assert store.stats()["by_destination"] == {"brand-a": 3}

    limited = run("dlq", "purge", "--all", "--limit", "1", "--json", env=env)
    assert orjson.loads(limited.stdout) == {"purged": 1}
    assert [e.event_id for _, e in store.list()] == ["e-2", "e-4"]

    text = run("dlq", "purge", "--all", env=env)
    assert text.stdout.strip() == "purged 2 entries"
    assert store.size() == 0


def test_purge_without_a_filter_is_refused(store: DeadLetterStore, env: dict[str, str]) -> None:
    seed(store)
    result = run("dlq", "purge", "--json", env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("masivo-tiktok dlq purge: purge needs a filter")
    assert store.size() == 5


def test_replay_json_says_what_it_did(store: DeadLetterStore, env: dict[str, str]) -> None:
    payload = {"event": "ViewContent", "event_id": "p-1", "event_time": int(time.time())}
    store.add(
        [
            letter("brand-a", "retryable", 1, payload=payload),
            letter("brand-a", "invalid_json", 2, raw_event="{still not json"),
            letter("gone", "retryable", 3, payload=payload),
        ]
    )
    result = run("dlq", "replay", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout) == {"replayed": 1, "skipped": 1, "still_invalid": 1}
    assert sorted(e.destination for _, e in store.list()) == ["brand-a", "gone"]


def test_replay_by_filter_and_by_id(store: DeadLetterStore, env: dict[str, str]) -> None:
    payload = {"event": "ViewContent", "event_id": "p-1", "event_time": int(time.time())}
    ids = store.add(
        [
            letter("brand-a", "retryable", 1, payload=payload),
            letter("brand-b", "retryable", 2, payload=payload),
            letter("brand-b", "retryable", 3, payload=payload),
        ]
    )
    by_filter = run("dlq", "replay", "--destination", "brand-b", "--limit", "1", env=env)
    assert by_filter.stdout.strip() == "replayed 1 entries"
    assert [i for i, _ in store.list()] == [ids[0], ids[2]]
    by_id = run("dlq", "replay", ids[0], "--json", env=env)
    assert orjson.loads(by_id.stdout)["replayed"] == 1
    missing = run("dlq", "replay", "0-1", env=env)
    assert missing.returncode == 2
    assert "no dead-letter entry '0-1'" in missing.stderr


def test_show_prints_one_entry_or_exits_2(store: DeadLetterStore, env: dict[str, str]) -> None:
    (entry_id,) = store.add([letter("brand-a", "retryable", 1)])
    shown = run("dlq", "show", entry_id, env=env)
    assert orjson.loads(shown.stdout)["event_id"] == "e-1"
    assert run("dlq", "show", "0-1", env=env).returncode == 2


def test_unreachable_redis_is_one_line(env: dict[str, str]) -> None:
    result = run("dlq", "stats", env={**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("masivo-tiktok dlq stats: cannot reach Redis")


def test_list_show_and_migrate_legacy_entries(
    store: DeadLetterStore, env: dict[str, str], redis_client: redis.Redis
) -> None:
    """Entries of the legacy global stream (before issue 12) list and show under their old
    ids; ``dlq migrate`` moves them into their destinations' streams."""
    from worker.store import keys

    legacy_id = redis_client.xadd(
        keys.LEGACY_DLQ, {b"d": letter("brand-b", "retryable", 9).to_json()}
    )
    time.sleep(0.003)  # across streams, the order is by millisecond
    store.add([letter("brand-a", "retryable", 1)])
    listed = run("dlq", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    ids = [orjson.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert ids[0] == legacy_id.decode() and ids[1].startswith("brand-a/")  # type: ignore[union-attr]
    shown = run("dlq", "show", legacy_id.decode(), env=env)  # type: ignore[union-attr]
    assert shown.returncode == 0 and orjson.loads(shown.stdout)["event_id"] == "e-9"
    moved = run("dlq", "migrate", "--json", env=env)
    assert moved.returncode == 0 and orjson.loads(moved.stdout) == {"migrated": 1}
    assert not redis_client.exists(keys.LEGACY_DLQ)
    assert stats(env)["by_destination"] == {"brand-a": 1, "brand-b": 1}
