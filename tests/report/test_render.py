"""The HTML and CSV reports: the same figures in both, one self-contained file,
nothing that identifies anyone."""

from __future__ import annotations

import base64
import csv
import io
import re
from html.parser import HTMLParser

import pytest

from bot.report.published import Report
from bot.report.render import CSV_COLUMNS, to_csv, to_html
from tests.report import hand
from tests.report.conftest import LONDON


class Figures(HTMLParser):
    """Every element with a data-figure, and every src and href."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, set[str]] = {}
        self.links: list[str] = []
        self._open: list[str | None] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag in ("td", "div"):
            self._open.append(found.get("data-figure"))
            self._text = [] if found.get("data-figure") else self._text

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "div") and self._open:
            key = self._open.pop()
            if key is not None:
                self.figures.setdefault(key, set()).add("".join(self._text).strip())

    def handle_data(self, data: str) -> None:
        self._text.append(data)


@pytest.fixture(scope="module")
def html(report: Report) -> str:
    return to_html(report, LONDON)


@pytest.fixture(scope="module")
def rows(report: Report) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_csv(report))))


def test_the_csv_has_its_columns_and_a_row_per_figure(
    report: Report, rows: list[dict[str, str]]
) -> None:
    text = to_csv(report)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(rows) == len(report.figures) > 100
    keys = [(r["section"], r["measure"], r["group"]) for r in rows]
    assert len(keys) == len(set(keys)), "each figure once"
    started = next(
        r for r in rows if r["group"] == "Started a conversation" and r["measure"] == "people"
    )
    assert (started["section"], started["value"]) == ("The journey", "12")


def test_the_html_shows_exactly_the_figures_of_the_csv(
    html: str, rows: list[dict[str, str]]
) -> None:
    parser = Figures()
    parser.feed(html)
    in_csv = {f"{r['section']}|{r['measure']}|{r['group']}": r["value"] for r in rows}
    # Every figure in the HTML is the CSV's, with the same value...
    for key, texts in parser.figures.items():
        assert key in in_csv, key
        assert texts == {in_csv[key]}, key
    # ...and every figure in the CSV is in the HTML (a blank percentage prints nothing).
    missing = {k for k, v in in_csv.items() if v and k not in parser.figures}
    assert missing == set()


def test_the_html_needs_no_network(html: str) -> None:
    parser = Figures()
    parser.feed(html)
    assert parser.links, "the charts are images"
    for link in parser.links:
        assert link.startswith(("data:image/png;base64,", "#")), link[:60]
    assert not re.search(r"https?://", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html


def test_the_charts_are_pictures_that_are_there(html: str, demo_report: Report) -> None:
    # The hand-written dataset is too small for most charts: only what can be shown is drawn.
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 2  # the funnel, wellbeing
    demo = to_html(demo_report, LONDON)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', demo)
    assert len(images) == 4  # the funnel, who was reached, attendance, wellbeing
    for image in images:
        png = base64.b64decode(image)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_nothing_identifies_anyone(html: str, report: Report) -> None:
    text = html + to_csv(report)
    for n in range(1, 13):
        assert hand.token(n) not in text
        assert hand.ref(n) not in text
    assert "SP-PREV" not in text and "p01june" not in text
    assert not re.search(r"SP-[A-Z0-9]{4}", text)


def test_the_html_is_for_a_person_to_read(html: str) -> None:
    assert (
        "<title>Social prescribing self-referrals: outcomes report: 1 to 31 July 2026</title>"
        in html
    )
    assert "compared with 1 to 30 June 2026" in html
    assert "Age</h3>" in html and "Not collected." in html
    assert "@page { size: A4;" in html and "break-inside: avoid" in html
    # Text that came from the data is escaped: an activity called "<b>" stays text.
    assert "<script" not in html


def test_words_from_the_data_are_escaped(report: Report) -> None:
    from dataclasses import replace

    odd = replace(report, organisation="<script>alert(1)</script> & Co")
    html = to_html(odd, LONDON)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
