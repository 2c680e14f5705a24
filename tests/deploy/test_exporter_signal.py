"""``masivo-tiktok metrics`` ends at once on SIGTERM, also as PID 1 of a container.

The kernel ignores a signal sent to a PID namespace's init process unless that process
installed a handler for it: without one, every rollout waits out the grace period and then
SIGKILLs the exporter (measured before the fix: 10.1 s, exit 137). The second test runs the
exporter as PID 1 of its own PID namespace (``unshare``, as a container runtime does).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devstack import BIN, free_port, wait_until
from tests.deploy.support import ROOT

pytestmark = pytest.mark.integration

#: "at once": the exporter has nothing to finish; a generous bound for a loaded CI machine
PROMPT_S = 5.0


def _env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"REDIS_URL": redis_url, "MASIVO_TIKTOK_DATA_DIR": str(tmp_path)})
    return env


def _started(log: Path) -> bool:
    return "metrics on http://" in log.read_text(encoding="utf-8", errors="replace")


def _stop_and_time(proc: subprocess.Popen[bytes], target_pid: int) -> tuple[int, float]:
    started = time.monotonic()
    os.kill(target_pid, signal.SIGTERM)
    try:
        code = proc.wait(timeout=PROMPT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"the exporter ignored SIGTERM for {PROMPT_S} s") from None
    return code, time.monotonic() - started


def test_sigterm_ends_the_exporter_at_once(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / "metrics.log"
    argv = [str(BIN / "masivo-tiktok"), "metrics", "--port", str(free_port())]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=_env(redis_url, tmp_path), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        assert wait_until(lambda: _started(log), 30), log.read_text()
        code, took = _stop_and_time(proc, proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log.read_text()
    assert took < PROMPT_S


def _child_of(pid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            return int(entry.name)
    return None


def _can_unshare() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "--pid", "--fork", "--kill-child", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare --pid (root or user namespaces)")
def test_sigterm_ends_the_exporter_as_pid_1(redis_url: str, tmp_path: Path) -> None:
    log = tmp_path / "metrics.log"
    argv = [
        str(shutil.which("unshare")),
        "--pid",
        "--fork",
        "--kill-child",
        str(BIN / "masivo-tiktok"),
        "metrics",
        "--port",
        str(free_port()),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=_env(redis_url, tmp_path), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        assert wait_until(lambda: _started(log), 30), log.read_text()
        init = _child_of(proc.pid)  # PID 1 inside its namespace
        assert init is not None
        status = Path(f"/proc/{init}/status").read_text()
        assert any(
            line.split()[-1] == "1" for line in status.splitlines() if line.startswith("NSpid:")
        ), "the exporter must be PID 1 of its namespace"
        code, took = _stop_and_time(proc, init)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # unshare passes on its child's exit status; 143 or -15 would mean SIGTERM's default action
    assert code == 0, log.read_text()
    assert took < PROMPT_S
