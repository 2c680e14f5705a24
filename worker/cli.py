"""``masivo-tiktok``: the operator's command line.

Every subcommand is a small function taking the parsed arguments; heavy imports (Celery,
uvicorn) happen inside the subcommand so ``masivo-tiktok transform`` starts fast. Exit codes:
0 success, 1 the job ran but something failed (``health``), 2 bad usage or bad configuration
(one line on stderr, never a token).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from worker.errors import ConfigError
from worker.settings import DEFAULT_DESTINATION, Settings, load_settings

__all__ = ["main", "parse_time"]

Handler = Callable[[argparse.Namespace, Settings], int]


#: the times ``--now`` / ``--since`` accept: after 1970, before 2200
_TIME_RANGE = (0.0, 7_258_118_400.0)


def parse_time(text: str) -> float:
    """``--now`` / ``--since``: ISO-8601 (naive = UTC) or Unix seconds, 1970..2200."""
    text = text.strip()
    value: float | None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a time: {text!r} (use ISO-8601 or Unix seconds)"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = parsed.timestamp()
    if not (math.isfinite(value) and _TIME_RANGE[0] < value < _TIME_RANGE[1]):
        raise argparse.ArgumentTypeError(f"not a time between 1970 and 2200: {text!r}")
    return value


def _read_lines(path: str | None, *, keep_blank: bool = False) -> Iterator[tuple[int, str]]:
    """Lines of a file (or stdin), decoded as UTF-8 with or without a byte-order mark.

    Universal newlines: ``\n``, ``\r\n`` and a lone ``\r`` all end a line. Undecodable
    bytes become U+FFFD, so a bad line is rejected on its own instead of aborting the file.
    """
    raw: IO[bytes]
    if path in (None, "-"):
        raw = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
    try:
        for number, line in enumerate(text, start=1):
            if keep_blank or line.strip():
                yield number, line
    finally:
        if raw is sys.stdin.buffer:
            text.detach()
        else:
            text.close()


def cmd_transform(args: argparse.Namespace, settings: Settings) -> int:
    """Preview exactly what TikTok would receive: one JSON line out per line in."""
    import time

    from transforms import transform
    from transforms.outcome import Reject

    options = settings.transform_options(args.destination)
    now = args.now if args.now is not None else time.time()
    out = sys.stdout.buffer
    for _number, line in _read_lines(args.file, keep_blank=True):
        if not line.strip():
            result = Reject("invalid_json", "line is empty").as_json()
            out.write(orjson.dumps(result) + b"\n")
            continue
        try:
            raw: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            result = Reject("invalid_json", f"line is not JSON: {exc.msg}").as_json()
        else:
            result = transform(raw, options, now).as_json()
        out.write(orjson.dumps(result) + b"\n")
    out.flush()
    return 0


def _add_transform(sub: Any) -> None:
    p = sub.add_parser("transform", help="preview what TikTok would receive for JSON-lines events")
    p.add_argument("file", nargs="?", help="JSON lines of Masivo events (default: stdin)")
    p.add_argument("--destination", default=DEFAULT_DESTINATION, help="destination id")
    p.add_argument("--now", type=parse_time, default=None, help="pretend it is this time")
    p.set_defaults(handler=cmd_transform)


def _add_emulator(sub: Any) -> None:
    from emulator import cli as emulator_cli

    p = sub.add_parser("emulator", help="run a local TikTok Events API emulator")
    emulator_cli.add_arguments(p)

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        credentials: dict[str, frozenset[str]] = {}
        for dest in settings.destinations.values():
            token = dest.access_token.get_secret_value()
            credentials[token] = credentials.get(token, frozenset()) | {dest.pixel_code}
        return emulator_cli.run(args, credentials or None)

    p.set_defaults(handler=handler)


def _registrars() -> list[Callable[[Any], None]]:
    regs: list[Callable[[Any], None]] = [_add_transform, _add_emulator]
    try:
        from worker import commands
    except ImportError:  # pragma: no cover - during bootstrap only
        return regs
    regs.extend(commands.REGISTRARS)
    return regs


def _redis_unreachable(exc: BaseException) -> bool:
    """Redis (or the broker on it) cannot be reached: a configuration problem, one line."""
    names = {f"{t.__module__}.{t.__name__}" for t in type(exc).__mro__}
    return bool(
        names
        & {
            "redis.exceptions.ConnectionError",
            "redis.exceptions.TimeoutError",
            "kombu.exceptions.OperationalError",
            "worker.embedded.EmbeddedRedisError",
        }
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="masivo-tiktok",
        description="Deliver Masivo customer events to the TikTok Events API.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        code: int = args.handler(args, settings)
    except ConfigError as exc:
        print(f"masivo-tiktok {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _redis_unreachable(exc):
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(
            f"masivo-tiktok {args.command}: cannot reach Redis ({first_line}); check REDIS_URL",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
