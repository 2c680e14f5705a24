"""``masivo-tiktok``: the operator's command line (click).

One module per command group; each is imported only when its command runs, so
``masivo-tiktok transform`` starts without Celery. Exit codes: 0 success, 1 a check failed
(``health``, a ``demo`` that did not finish), 2 bad usage or bad configuration (one line on
stderr, never a token). See :mod:`cli._group` for how errors become exit codes.
"""

from __future__ import annotations

import click

from cli._group import LazyGroup

__all__ = ["main"]

#: command name -> where it lives; the order of ``--help`` is alphabetical
COMMANDS = {
    "demo": "cli.demo:demo",
    "dlq": "cli.dlq:dlq",
    "emulator": "cli.emulator:emulator",
    "enqueue": "cli.enqueue:enqueue",
    "health": "cli.control:health",
    "metrics": "cli.metrics:metrics",
    "pause": "cli.control:pause",
    "quality": "cli.quality:quality_command",
    "resume": "cli.control:resume",
    "status": "cli.status:status_command",
    "transform": "cli.transform:transform",
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    context_settings={"show_default": True, "help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="masivo-tiktok", prog_name="masivo-tiktok")
def main() -> None:
    """Deliver Masivo customer events to the TikTok Events API."""
