"""Starting and ending child processes: logs to files, SIGTERM then SIGKILL, nothing left over.

Every child is started in its own session (``start_new_session``), so it leads a process
group holding whatever it forks (a Celery worker's pool processes): a Ctrl-C in the terminal
does not reach it behind our back, and when it has to be killed, or once it has exited, the
whole group is killed so no pool process is left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

__all__ = ["INHERITED", "inherited_env", "spawn", "terminate", "wait_until"]

#: what a child inherits from this process's environment (plus every ``LC_*``); everything
#: else - ``TIKTOK_*``, ``MASIVO_*``, ``REDIS_URL``, ``SENTRY_DSN``, proxies, ``PYTHONPATH`` -
#: stays behind, so a developer's shell cannot change what a stack does
INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")


def inherited_env() -> dict[str, str]:
    """The part of ``os.environ`` a child process needs (see :data:`INHERITED`)."""
    return {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}


def spawn(
    argv: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, stdout and stderr appended to ``log``, no stdin."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _leads_group(proc: subprocess.Popen[bytes]) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid != os.getpgrp()
    except ProcessLookupError:  # already reaped
        return False


def _kill_group(pgid: int, timeout_s: float = 5.0) -> None:
    """SIGKILL the group and wait (bounded) until its members are gone (or zombies)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return  # nobody left
    wait_until(lambda: not _group_alive(pgid), timeout_s, every_s=0.01)


def _group_alive(pgid: int) -> bool:
    """Some member of ``pgid`` still runs (zombies, waiting for init to reap them, do not)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True  # no procfs (macOS): cannot tell a zombie from a live process
    return any(_in_group(pid, pgid) for pid in pids)


def _in_group(pid: int, pgid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and int(fields[2]) == pgid


def terminate(procs: Iterable[subprocess.Popen[bytes]], grace_s: float = 20.0) -> None:
    """SIGTERM every live process, wait up to ``grace_s`` in all, then SIGKILL what is left.

    For a process that leads its own group (see :func:`spawn`) the SIGKILL goes to the group,
    and so does a last one after a clean exit, for anything it left behind. Every process is
    reaped before this returns.
    """
    procs = list(procs)
    leaders = {proc.pid for proc in procs if _leads_group(proc)}
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            if proc.pid in leaders:
                _kill_group(proc.pid)
            else:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            proc.wait()
        if proc.pid in leaders:
            _kill_group(proc.pid)


def wait_until(condition: Callable[[], bool], timeout_s: float, every_s: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passed; return whether it held."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(every_s)
    return condition()
