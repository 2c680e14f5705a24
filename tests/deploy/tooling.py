"""External tools the deploy checks run: found on PATH, required in CI.

Locally a missing tool skips its test with the reason and the install command; under CI
(``CI=true``, as ``.ci/run`` runs) it fails: ``.ci/run`` installs it, so CI must run it.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(tool: str, install: str) -> str:
    """The path of ``tool``; skip (locally) or fail (in CI) when it is not installed."""
    path = shutil.which(tool)
    if path is not None:
        return path
    message = f"{tool} is not installed ({install})"
    if in_ci():
        pytest.fail(f"{message}: CI must run this check (.ci/run installs it)")
    pytest.skip(message)
