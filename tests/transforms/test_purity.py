"""``transforms`` stays pure: no imports of the runtime, no I/O, no clock, no environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import transforms

PACKAGE = Path(transforms.__file__).parent
FORBIDDEN_MODULES = {
    "worker",
    "tasks",
    "emulator",
    "os",
    "time",
    "socket",
    "httpx",
    "redis",
    "celery",
    "subprocess",
    "random",
    "requests",
    "pydantic",
    "pydantic_settings",
    "logging",
}
FORBIDDEN_CALLS = {"open", "print", "input"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in _modules()])
def test_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}"
        if isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today"}:
            pytest.fail(f"{path.name} reads the clock ({node.attr})")


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in _modules()])
def test_modules_are_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < 400


def test_public_api() -> None:
    for name in transforms.__all__:
        assert hasattr(transforms, name), name
    for name in (
        "transform",
        "is_too_old",
        "switch_for",
        "canonical_event_id",
        "EVENT_NAME_SWITCH",
    ):
        assert name in transforms.__all__
