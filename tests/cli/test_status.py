"""``masivo-tiktok status``: the oldest waiting event and requests by outcome, in the table
and in ``--json`` (issue 11, point 1), run as the installed command against a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import redis

from cli.status import age
from tests.cli.support import destinations_env, run
from worker.producer import enqueue
from worker.settings import Settings
from worker.store import counters
from worker.store.counters import REQUEST_OUTCOMES, Field, Prefix
from worker.store.deadletter import DeadLetter, DeadLetterStore

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> dict[str, str]:
    return destinations_env(tmp_path, redis_url, "brand-a", "brand-b")


def _seed(env: dict[str, str], client: redis.Redis) -> None:
    settings = Settings(
        redis_url=env["REDIS_URL"],
        destinations_file=Path(env["MASIVO_TIKTOK_DESTINATIONS"]),
        data_dir=Path(env["MASIVO_TIKTOK_DATA_DIR"]),
    )
    events = [{"id": f"e{i}", "type": "search", "query": "x", "issued_at": 0} for i in range(2)]
    enqueue(events, "brand-a", settings=settings, client=client, doorbell=lambda _d: None)
    counters.incr(
        client,
        "brand-a",
        {Field.REQUESTS: 3, Prefix.REQUESTS.of("delivered"): 2, Prefix.REQUESTS.of("timeout"): 1},
    )
    # requests counted by a release that had no outcomes: they show as "other"
    counters.incr(client, "brand-b", {Field.REQUESTS: 5, Prefix.REQUESTS.of("delivered"): 1})
    now = time.time()
    DeadLetterStore(client, max_entries=100).add(
        [
            DeadLetter(
                destination="brand-a",
                category="exhausted",
                reason="server_error",
                first_failure=now,
                last_failure=now,
            )
        ]
    )
    time.sleep(1.1)


def test_status_json_has_the_oldest_waiting_event_and_requests_by_outcome(
    env: dict[str, str], redis_client: redis.Redis
) -> None:
    _seed(env, redis_client)
    result = run("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    a, b = report["brand-a"], report["brand-b"]
    assert 1.0 <= a["state"]["oldest_waiting_s"] < 60
    assert a["state"]["oldest_waiting_since"] <= time.time() - 1
    assert b["state"]["oldest_waiting_s"] is None
    assert b["state"]["oldest_waiting_since"] is None
    assert list(a["requests"]) == list(REQUEST_OUTCOMES)
    assert {k: v for k, v in a["requests"].items() if v} == {"delivered": 2, "timeout": 1}
    assert {k: v for k, v in b["requests"].items() if v} == {"delivered": 1, "other": 4}
    assert sum(b["requests"].values()) == b["counters"]["requests"]
    assert a["state"]["dlq"] == 1
    assert (a["state"]["intake"], b["state"]["intake"]) == (2, 0)  # enqueued, not ingested
    assert a["state"]["dlq_by_category"] == {"exhausted": {"server_error": 1}}
    assert b["state"]["dlq_by_category"] == {}


def test_status_table_shows_them_too(env: dict[str, str], redis_client: redis.Redis) -> None:
    _seed(env, redis_client)
    result = run("status", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert "oldest_wait" in header
    column = header.index("oldest_wait")
    rows = {line.split()[0]: line.split() for line in lines[1:3]}
    assert rows["brand-a"][column].endswith("s") and rows["brand-a"][column] != "0s"
    assert rows["brand-b"][column] == "-"
    intake = header.index("intake")
    assert (rows["brand-a"][intake], rows["brand-b"][intake]) == ("2", "0")

    section = result.stdout.split("requests to TikTok by outcome:\n", 1)[1].split("\n\n")[0]
    table = [line.split() for line in section.splitlines()]
    assert table[0] == ["destination", "requests", *REQUEST_OUTCOMES]
    by_dest = {row[0]: dict(zip(table[0][1:], row[1:], strict=True)) for row in table[1:]}
    assert by_dest["brand-a"]["requests"] == "3"
    assert (by_dest["brand-a"]["delivered"], by_dest["brand-a"]["timeout"]) == ("2", "1")
    assert (by_dest["brand-b"]["other"], by_dest["brand-b"]["server_error"]) == ("4", "0")
    assert "requests:" not in result.stdout  # not repeated in the "by reason" lines


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.2, "0s"), (45, "45s"), (720, "12m"), (12_600, "3.5h"), (181_440, "2.1d")],
)
def test_age_for_the_table(seconds: float | None, text: str) -> None:
    assert age(seconds) == text


def test_the_pipelined_reads_answer_what_the_stores_answer(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    """status() reads every destination's keys in one pipeline: each figure must be what the
    store's own method says (a store that changes what it reads fails here)."""
    from cli.status import status
    from worker.ingest import ingest
    from worker.runtime import Runtime
    from worker.store import quality
    from worker.store.pause import pause, paused_info

    env = destinations_env(tmp_path, redis_url, "brand-a", "brand-b")
    rt = Runtime(
        settings=Settings(
            redis_url=redis_url,
            destinations_file=Path(env["MASIVO_TIKTOK_DESTINATIONS"]),
            data_dir=tmp_path,
        ),
        redis=redis_client,
        client=None,  # type: ignore[arg-type]  # nothing here talks to TikTok
        schedule_flush=lambda *args, **kwargs: None,
    )
    now = time.time()
    events = [
        {"id": f"e{i}", "type": "search", "query": "x", "email": "a@b.mx", "issued_at": int(now)}
        for i in range(6)
    ]
    ingest(rt, "brand-a", events)  # six events in the outbox
    box = rt.outbox("brand-a")
    leased = box.claim_new(2, 60, now - 30)  # a batch in flight, waiting since 30 s ago
    released = box.claim_new(2, 60, now - 20)
    assert leased is not None and released is not None
    assert box.release(released.id, now)  # a batch on the retry schedule
    rt.intake("brand-a").append(b'[{"id": "late"}]', 1)  # an entry not ingested yet
    rt.intake("brand-b").append(b'[{"id": "only"}]', 1)
    pause(redis_client, "brand-b", "operator", "test", now)

    report = status(rt)
    for d in ("brand-a", "brand-b"):
        state = report[d]["state"]
        box = rt.outbox(d)
        assert {k: state[k] for k in box.counts()} == box.counts()
        times = [t for t in (rt.intake(d).oldest_since(), box.oldest_waiting_since()) if t]
        assert state["oldest_waiting_since"] == min(times)
        assert state["paused"] == paused_info(redis_client, d)
        assert report[d]["counters"] == counters.read(redis_client, d)
        assert report[d]["quality"] == quality.read(redis_client, d)
        alone = rt.bucket(rt.settings.destinations[d]).state()
        assert report[d]["state"]["bucket"]["rate"] == pytest.approx(alone["rate"], rel=0.02)
        assert report[d]["state"]["bucket"]["tokens"] == pytest.approx(alone["tokens"], abs=50)
    a = report["brand-a"]["state"]
    assert (a["outbox"], a["in_flight"], a["scheduled_retries"]) == (2, 1, 1)
    assert 29 <= a["oldest_waiting_s"] < 60
    assert report["brand-b"]["state"]["paused"]["kind"] == "operator"
