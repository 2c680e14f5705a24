"""The layout's rules, pinned: who may import whom, and no module too big to read.

One room per job (docs/architecture.md, "Layout"):

* ``transforms``, ``emulator``: nothing of ours;
* ``worker.store``: only ``worker.store`` (``keys`` and its siblings' formats and scripts);
* the worker core (``worker.*`` but ``celery_app``): store, errors, settings, transforms and
  each other — never ``celery_app``, ``cli``, ``emulator``, ``devstack``, ``tasks``. One
  exception: ``worker.producer`` is the producers' entry point and asks the composition root
  (lazily, inside ``enqueue``) for the settings and the doorbell;
* ``worker.celery_app``: core and store; ``tasks``: ``celery_app`` and core;
* ``devstack``: ``worker.embedded``, ``worker.settings``, ``worker.store.connection`` and
  ``emulator``; ``cli``: anything;
* no f-string Redis key outside ``worker.store`` (every key name is in ``worker/store/keys.py``);
* no module over 400 lines in ``worker/`` and ``cli/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("transforms", "emulator", "worker", "tasks", "cli", "devstack")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS}


def _allowed(module: str, target: str) -> bool:
    def under(name: str, *prefixes: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in prefixes)

    if under(target, module) or under(module, target):
        return True
    top = module.split(".")[0]
    if top in ("transforms", "emulator"):
        return under(target, top)
    if under(module, "worker.store"):
        return under(target, "worker.store")
    if module == "worker.celery_app":
        return under(target, "worker") and not under(target, "worker.producer")
    if module == "worker.producer" and target.startswith("worker.celery_app"):
        return True  # the documented exception (module docstring)
    if top == "worker":
        forbidden = ("worker.celery_app", "cli", "emulator", "devstack", "tasks")
        return under(target, "worker", "transforms") and not under(target, *forbidden)
    if top == "tasks":
        return under(target, "worker", "tasks", "transforms")
    if top == "devstack":
        return under(
            target,
            "devstack",
            "worker.embedded",
            "worker.settings",
            "worker.store.connection",
            "emulator",
        )
    return top == "cli"


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for package in OURS:
        for path in _sources(package):
            module = _module_name(path)
            cases.extend((str(path.relative_to(ROOT)), module, t) for t in _imports(path))
    return cases


@pytest.mark.parametrize(("path", "module", "target"), _cases())
def test_imports_follow_the_layout(path: str, module: str, target: str) -> None:
    assert _allowed(module, target), f"{path}: {module} may not import {target}"


def test_the_rule_rejects_what_it_should() -> None:
    assert not _allowed("worker.flush", "worker.celery_app")
    assert not _allowed("worker.store.outbox", "worker.settings")
    assert not _allowed("transforms.core", "worker.settings")
    assert not _allowed("devstack.stack", "cli.demo")
    assert not _allowed("worker.ingest", "cli.status")
    assert _allowed("cli.status", "worker.store.counters")


_KEY_LITERAL = re.compile(r"""f["']mtt:""")


@pytest.mark.parametrize(
    "path", [p for package in OURS for p in _sources(package)], ids=lambda p: p.name
)
def test_no_redis_key_is_built_outside_the_store(path: Path) -> None:
    if _module_name(path).startswith("worker.store"):
        return
    assert not _KEY_LITERAL.search(path.read_text(encoding="utf-8")), (
        f"{path.relative_to(ROOT)} builds a Redis key; use worker.store.keys"
    )


@pytest.mark.parametrize(
    "path", [*_sources("worker"), *_sources("cli")], ids=lambda p: str(p.relative_to(ROOT))
)
def test_modules_stay_readable(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines (at most 400)"
