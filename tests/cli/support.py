"""Run the installed ``masivo-tiktok`` as a user would: a real process, real stdout/stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "masivo-tiktok")
ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T12:00:00Z"
PIXEL = "C9AAAAAAAAAAAAAAAAAA"


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``masivo-tiktok ARGS`` with a minimal environment plus ``env``."""
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def destinations_env(tmp_path: Path, redis_url: str, *ids: str) -> dict[str, str]:
    """Settings for a subprocess: the test Redis and destinations ``ids`` (one token each)."""
    dfile = tmp_path / "destinations.yaml"
    lines = ["destinations:"]
    for n, dest_id in enumerate(ids):
        pixel = PIXEL[:-1] + "ABCDEFGHIJ"[n]
        lines.append(f"  - {{id: {dest_id}, pixel_code: {pixel}, access_token: tok-{n}}}")
    dfile.write_text("\n".join(lines) + "\n")
    return {
        "REDIS_URL": redis_url,
        "MASIVO_TIKTOK_DESTINATIONS": str(dfile),
        "MASIVO_TIKTOK_DATA_DIR": str(tmp_path / "data"),
    }
