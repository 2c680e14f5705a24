"""Local processes wired together, for tests, benchmarks and the demo.

* :class:`Stack` - a Redis, the TikTok emulator, ``celery -A worker worker`` and ``beat``
  processes sharing one filtered environment and one destinations file; stops everything.
* :class:`RedisProcess` - a private ``redis-server`` child (no persistence unless asked).
* :class:`EmulatorProcess` - the emulator in its own process, with its inspection API.
* :mod:`devstack.credentials` - the one set of test pixel codes and access tokens.
* :func:`free_port`, :func:`wait_until`, :func:`terminate` - the small helpers under them.

Of the product's packages, only :mod:`worker.embedded` (the ``redis-server`` it runs) and
:mod:`emulator` are imported here; the stack drives the worker through its processes, its
environment and its command line, as an operator would.
"""

from __future__ import annotations

from devstack.emulator import EmulatorProcess
from devstack.ports import free_port
from devstack.processes import inherited_env, terminate, wait_until
from devstack.redis import RedisProcess
from devstack.stack import BIN, Stack, write_destinations

__all__ = [
    "BIN",
    "EmulatorProcess",
    "RedisProcess",
    "Stack",
    "free_port",
    "inherited_env",
    "terminate",
    "wait_until",
    "write_destinations",
]
