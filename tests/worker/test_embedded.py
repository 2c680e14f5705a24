"""The embedded Redis: the shared, daemonized default server of a data folder."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from worker import embedded
from worker.embedded import (
    UNIX_PATH_MAX,
    embedded_url,
    ensure_embedded,
    kombu_url,
    redis_server_binary,
    stop_embedded,
)


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def _aof_exists(directory: Path) -> bool:
    # Redis 7 keeps a multi-part AOF in appendonlydir/, Redis 6.2 one appendonly.aof
    return (directory / "appendonly.aof").exists() or (directory / "appendonlydir").is_dir()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder whose embedded server (if any) is stopped after the test."""
    path = tmp_path / "data"
    yield path
    stop_embedded(path)


def test_binary_is_executable() -> None:
    assert Path(redis_server_binary()).exists()


def test_ensure_embedded_starts_once_and_reuses(data_dir: Path) -> None:
    url = ensure_embedded(data_dir)
    assert url == f"unix://{data_dir.resolve() / 'redis.sock'}"
    client = redis.Redis.from_url(url)
    client.set(b"mtt:test", b"1")
    pid = (data_dir / "redis.pid").read_text().strip()
    assert ensure_embedded(data_dir) == url
    assert (data_dir / "redis.pid").read_text().strip() == pid
    assert client.get(b"mtt:test") == b"1"
    assert _aof_exists(data_dir)
    client.close()
    assert stop_embedded(data_dir) is True
    assert not _ping(url)
    assert stop_embedded(data_dir) is False


def test_a_server_started_with_everysec_is_switched_to_always(data_dir: Path) -> None:
    """An embedded server started by an older version (appendfsync everysec) outlives the
    upgrade; the next starter makes it durable in place."""
    url = ensure_embedded(data_dir)
    client = redis.Redis.from_url(url, decode_responses=True)
    assert client.config_get("appendfsync")["appendfsync"] == "always"
    client.config_set("appendfsync", "everysec")
    embedded._checked_durable.clear()  # as a process that has not looked at it yet
    assert ensure_embedded(data_dir) == url
    assert client.config_get("appendfsync")["appendfsync"] == "always"
    client.close()


def test_concurrent_starters_share_one_server(data_dir: Path) -> None:
    urls: list[str] = []
    threads = [
        threading.Thread(target=lambda: urls.append(ensure_embedded(data_dir))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(urls)) == 1
    assert len(urls) == 4


def test_survives_the_process_that_started_it(data_dir: Path) -> None:
    code = "import sys; from pathlib import Path; from worker.embedded import ensure_embedded;"
    code += " print(ensure_embedded(Path(sys.argv[1])))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    url = done.stdout.strip()
    assert url == embedded_url(data_dir)
    assert _ping(url)  # the starter has exited; the daemon still serves
    assert ensure_embedded(data_dir) == url


def test_long_path_falls_back_to_tcp(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * (UNIX_PATH_MAX + 10))
    try:
        url = ensure_embedded(data_dir)
        assert url.startswith("redis://127.0.0.1:")
        port = int((data_dir / "redis.port").read_text())
        assert url == f"redis://127.0.0.1:{port}/0"
        assert ensure_embedded(data_dir) == url
        assert _ping(url)
    finally:
        stop_embedded(data_dir)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("unix:///var/run/r.sock", "redis+socket:///var/run/r.sock", id="unix"),
        pytest.param("redis://h:6380/2", "redis://h:6380/2", id="tcp"),
        pytest.param("rediss://u:p@h:6380/0", "rediss://u:p@h:6380/0", id="tls"),
    ],
)
def test_kombu_url(given: str, expected: str) -> None:
    assert kombu_url(given) == expected


def test_kombu_connects_over_the_socket(data_dir: Path) -> None:
    import kombu

    url = ensure_embedded(data_dir)
    with kombu.Connection(kombu_url(url)) as conn:  # type: ignore[attr-defined,no-untyped-call]
        queue = conn.SimpleQueue("mtt-test")
        queue.put({"ok": 1})
        assert queue.get(timeout=5).payload == {"ok": 1}
        queue.close()
