"""``masivo-tiktok quality``: how well each destination's events can be matched by TikTok.

Reads the match-quality counters (:mod:`worker.store.quality`): per destination and event
name, how many events were queued, the share that carried each match key, the warnings they
raised, and a plain-words hint per warning. ``status --json``, ``demo`` and the Prometheus
metrics show the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from cli._common import echo_json, fmt, render_table, require_known, runtime, settings
from cli._group import Command
from transforms.quality import MatchKey, QualityWarning

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["HINTS", "KEY_COLUMNS", "quality", "quality_command", "quality_rows", "quality_text"]

#: Column titles of the match keys, in :class:`MatchKey` order.
KEY_COLUMNS: dict[str, str] = {
    MatchKey.EMAIL: "email",
    MatchKey.PHONE: "phone",
    MatchKey.EXTERNAL_ID: "ext_id",
    MatchKey.TTCLID: "ttclid",
    MatchKey.TTP: "ttp",
    MatchKey.IP_USER_AGENT: "ip+ua",
    MatchKey.NAME_ADDRESS: "name/addr",
}

#: What each warning means and what to do about it, in plain words.
HINTS: dict[str, str] = {
    QualityWarning.NO_MATCH_KEY: (
        "no customer_id, usable email or phone, ttclid or ttp: TikTok can hardly attribute "
        "these events; send customer_id with every event"
    ),
    QualityWarning.EMAIL_UNUSABLE: (
        "an email was not an address (e.g. 'ana(at)mail.com') and was left out; fix it at "
        "the source"
    ),
    QualityWarning.PHONE_UNUSABLE: (
        "a phone could not be read and was left out; send it with +country code, or set "
        "phone_region on the destination for local numbers"
    ),
    QualityWarning.CURRENCY_MISSING: (
        "priced events came without currency; purchases were sent without value. Send "
        "currency, or set default_currency on the destination"
    ),
    QualityWarning.RECOMMENDED_MISSING: (
        "TikTok recommends contents and value for conversion events and query for Search; "
        "add them for better optimisation"
    ),
    QualityWarning.PARAMS_IGNORED: (
        "fields outside the event format were not sent (they may hold personal data); "
        "put custom parameters in metadata or properties, which custom events send"
    ),
}


def quality(rt: Runtime, destinations: Iterable[str] | None = None) -> dict[str, Any]:
    """``{destination: {event: {"events", "keys", "warnings"}}}`` (the given destinations,
    or every one configured or seen)."""
    from worker.store import counters
    from worker.store import quality as store

    names = destinations or sorted(
        set(rt.settings.destinations) | set(counters.known_destinations(rt.redis))
    )
    return {d: store.read(rt.redis, d) for d in names}


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def quality_rows(events: dict[str, Any]) -> list[list[str]]:
    """One destination's table: a header, then one row per event name."""
    rows = [["event", "events", *KEY_COLUMNS.values(), "warnings"]]
    for event, data in events.items():
        total = int(data["events"])
        shares = [_share(int(data["keys"].get(key, 0)), total) for key in KEY_COLUMNS]
        warned = [
            f"{w} {_share(int(data['warnings'][w]), total)}"
            for w in HINTS
            if data["warnings"].get(w)
        ]
        rows.append([event, fmt(total), *shares, ", ".join(warned) or "-"])
    return rows


def quality_text(report: dict[str, Any]) -> str:
    """A table per destination (% of its events with each key, warnings), then a hint for
    every warning that occurs; one line when nothing was sent."""
    if not any(report.values()):
        return "no events sent yet: nothing to report on match quality"
    blocks = []
    for dest, events in report.items():
        table = render_table(quality_rows(events)) if events else "no events sent yet"
        blocks.append(f"{dest}\n" + "\n".join(f"  {line}" for line in table.splitlines()))
    seen = {w for events in report.values() for data in events.values() for w in data["warnings"]}
    hints = [f"  {w}: {HINTS[w]}" for w in HINTS if w in seen]
    text = "\n\n".join(blocks)
    return text + ("\n\nwhat the warnings mean:\n" + "\n".join(hints) if hints else "")


@click.command("quality", cls=Command)
@click.option(
    "--destination",
    default=None,
    metavar="ID",
    show_default="every destination configured or seen",
    help="Only this destination.",
)
@click.option("--json", "as_json", is_flag=True, show_default=True, help="Machine-readable output.")
def quality_command(destination: str | None, as_json: bool) -> int:
    """Match quality per destination and event: keys carried, warnings, what to do."""
    config = settings()
    rt = runtime()
    require_known(config, rt, destination)
    report = quality(rt, [destination] if destination is not None else None)
    if as_json:
        echo_json(report, indent=True)
        return 0
    click.echo(quality_text(report))
    return 0
