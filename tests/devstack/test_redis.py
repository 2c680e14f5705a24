"""RedisProcess: a private redis-server child, stopped, killed and restarted for real."""

from __future__ import annotations

from pathlib import Path

import redis

from devstack import RedisProcess


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


def test_tcp_with_aof_then_stop(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path, port=0, appendonly=True)
    with server:
        assert server.url.startswith("redis://127.0.0.1:")
        assert server.port != 6379
        client = redis.Redis.from_url(server.url)
        client.set(b"k", b"v")
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.close()
        assert _aof_exists(tmp_path)
        url = server.url
    assert server.proc is None  # reaped
    assert server.pid is None
    assert not _ping(url)


def test_unix_socket_without_persistence(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    with RedisProcess(tmp_path, port=None, unix_socket=sock) as server:
        assert server.url == f"unix://{sock}"
        assert _ping(server.url)
        client = redis.Redis.from_url(server.url, decode_responses=True)
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("save")["save"] == ""
        client.close()
    assert not _aof_exists(tmp_path)


def test_kill_is_like_a_crash(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path).start()
    url = server.url
    server.kill()
    assert server.proc is None
    assert not _ping(url)
    server.stop()  # idempotent after a kill


def test_restart_after_kill_9_keeps_the_port_and_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    server = RedisProcess(tmp_path, port=0, appendonly=True).start()
    try:
        url, port = server.url, server.port
        client = redis.Redis.from_url(url)
        assert client.config_get("appendfsync")["appendfsync"] == "always"
        client.set(b"survivor", b"yes")
        client.rpush(b"queue", *[str(i).encode() for i in range(100)])
        client.close()
        # SIGKILL: no shutdown. With appendfsync always each write was written and fsynced
        # before its reply; with everysec this failed on a busy disk (CI): Redis had answered
        # the RPUSH and postponed writing it behind the SET's background fsync.
        server.kill()
        assert not _ping(url)
        server.start()
        assert (server.url, server.port) == (url, port)
        client = redis.Redis.from_url(url)
        assert client.get(b"survivor") == b"yes"
        assert client.llen(b"queue") == 100
        client.close()
    finally:
        server.stop()


def test_start_twice_is_one_server(tmp_path: Path) -> None:
    with RedisProcess(tmp_path) as server:
        pid = server.pid
        assert server.start() is server
        assert server.pid == pid
