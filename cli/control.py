"""``masivo-tiktok pause`` / ``resume`` / ``health``: operate one destination or container."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from cli._common import runtime, settings
from cli._group import Command

if TYPE_CHECKING:
    from worker.settings import Settings

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


@click.command(cls=Command, short_help="Liveness (default) or readiness (--ready) probe.")
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
@click.option(
    "--ready",
    is_flag=True,
    show_default=True,
    help="Readiness: also validate the whole configuration (the destinations file too) and "
    "require Redis to answer.",
)
def health(max_age: float, redis: bool, ready: bool) -> int:
    """Liveness probe: exit 0 if this container's worker beat recently, 1 if not.

    Liveness reads only the heartbeat file: it never loads the destinations file, so a bad
    edit of it cannot get healthy workers restarted into a crash loop (a running worker keeps
    the configuration it started with). With --ready (the readiness probe) the configuration
    is validated as at start-up: a bad one exits 2 with one line naming the destination and
    the field, never a value; Redis must answer too.
    """
    from worker.heartbeat import check_health

    config = settings() if ready else _liveness_settings()
    ok, reason = check_health(config.data_dir, max_age)
    if ok and (redis or ready):
        ok, reason = _ping_redis(config, reason)
    click.echo(reason, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _liveness_settings() -> Settings:
    """The environment's settings without reading the destinations file (validated lazily)."""
    from pydantic import ValidationError

    from worker.settings import Settings

    try:
        return Settings()
    except ValidationError:
        return settings()  # the same error, as one line naming the variable (exit 2)


def _ping_redis(config: Settings, reason: str) -> tuple[bool, str]:
    """PING the configured Redis; needs no destination (``runtime()`` would load them)."""
    from worker.celery_app import redis_url
    from worker.store.connection import connect

    client = connect(redis_url(config), socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        return False, f"redis unreachable: {type(exc).__name__}"
    finally:
        client.close()
    return True, f"{reason}; redis ok"
