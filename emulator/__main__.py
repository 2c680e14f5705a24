"""``python -m emulator``: the emulator without the worker's dispatcher (accepts any token)."""

from __future__ import annotations

import argparse

from emulator.cli import add_arguments, run


def main() -> int:
    """Parse flags and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(), None)


if __name__ == "__main__":
    raise SystemExit(main())
