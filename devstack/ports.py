"""Free TCP ports on 127.0.0.1 for the processes a stack starts.

The embedded daemon (:mod:`worker.embedded`) needs the same thing for its TCP fallback, and the
worker must not depend on this development package, so the one implementation lives there.
"""

from __future__ import annotations

from worker.embedded import _free_port

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the caller binds it: callers that can, retry.
    """
    return _free_port()
