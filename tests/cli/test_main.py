"""The command line as a whole: --version, help texts with defaults, a reader that goes away."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from cli import main
from tests.cli.support import CLI, NOW, ROOT, run


def every_command() -> list[tuple[str, ...]]:
    """The path of every command and group, ("dlq", "list") style."""
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            found.append((*path, name))
            if isinstance(command, click.Group):
                walk(command, (*path, name))

    walk(main, ())
    return found


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None
        command = sub
    return command


def test_every_command_of_the_readme_exists() -> None:
    assert set(every_command()) >= {
        ("demo",),
        ("transform",),
        ("enqueue",),
        ("status",),
        ("dlq",),
        *(("dlq", a) for a in ("list", "show", "replay", "purge", "stats")),
        ("pause",),
        ("resume",),
        ("emulator",),
        ("metrics",),
        ("health",),
    }


def test_version_comes_from_the_package_metadata() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip()
        == f"masivo-tiktok, version {importlib.metadata.version('masivo-tiktok')}"
    )


def test_help_lists_the_commands_and_exits_0() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in ("demo", "dlq", "emulator", "enqueue", "health", "metrics", "status", "transform"):
        assert f"\n  {name} " in result.stdout
    assert run("-h").stdout == result.stdout


@pytest.mark.parametrize("path", every_command(), ids=" ".join)
def test_every_command_and_option_has_help_and_shows_its_default(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert command.help, f"{' '.join(path)} has no help text"
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
        assert param.show_default, f"{' '.join(path)} {param.opts[0]} hides its default"
        if not param.is_flag:
            line = next(x for x in result.output.splitlines() if param.opts[-1] in x)
            assert "[default: " in line, line


def test_a_usage_error_exits_2() -> None:
    result = run("dlq", "list", "--limit", "0")
    assert result.returncode == 2
    assert "Error: Invalid value for '--limit'" in result.stderr
    assert run("no-such-command").returncode == 2


def _big_input(tmp_path: Path, lines: int = 20_000) -> Path:
    """Far more output than a pipe holds, so the writer meets the closed end."""
    sample = (ROOT / "samples" / "events.jsonl").read_bytes()
    src = tmp_path / "big.jsonl"
    count = max(1, sample.count(b"\n"))
    src.write_bytes(sample * (lines // count + 1))
    return src


def test_a_reader_that_closes_early_ends_the_command_quietly(tmp_path: Path) -> None:
    src = _big_input(tmp_path)
    proc = subprocess.Popen(
        [CLI, "transform", str(src), "--now", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `head -1`
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert orjson.loads(first)["outcome"] in ("send", "drop", "reject")
    assert stderr == b"", stderr.decode()


def test_piped_into_head_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    src = _big_input(tmp_path)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{CLI}' transform '{src}' --now {NOW} | head -1"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_transform_does_not_import_celery_or_prometheus() -> None:
    code = (
        "import sys; from cli import main\n"
        "try:\n"
        "    main(['transform', '--now', '1700000000'], standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted(m for m in ('celery', 'prometheus_client') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [str(Path(CLI).parent / "python"), "-c", code],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_no_other_package_imports_the_cli() -> None:
    pattern = re.compile(r"^\s*(from cli[\s.]|import cli\b)", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("worker", "tasks", "transforms", "emulator")
        for path in (ROOT / package).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
