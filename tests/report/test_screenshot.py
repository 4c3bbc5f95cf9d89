"""How the report looks to a person: the demo report rendered and photographed by
headless Chromium (skipped, saying why, where Chromium is not installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.report.published import Report
from bot.report.render import to_html
from bot.report.screenshot import A4_PIXELS, CHROMIUM, screenshot
from tests.report.conftest import LONDON


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
def test_the_first_page_looks_like_a_report(demo_report: Report, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(to_html(demo_report, LONDON), "utf-8")
    png = screenshot(page, tmp_path / "report.png")

    image = Image.open(png).convert("RGB")
    width, height = image.size
    assert (width, height) == A4_PIXELS
    assert height / width == pytest.approx(2**0.5, abs=0.02)  # A4
    pixels = np.asarray(image)
    # Not blank: many colours, and ink (dark text) as well as paper.
    packed = (pixels[..., 0].astype(np.int32) << 16) | (pixels[..., 1].astype(np.int32) << 8)
    colours = len(np.unique(packed | pixels[..., 2]))
    assert colours > 200
    dark = (pixels.sum(axis=2) < 200).mean()
    assert 0.005 < dark < 0.3
    # The header is NHS blue (#005EB8) across the top of the page.
    top = pixels[40:120, width // 2]
    assert any(
        abs(int(r) - 0x00) < 20 and abs(int(g) - 0x5E) < 20 and abs(int(b) - 0xB8) < 20
        for r, g, b in top
    )
    # The funnel chart's bars (the same blue) are drawn on the first page too.
    blue = (
        (abs(pixels[..., 0].astype(int) - 0x00) < 12)
        & (abs(pixels[..., 1].astype(int) - 0x5E) < 12)
        & (abs(pixels[..., 2].astype(int) - 0xB8) < 12)
    )
    assert blue[height // 3 :].sum() > 20_000
