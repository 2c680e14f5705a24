"""``masivo-tiktok pause`` / ``resume`` / ``health``: operate one destination or container."""

from __future__ import annotations

import sys
import time

import click

from cli._common import runtime, settings
from cli._group import Command

__all__ = ["health", "pause", "resume"]


@click.command(cls=Command, short_help="Stop sending for a destination (events stay queued).")
@click.argument("destination")
@click.option(
    "--reason",
    default="paused by operator",
    show_default=True,
    help="Why, as shown by `status` and in the pause record.",
)
def pause(destination: str, reason: str) -> int:
    """Stop sending for DESTINATION (events stay queued until `resume`)."""
    from worker.store.pause import pause as pause_destination

    settings().destination(destination)
    rt = runtime()
    if pause_destination(rt.redis, destination, "operator", reason, time.time()):
        click.echo(
            f"{destination}: paused; events stay queued until 'masivo-tiktok resume {destination}'"
        )
    else:
        click.echo(f"{destination}: already paused")
    return 0


@click.command(cls=Command)
@click.argument("destination")
def resume(destination: str) -> int:
    """Resume a paused DESTINATION and arm its flush."""
    from worker.store.pause import resume as resume_destination

    settings().destination(destination)
    rt = runtime()
    was = resume_destination(rt.redis, destination)
    rt.disarm_flush(destination)
    rt.arm_flush(destination)
    click.echo(f"{destination}: {'resumed' if was else 'was not paused'}; flush armed")
    return 0


@click.command(cls=Command, short_help="Exit 0 if this container's worker is alive (liveness).")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds a heartbeat stays fresh.",
)
@click.option(
    "--redis", is_flag=True, show_default=True, help="Also require Redis to answer a PING."
)
def health(max_age: float, redis: bool) -> int:
    """Exit 0 if this container's worker beat recently (liveness probe), 1 if not."""
    from worker.heartbeat import check_health

    ok, reason = check_health(settings().data_dir, max_age)
    if ok and redis:
        try:
            runtime().redis.ping()
        except Exception as exc:
            ok, reason = False, f"redis unreachable: {type(exc).__name__}"
    click.echo(reason, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
