"""Shared readers and checks for the deployment files (no Docker engine, no cluster needed).

A command is valid when the project really has it: ``masivo-tiktok X ...`` must parse with
the click group :data:`cli.main`, ``celery -A worker X ...`` must name the project's Celery app,
a Celery subcommand we use (worker, beat, flower) and only options that subcommand declares.
Option *values* of Celery subcommands are not parsed: Celery's option callbacks read the app's
configuration, which would connect to Redis.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

CELERY_SUBCOMMANDS = ("worker", "beat", "flower")

#: environment variables that are not the project's settings but are read by something we run
EXTERNAL_ENV = frozenset(
    {
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PIP_NO_CACHE_DIR",  # build stage only
        "PIP_DISABLE_PIP_VERSION_CHECK",
    }
)


def load_yaml_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_compose() -> dict[str, Any]:
    docs = load_yaml_docs(COMPOSE_FILE)
    assert len(docs) == 1, "docker-compose.yml must be one YAML document"
    compose = docs[0]
    assert isinstance(compose, dict)
    return compose


def deploy_yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def kustomization(directory: Path) -> dict[str, Any]:
    docs = load_yaml_docs(directory / "kustomization.yaml")
    assert len(docs) == 1
    assert isinstance(docs[0], dict)
    return docs[0]


def base_resources() -> list[dict[str, Any]]:
    """Every object of the kustomize base, from the files its kustomization lists."""
    out: list[dict[str, Any]] = []
    for name in kustomization(BASE)["resources"]:
        out.extend(load_yaml_docs(BASE / name))
    return out


def find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for res in resources:
        if res.get("kind") == kind and res["metadata"]["name"] == name:
            return res
    raise AssertionError(f"no {kind} named {name!r} in deploy/base")


def workloads(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for res in resources:
        if res.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield res


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def container_argv(container: dict[str, Any]) -> list[str]:
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    assert argv, f"container {container['name']} must say which role it runs (command)"
    return argv


def compose_argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return ["celery", "-A", "worker", "worker", "--loglevel=INFO"]  # the image's CMD
    assert isinstance(command, list), "use the exec (list) form: no shell, signals reach PID 1"
    return [str(a) for a in command]


# -- commands -------------------------------------------------------------------------------


def subcommands() -> dict[str, click.Command]:
    from cli import main

    ctx = click.Context(main)
    commands = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    assert commands, "masivo-tiktok has no subcommands"
    return {name: command for name, command in commands.items() if command is not None}


def parse_masivo(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``masivo-tiktok ARGS`` (without running it): the subcommand and every flag must
    exist. The namespace holds ``command`` (and ``action`` for a group such as ``dlq``) and
    the parsed parameters."""
    from cli import main

    assert argv[0] == "masivo-tiktok"
    assert len(argv) > 1, "masivo-tiktok needs a subcommand"
    known = subcommands()
    assert argv[1] in known, f"masivo-tiktok has no subcommand {argv[1]!r} (has {sorted(known)})"
    command, args = known[argv[1]], list(argv[2:])
    names = [argv[1]]
    ctx = click.Context(main, info_name="masivo-tiktok")
    try:
        while isinstance(command, click.Group):
            assert args, f"masivo-tiktok {' '.join(names)} needs a subcommand"
            sub = command.get_command(ctx, args[0])
            assert sub is not None, f"masivo-tiktok {' '.join(names)} has no {args[0]!r}"
            command, names, args = sub, [*names, args[0]], args[1:]
        parsed = command.make_context(" ".join(names), args, parent=ctx)
    except click.ClickException as exc:  # click's way of saying "bad usage"
        raise AssertionError(f"masivo-tiktok rejects {' '.join(argv[1:])!r}: {exc}") from exc
    labels = dict(zip(("command", "action"), names, strict=False))
    return argparse.Namespace(**labels, **parsed.params)


def _flag_names(argv: Sequence[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in argv if a.startswith("-")]


def celery_options(subcommand: str) -> set[str]:
    from celery.bin.celery import celery as group

    command = group.commands[subcommand]
    names: set[str] = set()
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def flower_options() -> set[str]:
    from flower.options import options

    # tornado stores names with '-' and accepts '_' for it on the command line
    names = set(options._options)
    return {f"--{n}" for n in names} | {f"--{n.replace('-', '_')}" for n in names}


def check_celery(argv: Sequence[str]) -> tuple[str, list[str]]:
    """``celery -A worker SUB ...``: returns (SUB, its arguments) once they check out."""
    import celery

    assert argv[:3] == ["celery", "-A", "worker"], f"expected 'celery -A worker ...', got {argv}"
    assert len(argv) > 3, "celery needs a subcommand"
    sub, rest = argv[3], list(argv[4:])
    assert sub in CELERY_SUBCOMMANDS, f"celery subcommand {sub!r} is not one of ours"

    import worker

    # ``worker.app`` is what ``-A worker`` finds; its configuration stays untouched.
    assert isinstance(worker.app, celery.Celery)

    allowed = flower_options() if sub == "flower" else celery_options(sub)
    for flag in _flag_names(rest):
        assert flag in allowed, f"'celery {sub}' has no option {flag}"
    return sub, rest


def check_command(argv: Sequence[str]) -> None:
    """Fail unless ``argv`` is a command of this project that would parse."""
    argv = list(argv)
    if argv[0] == "masivo-tiktok":
        parse_masivo(argv)
    elif argv[0] == "celery":
        check_celery(argv)
    elif argv[0] == "redis-server":
        pass  # the redis image's own server (checked by the Redis tests)
    else:
        raise AssertionError(f"unexpected program {argv[0]!r}: {argv}")


def option_value(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name=V`` or ``--name V`` in argv."""
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
    return None


# -- environment ----------------------------------------------------------------------------


def settings_env_names() -> set[str]:
    """Every environment variable the Settings class reads (its validation aliases)."""
    from pydantic import AliasChoices

    from worker.settings import Settings

    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c) for c in alias.choices if isinstance(c, str) and c.isupper())
        elif isinstance(alias, str):
            names.add(alias)
    assert "REDIS_URL" in names
    return names


def unknown_env(names: set[str]) -> set[str]:
    """The names that neither the Settings, Flower, nor the runtime reads."""
    known = settings_env_names() | EXTERNAL_ENV
    flower = {o.removeprefix("--") for o in flower_options()}
    bad = set()
    for name in names:
        if name in known:
            continue
        if name.startswith("FLOWER_") and name[7:].lower().replace("_", "-") in flower:
            continue
        bad.add(name)
    return bad
