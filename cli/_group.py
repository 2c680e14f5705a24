"""The click classes every command uses: one place turns errors into exit codes.

* A command's callback returns its exit code (0 ok, 1 a check failed).
* :class:`~worker.errors.ConfigError` (bad settings, an unknown destination or entry) and
  "Redis cannot be reached" print ONE line on stderr, ``masivo-tiktok CMD: ...``, exit 2.
  Click's own usage errors exit 2 as well.
* A reader that closes the pipe early (``| head``) ends the command quietly with exit 0.
* Ctrl-C exits 130 without a traceback.

Subcommands are imported when invoked (:class:`LazyGroup`): ``masivo-tiktok transform`` does
not import Celery or the Prometheus client.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import click

from worker.errors import ConfigError

__all__ = ["Command", "Group", "LazyGroup"]

#: exceptions meaning Redis (or the broker on it) cannot be reached, by qualified name, so
#: that neither redis, kombu nor the embedded server is imported to recognise them
_UNREACHABLE = frozenset(
    {
        "redis.exceptions.ConnectionError",
        "redis.exceptions.TimeoutError",
        "kombu.exceptions.OperationalError",
        "worker.embedded.EmbeddedRedisError",
    }
)


def _redis_unreachable(exc: BaseException) -> bool:
    """Redis (or the broker on it) cannot be reached: a configuration problem, one line."""
    names = {f"{t.__module__}.{t.__name__}" for t in type(exc).__mro__}
    return bool(names & _UNREACHABLE)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _silence_stdout() -> None:
    """The reader went away: send whatever is still buffered for stdout to /dev/null.

    Python flushes stdout at exit; without this the flush raises BrokenPipeError again and
    prints "Exception ignored ..." on stderr.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor
        pass
    finally:
        os.close(devnull)


class Command(click.Command):
    """A subcommand: the callback returns the exit code; errors become one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            code = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        except ConfigError as exc:
            click.echo(f"{ctx.command_path}: {exc}", err=True)
            ctx.exit(2)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            ctx.exit(130)
        except Exception as exc:
            if not _redis_unreachable(exc):
                raise
            click.echo(
                f"{ctx.command_path}: cannot reach Redis ({_first_line(exc)}); check REDIS_URL",
                err=True,
            )
            ctx.exit(2)
        if isinstance(code, int) and code:
            ctx.exit(code)
        return code


class Group(click.Group):
    """A group whose subcommands are :class:`Command` (and nested groups this class)."""

    command_class = Command
    group_class = type


class LazyGroup(Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: command name -> "module:attribute"
        self.lazy_subcommands = dict(lazy_subcommands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_subcommands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
            raise TypeError(f"{target} is not a click command")
        return command
