"""README.md: every command it tells an operator to type exists, with the flags it gives;
every environment variable it sets is a setting. A feature that exists only in the README
fails here."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from tests.deploy.support import ROOT, check_command, unknown_env

README = ROOT / "README.md"
#: what README's fenced shell blocks may run besides our own commands
OTHER_PROGRAMS = frozenset({"make", "docker", "pip", "cd", "git", "curl", "redis-cli", "cp"})


def _shell_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _inline_masivo() -> list[str]:
    """``masivo-tiktok SUB [SUB2]`` quoted in the text: the subcommand path must exist."""
    text = README.read_text(encoding="utf-8")
    found = []
    for quoted in re.findall(r"`(masivo-tiktok [a-z][^`]*)`", text):
        words = []
        for word in quoted.split()[1:3]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        found.append(" ".join(["masivo-tiktok", *words]))
    return sorted(set(found))


@pytest.mark.parametrize("line", _shell_lines())
def test_shell_blocks_run_our_commands_with_flags_that_exist(line: str) -> None:
    argv = shlex.split(line)
    argv[0] = argv[0].removeprefix(".venv/bin/")
    if argv[0] == "export":
        name = argv[1].split("=", 1)[0]
        assert unknown_env({name}) == set(), name
        return
    if argv[0] in OTHER_PROGRAMS:
        return
    check_command(argv)


@pytest.mark.parametrize("command", _inline_masivo())
def test_quoted_subcommands_exist(command: str) -> None:
    from tests.deploy.support import subcommands

    names = command.split()[1:]
    found = subcommands().get(names[0])
    assert found is not None, f"masivo-tiktok has no subcommand {names[0]!r}"
    for name in names[1:]:
        if not isinstance(found, click.Group):
            break  # an argument, not a subcommand
        found = found.get_command(click.Context(found), name)
        assert found is not None, f"{command}: no subcommand {name!r}"


def test_the_readme_names_both_topologies_with_urls_the_settings_accept() -> None:
    from worker.settings import Settings
    from worker.store.connection import is_cluster_url

    exports = [shlex.split(line)[1] for line in _shell_lines() if line.startswith("export ")]
    redis_urls = [e.split("=", 1)[1] for e in exports if e.startswith("REDIS_URL=")]
    brokers = [e.split("=", 1)[1] for e in exports if e.startswith("CELERY_BROKER_URL=")]
    single = [u for u in redis_urls if not is_cluster_url(u)]
    cluster = [u for u in redis_urls if is_cluster_url(u)]
    assert single and cluster and brokers
    assert Settings(redis_url=single[0]).redis_url == single[0]
    Settings(redis_url=cluster[0], celery_broker_url=brokers[0])
