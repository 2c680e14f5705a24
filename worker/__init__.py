"""The runtime: Celery app, settings, Redis primitives, TikTok client, CLI.

``celery -A worker ...`` finds the Celery app through :func:`__getattr__`, lazily, so that
``import worker.settings`` (the CLI's ``transform``) does not import Celery.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "celery"]


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from worker.celery_app import app

        return app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
