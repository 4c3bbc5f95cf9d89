"""A headless Chromium screenshot of a report, to see it as a person would
(`make report-demo`, and a test). A4 proportions: 1240 x 1754 pixels is A4 at
150 dots per inch. Chromium runs with a fresh profile and without any of its
background network traffic: the report needs none."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
A4_PIXELS = (1240, 1754)


class ScreenshotError(Exception):
    """Chromium is missing or failed; the message says which."""


def screenshot(
    html: Path,
    png: Path,
    *,
    chromium: Path = CHROMIUM,
    size: tuple[int, int] = A4_PIXELS,
    timeout: float = 90,
) -> Path:
    if not chromium.exists():
        raise ScreenshotError(
            f"no Chromium at {chromium}: install it (Debian: apt-get install -y chromium)"
        )
    png = png.resolve()
    png.unlink(missing_ok=True)
    profile = tempfile.mkdtemp(prefix="spbot-chromium-")
    try:
        result = subprocess.run(
            [
                str(chromium),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={size[0]},{size[1]}",
                html.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ScreenshotError(f"Chromium took longer than {timeout:.0f} seconds") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not png.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ScreenshotError(
            f"Chromium wrote no screenshot (exit {result.returncode}): " + " / ".join(tail)
        )
    return png
