"""The CLI: flags, serving until a signal or stop hook, and the summary printed at the end."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from devstack import free_port
from emulator import FaultSpec, cli

from .conftest import make_body, make_event


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    args = parse()
    assert (args.host, args.port, args.rate_limit) == ("127.0.0.1", 8081, 1000.0)
    assert args.max_age == 7 * 86_400
    assert args.faults == FaultSpec()
    assert args.seed is None


def test_flags_parse_durations_and_faults() -> None:
    args = parse("--max-age", "2h", "--faults", "503=0.5,outage=10s@5s", "--seed", "4")
    assert args.max_age == 7200
    assert args.faults.http_503 == 0.5
    assert args.seed == 4


@pytest.mark.parametrize("argv", [["--max-age", "soon"], ["--faults", "500=3"]])
def test_bad_flags_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert f"argument {argv[0]}" in capsys.readouterr().err


def _wait_url(out: io.StringIO) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        match = re.search(r"listening on (\S+)", out.getvalue())
        if match:
            return match.group(1)
        time.sleep(0.01)
    raise AssertionError("emulator did not start")


def test_run_serves_until_stopped_then_prints_summary() -> None:
    out, stop = io.StringIO(), threading.Event()
    args = parse("--port", "0", "--faults", "")
    credentials = {"tok": frozenset({"PIXELCODE"})}
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(cli.run(args, credentials, stop=stop, out=out))
    )
    thread.start()
    try:
        url = _wait_url(out)
        body = make_body([make_event(1, time.time())], pixel="PIXELCODE")
        assert httpx.post(url, json=body, headers={"Access-Token": "tok"}).json()["code"] == 0
        assert httpx.post(url, json=body, headers={"Access-Token": "no"}).json()["code"] == 40105
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]
    text = out.getvalue()
    assert "requests: 2 (accepted: 1)" in text
    assert "pixel PIXELCODE: 1 unique, 0 dup" in text
    assert "Purchase: 1" in text
    assert "refused requests: 1 (40105=1)" in text


def test_run_stops_on_sigterm_in_the_main_thread() -> None:
    out = io.StringIO()
    port = free_port()
    previous = signal.getsignal(signal.SIGTERM)

    def kill_when_up() -> None:
        _wait_url(out)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=kill_when_up)
    killer.start()
    assert cli.run(parse("--port", str(port)), None, out=out) == 0
    killer.join(10)
    assert "TikTok emulator summary" in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            [str(Path(sys.executable).parent / "masivo-tiktok"), "emulator"], id="entry-point"
        ),
        pytest.param([sys.executable, "-m", "emulator"], id="python-m"),
    ],
)
def test_command_prints_summary_on_sigint(command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip("masivo-tiktok entry point not installed")
    proc = subprocess.Popen(
        [*command, "--port", "0", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"listening on (\S+)", proc.stdout.readline())
        assert url, proc.stderr.read() if proc.stderr else ""
        body = make_body([make_event(1, time.time())])
        answer = httpx.post(url.group(1), json=body, headers={"Access-Token": "any"}).json()
        proc.send_signal(signal.SIGINT)
        stdout, _stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    if answer["code"] == 0:
        assert "events accepted: 1 (unique 1, duplicates 0)" in stdout
    assert "TikTok emulator summary" in stdout


def test_port_in_use_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.run(parse("--port", str(port)), None) == 2
    assert "cannot listen" in capsys.readouterr().err
