"""The report as one HTML file (messages/en/report/report.html.j2, charts inside)
and as CSV (section, measure, group, value, n): the same `Figure`s in both."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

from bot.messages import Messages
from bot.report.charts import charts
from bot.report.periods import Period
from bot.report.published import Report, labels

CSV_COLUMNS = ("section", "measure", "group", "value", "n")


def long_date(day: date) -> str:
    """3 December 2026."""
    return f"{day.day} {day:%B %Y}"


def period_span(period: Period, lang: str = "en") -> str:
    """1 to 31 July 2026; 1 July to 30 September 2026; 1 December 2026 to 31 January 2027."""
    first, last = period.start, period.last_day
    if (first.year, first.month) == (last.year, last.month):
        start = str(first.day)
    elif first.year == last.year:
        start = f"{first.day} {first:%B}"
    else:
        start = long_date(first)
    return str(labels(lang)["period"]).format(start=start, end=long_date(last))


def to_html(report: Report, zone: ZoneInfo, lang: str = "en") -> str:
    words = labels(lang)
    messages = Messages(lang)
    messages.env.filters["long_date"] = long_date
    messages.env.filters["span"] = lambda period: period_span(period, lang)
    return messages.render(
        "report/report",
        report=report,
        words=words,
        charts=charts(report, words),
        as_of=report.as_of.astimezone(zone),
    )


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for figure in report.figures:
        writer.writerow((figure.section, figure.measure, figure.group, figure.text, figure.n))
    return buffer.getvalue()
