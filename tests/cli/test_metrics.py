"""``masivo-tiktok metrics`` scraped over HTTP from the real exporter process (issue 11,
point 1): Redis up and down, requests by outcome, the oldest waiting event, dead-letter counts
by category and reason, stable label sets, process collectors.

Each test starts the installed ``masivo-tiktok metrics`` as a subprocess on a free port and
scrapes it with httpx, as Prometheus would; the data is written into a real Redis with the
stores the workers use.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from cli.exposition import render
from cli.metrics import registry_for
from devstack import RedisProcess, free_port, wait_until
from tests.cli.support import CLI, ROOT, destinations_env, run
from tests.deploy.tooling import require
from worker.producer import enqueue
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import counters
from worker.store.counters import REQUEST_OUTCOMES, Field, Prefix
from worker.store.deadletter import DeadLetter, DeadLetterStore
from worker.store.pause import PauseKind

pytestmark = pytest.mark.integration

#: (name, sorted label items) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Exporter:
    """A ``masivo-tiktok metrics`` process on a free port, scraped over HTTP."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [CLI, "metrics", "--port", str(self.port)],
                cwd=ROOT,
                env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        assert wait_until(lambda: "metrics on http://" in self.output(), 30), self.output()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def get(self) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=15)

    def scrape(self) -> Samples:
        response = self.get()
        assert response.status_code == 200, response.text
        return parse(response.text)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def named(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


@pytest.fixture
def env(tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> dict[str, str]:
    return destinations_env(tmp_path, redis_url, "brand-a", "brand-b")


@pytest.fixture
def exporter(env: dict[str, str], tmp_path: Path) -> Iterator[Exporter]:
    proc = Exporter(env, tmp_path / "metrics.log")
    try:
        yield proc
    finally:
        proc.close()


def letter(destination: str, category: str, reason: str) -> DeadLetter:
    now = time.time()
    return DeadLetter(
        destination=destination,
        category=category,
        reason=reason,
        first_failure=now,
        last_failure=now,
    )


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        redis_url=env["REDIS_URL"],
        destinations_file=Path(env["MASIVO_TIKTOK_DESTINATIONS"]),
        data_dir=Path(env["MASIVO_TIKTOK_DATA_DIR"]),
    )


def test_scrape_exports_the_new_metrics_with_stable_labels(
    exporter: Exporter, env: dict[str, str], redis_client: redis.Redis
) -> None:
    counters.incr(
        redis_client,
        "brand-a",
        {
            Field.REQUESTS: 7,
            Prefix.REQUESTS.of("delivered"): 4,
            Prefix.REQUESTS.of("server_error"): 2,
            Prefix.REQUESTS.of("timeout"): 1,
            Field.CONFIG_FAILURES: 3,
        },
    )
    store = DeadLetterStore(redis_client, max_entries=1000)
    store.add(
        [
            letter("brand-a", "exhausted", "server_error"),
            letter("brand-a", "exhausted", "server_error"),
            letter("brand-a", "invalid", "tiktok_invalid"),
            letter("brand-b", "rejected", "invalid_json"),
        ]
    )
    events = [{"id": f"e{i}", "type": "search", "query": "x", "issued_at": 0} for i in range(3)]
    settings = _settings(env)
    assert (
        enqueue(events, "brand-a", settings=settings, client=redis_client, doorbell=lambda _d: None)
        == 3
    )
    time.sleep(1.1)  # the oldest waiting event is now over a second old

    samples = exporter.scrape()
    assert value(samples, "masivo_tiktok_redis_up") == 1.0
    assert named(samples, "masivo_tiktok_build_info")
    for outcome in REQUEST_OUTCOMES:  # every outcome, for every destination, 0 when none
        want = {"delivered": 4.0, "server_error": 2.0, "timeout": 1.0}.get(outcome, 0.0)
        got_a = value(
            samples, "masivo_tiktok_requests_total", destination="brand-a", outcome=outcome
        )
        got_b = value(
            samples, "masivo_tiktok_requests_total", destination="brand-b", outcome=outcome
        )
        assert (got_a, got_b) == (want, 0.0), outcome
    assert value(samples, "masivo_tiktok_config_failures_total", destination="brand-a") == 3.0
    assert named(samples, "masivo_tiktok_dlq_entries") == {
        (("category", "exhausted"), ("destination", "brand-a"), ("reason", "server_error")): 2.0,
        (("category", "invalid"), ("destination", "brand-a"), ("reason", "tiktok_invalid")): 1.0,
        (("category", "rejected"), ("destination", "brand-b"), ("reason", "invalid_json")): 1.0,
    }
    oldest_a = value(samples, "masivo_tiktok_oldest_waiting_seconds", destination="brand-a")
    assert 1.0 <= oldest_a < 60
    assert value(samples, "masivo_tiktok_oldest_waiting_seconds", destination="brand-b") == 0.0
    # the three enqueued events wait in the intake (nothing ingests here): KEDA's trigger
    assert value(samples, "masivo_tiktok_intake_backlog_events", destination="brand-a") == 3.0
    assert value(samples, "masivo_tiktok_intake_backlog_events", destination="brand-b") == 0.0
    for dest in ("brand-a", "brand-b"):
        for kind in PauseKind:
            assert value(samples, "masivo_tiktok_paused", destination=dest, kind=kind) == 0.0
    # prometheus_client's process, platform and GC collectors of the exporter's process
    assert value(samples, "process_cpu_seconds_total") > 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert named(samples, "python_info")
    assert named(samples, "python_gc_objects_collected_total")
    # the names the dashboard and the alerts used before are all still there
    for name in (
        "masivo_tiktok_events_received_total",
        "masivo_tiktok_events_queued_total",
        "masivo_tiktok_rate_limited_responses_total",
        "masivo_tiktok_auth_failures_total",
        "masivo_tiktok_outbox_depth",
        "masivo_tiktok_in_flight_batches",
        "masivo_tiktok_scheduled_retries",
        "masivo_tiktok_bucket_rate",
        "masivo_tiktok_celery_queue_length",
        "masivo_tiktok_workers_alive",
        "masivo_tiktok_event_age_at_delivery_seconds_count",
    ):
        assert named(samples, name), name


def test_the_exposition_passes_promtool_and_is_gzipped_when_asked(
    exporter: Exporter, redis_client: redis.Redis
) -> None:
    DeadLetterStore(redis_client, max_entries=10).add([letter("brand-a", "invalid", "x")])
    plain = httpx.get(
        f"http://127.0.0.1:{exporter.port}/metrics", headers={"Accept-Encoding": "identity"}
    )
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in plain.headers
    zipped = exporter.get()  # httpx asks for gzip and decodes it
    assert zipped.headers["content-encoding"] == "gzip"
    assert parse(zipped.text).keys() == parse(plain.text).keys()
    assert httpx.post(f"http://127.0.0.1:{exporter.port}/metrics").status_code == 405
    promtool = require("promtool", "apt-get install prometheus (Debian) puts promtool on PATH")
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=plain.text, capture_output=True, text=True, timeout=60
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


class _Snapshot:
    """One collection, rendered as often as needed (the process collectors change between
    two collections)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def test_render_writes_what_prometheus_client_writes(
    env: dict[str, str], redis_client: redis.Redis
) -> None:
    counters.incr(redis_client, "brand-a", {Field.REQUESTS: 2, Prefix.REQUESTS.of("timeout"): 2})
    DeadLetterStore(redis_client, max_entries=10).add(
        [
            letter("brand-a", "rejected", 'a "quoted" reason'),
            letter("brand-b", "rejected", "back\\slash and\nnewline"),
        ]
    )
    rt = Runtime(
        settings=_settings(env),
        redis=redis_client,
        client=None,  # type: ignore[arg-type]  # nothing here talks to TikTok
        schedule_flush=lambda *args, **kwargs: None,
    )
    snapshot = _Snapshot(list(registry_for(lambda: rt).collect()))
    assert render(snapshot) == generate_latest(snapshot)
    assert "process_cpu_seconds_total" in render(snapshot).decode()


def test_label_sets_stay_the_same_when_a_destination_is_paused(
    exporter: Exporter, env: dict[str, str]
) -> None:
    before = exporter.scrape()
    assert run("pause", "brand-a", env=env).returncode == 0
    after = exporter.scrape()
    assert value(after, "masivo_tiktok_paused", destination="brand-a", kind="operator") == 1.0
    assert value(after, "masivo_tiktok_paused", destination="brand-a", kind="auth") == 0.0

    def series(samples: Samples) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return set(samples)

    assert series(after) == series(before), series(after) ^ series(before)
    assert run("resume", "brand-a", env=env).returncode == 0
    resumed = exporter.scrape()
    assert series(resumed) == series(before)
    assert value(resumed, "masivo_tiktok_paused", destination="brand-a", kind="operator") == 0.0


def test_redis_down_answers_200_with_redis_up_0(tmp_path: Path) -> None:
    with RedisProcess(tmp_path / "redis", port=0, appendonly=False) as server:
        env = destinations_env(tmp_path, server.url, "brand-a")
        proc = Exporter(env, tmp_path / "metrics.log")
        try:
            assert value(proc.scrape(), "masivo_tiktok_redis_up") == 1.0
            server.stop()
            started = time.monotonic()
            response = proc.get()
            took = time.monotonic() - started
            assert response.status_code == 200, response.text
            down = parse(response.text)
            assert value(down, "masivo_tiktok_redis_up") == 0.0
            assert named(down, "masivo_tiktok_build_info")
            assert value(down, "process_resident_memory_bytes") > 0
            assert named(down, "python_info")
            assert not named(down, "masivo_tiktok_outbox_depth")  # nothing read from Redis
            assert took < 10, "a scrape must answer within Prometheus' scrape timeout"
            assert proc.get().status_code == 200  # and the next one too (logged once)

            server.start()
            assert wait_until(lambda: value(proc.scrape(), "masivo_tiktok_redis_up") == 1.0, 30), (
                proc.output()
            )
            assert named(proc.scrape(), "masivo_tiktok_outbox_depth")
        finally:
            proc.close()
    log = proc.output()
    assert "Traceback" not in log, log
    assert log.count("cannot read Redis") == 1, log
    assert "Redis is reachable again" in log


def test_exporter_started_while_redis_is_down_answers_too(tmp_path: Path) -> None:
    env = destinations_env(tmp_path, f"redis://127.0.0.1:{free_port()}/0", "brand-a")
    proc = Exporter(env, tmp_path / "metrics.log")
    try:
        response = proc.get()
        assert response.status_code == 200, response.text
        assert value(parse(response.text), "masivo_tiktok_redis_up") == 0.0
    finally:
        proc.close()
    assert "Traceback" not in proc.output()


# --- what each data Redis promises about acknowledged events (worker.store.persistence) ----

PERSISTENCE = (
    "masivo_tiktok_redis_aof_enabled",
    "masivo_tiktok_redis_appendfsync_info",
    "masivo_tiktok_redis_aof_delayed_fsync_total",
    "masivo_tiktok_redis_durable",
)


def _scrape_once(tmp_path: Path, url: str, **env: str) -> tuple[str, str]:
    """(the exposition of one scrape, the exporter's log) of an exporter on ``url``."""
    proc = Exporter({**destinations_env(tmp_path, url, "brand-a"), **env}, tmp_path / "m.log")
    try:
        response = proc.get()
        assert response.status_code == 200, response.text
        return response.text, proc.output()
    finally:
        proc.close()


def _exporter_user(server: RedisProcess, password: str, commands: list[str]) -> str:
    """An ACL user ``exporter`` allowed everything but ``commands`` (as a managed service may
    be); returns its URL."""
    admin = redis.Redis.from_url(server.url)
    admin.acl_setuser(
        "exporter",
        enabled=True,
        passwords=[f"+{password}"],
        keys=["*"],
        channels=["*"],
        categories=["+@all"],
        commands=commands,
    )
    admin.close()
    return f"redis://exporter:{password}@127.0.0.1:{server.port}/0"


def _persistence(samples: Samples, node: str) -> tuple[float, str, float, float]:
    """(aof_enabled, policy, delayed fsyncs, durable) of ``node``; every family has exactly
    one series per node."""
    (policy,) = [
        dict(labels)["policy"]
        for labels, v in named(samples, "masivo_tiktok_redis_appendfsync_info").items()
        if dict(labels)["node"] == node and v == 1.0
    ]
    return (
        value(samples, "masivo_tiktok_redis_aof_enabled", node=node),
        policy,
        value(samples, "masivo_tiktok_redis_aof_delayed_fsync_total", node=node),
        value(samples, "masivo_tiktok_redis_durable", node=node),
    )


def test_a_redis_with_aof_always_is_exported_as_durable(tmp_path: Path) -> None:
    with RedisProcess(tmp_path / "redis", port=0, appendonly=True) as server:
        text, _ = _scrape_once(tmp_path, server.url)
    samples = parse(text)
    node = f"127.0.0.1:{server.port}"  # the server's address names the single server
    assert _persistence(samples, node) == (1.0, "always", 0.0, 1.0)
    for name in PERSISTENCE:
        assert [dict(labels)["node"] for labels in named(samples, name)] == [node], name


def test_a_redis_without_aof_is_exported_as_not_durable(
    exporter: Exporter, redis_server: RedisProcess
) -> None:
    samples = exporter.scrape()
    # the session server runs appendfsync always, but with appendonly no it has no AOF at all
    assert _persistence(samples, f"127.0.0.1:{redis_server.port}") == (0.0, "always", 0.0, 0.0)


def test_a_redis_that_refuses_config_reads_unknown_and_not_durable_and_keeps_its_password(
    tmp_path: Path,
) -> None:
    """As a managed service that renames or denies ``CONFIG``: here an ACL user without it."""
    with RedisProcess(tmp_path / "redis", port=0, appendonly=True) as server:
        url = _exporter_user(server, "s3cret-pw", ["-config"])
        text, log = _scrape_once(tmp_path, url)
    assert _persistence(parse(text), f"127.0.0.1:{server.port}") == (1.0, "unknown", 0.0, 0.0)
    assert "s3cret" not in text and "exporter:" not in text
    assert "Traceback" not in log, log


def test_a_persistence_reading_that_fails_leaves_its_families_out_not_the_scrape(
    tmp_path: Path,
) -> None:
    """``INFO persistence`` refused (``INFO server``, which the stores ask, allowed):
    everything else is still exported; the failure is logged once."""
    with RedisProcess(tmp_path / "redis", port=0, appendonly=True) as server:
        env = destinations_env(
            tmp_path, _exporter_user(server, "pw", ["-info", "+info|server"]), "brand-a"
        )
        proc = Exporter(env, tmp_path / "metrics.log")
        try:
            scrapes = [proc.scrape(), proc.scrape()]
        finally:
            proc.close()
    for samples in scrapes:
        assert value(samples, "masivo_tiktok_redis_up") == 1.0
        assert named(samples, "masivo_tiktok_outbox_depth")
        for name in PERSISTENCE:
            assert not named(samples, name), name
    log = proc.output()
    assert log.count("cannot read Redis persistence (NoPermissionError)") == 1, log
    assert "Traceback" not in log, log


def test_each_master_of_a_cluster_is_its_own_node(
    tmp_path: Path, redis_cluster: Any, cluster_client: redis.Redis, redis_url: str
) -> None:
    primaries = cluster_client.get_primaries()  # type: ignore[attr-defined]
    masters = sorted(str(node.name) for node in primaries)
    text, _ = _scrape_once(tmp_path, redis_cluster.url, CELERY_BROKER_URL=redis_url)
    samples = parse(text)
    for name in PERSISTENCE:
        assert sorted(dict(labels)["node"] for labels in named(samples, name)) == masters, name
    for node in masters:  # devstack's cluster runs AOF with appendfsync always
        assert _persistence(samples, node) == (1.0, "always", 0.0, 1.0)
