"""The report's charts, drawn by matplotlib (Agg: no display needed) as PNG
images embedded in the HTML (`data:` URIs), so the file needs no network.

A chart draws only figures as printed: a "<5" or a hidden count gets no bar (its
length would give it away), and a rounded one is drawn rounded.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure as Canvas
from matplotlib.ticker import MaxNLocator

from bot.report.published import Figure, Report, Wellbeing

#: NHS identity colours: blue, dark blue, pale grey, grey, green, warm yellow.
BLUE, DARK, PALE, GREY, GREEN, WARM = (
    "#005EB8",
    "#003087",
    "#D8DDE0",
    "#768692",
    "#007F3B",
    "#FFB81C",
)
INK = "#212B32"
DPI = 200

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.edgecolor": GREY,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "text.color": INK,
        "svg.hashsalt": "spbot",
    }
)


def charts(report: Report, words: dict[str, Any]) -> dict[str, str]:
    """The report's charts as `data:image/png;base64,...` URIs, by name."""
    drawn = {
        "funnel": _funnel(report, words),
        "wellbeing": _wellbeing(report.wellbeing, words),
        "attendance": _attendance(report, words),
        "needs": _needs(report, words),
    }
    return {name: _data_uri(canvas) for name, canvas in drawn.items() if canvas is not None}


def _data_uri(canvas: Canvas) -> str:
    buffer = io.BytesIO()
    canvas.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(canvas)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _axes_plain(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _funnel(report: Report, words: dict[str, Any]) -> Canvas:
    rows = report.funnel
    canvas, ax = plt.subplots(figsize=(7.2, 3.3), layout="constrained")
    labels = [label for label, _, _ in rows]
    y = range(len(rows))
    top = max((f.number or 0) for _, f, p in rows for f in (f, p)) or 1
    for i, (_, now, before) in enumerate(rows):
        if before.number is not None:
            ax.barh(i + 0.27, before.number, height=0.22, color=PALE, zorder=2)
        if now.number is not None:
            ax.barh(i - 0.08, now.number, height=0.5, color=BLUE, zorder=3)
        ax.text(
            (now.number or 0) + top * 0.012,
            i - 0.08,
            now.text,
            va="center",
            fontsize=9,
            fontweight="bold",
            color=INK,
        )
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.12)
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _axes_plain(ax)
    ax.legend(
        handles=[
            plt.Rectangle((0, 0), 1, 1, color=BLUE, label=words["charts"]["this_period"]),
            plt.Rectangle((0, 0), 1, 1, color=PALE, label=words["charts"]["previous_period"]),
        ],
        loc="lower right",
        frameon=False,
        fontsize=8,
    )
    return canvas


def _wellbeing(rows: Sequence[Wellbeing], words: dict[str, Any]) -> Canvas | None:
    shown = [w for w in rows if w.before.number is not None and w.after.number is not None]
    if not shown:
        return None
    canvas, (left, right) = plt.subplots(
        1, 2, figsize=(7.2, 2.9), layout="constrained", gridspec_kw={"width_ratios": (1.35, 1)}
    )
    x = list(range(len(shown)))
    before = [float(w.before.number or 0) for w in shown]
    after = [float(w.after.number or 0) for w in shown]
    left.bar([i - 0.19 for i in x], before, width=0.36, color=PALE, label=words["charts"]["before"])
    left.bar([i + 0.19 for i in x], after, width=0.36, color=BLUE, label=words["charts"]["after"])
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        left.text(i - 0.19, b + 0.15, f"{b:.1f}", ha="center", fontsize=8)
        left.text(i + 0.19, a + 0.15, f"{a:.1f}", ha="center", fontsize=8, fontweight="bold")
    left.set_xticks(x, [w.short for w in shown], fontsize=8)
    left.set_ylim(0, 10)
    left.set_ylabel(words["charts"]["score"], fontsize=8)
    left.legend(frameon=False, fontsize=7.5, loc="upper left", ncols=2)
    _axes_plain(left)

    for i, w in enumerate(shown):
        good = (w.change.number or 0) < 0 if w.measure == "anxiety" else (w.change.number or 0) > 0
        colour = GREEN if good else WARM
        low, high = w.low or 0, w.high or 0
        right.plot([low, high], [i, i], color=colour, linewidth=2.2, solid_capstyle="round")
        right.plot([w.change.number], [i], "o", color=colour, markersize=7)
        right.text(
            high + 0.1,
            i,
            f"{w.change.number:+.1f}".replace("-", "−"),
            va="center",
            fontsize=8,
            fontweight="bold",
        )
    right.axvline(0, color=GREY, linewidth=0.8)
    right.set_yticks(range(len(shown)), [w.short.replace("\n", " ") for w in shown], fontsize=8)
    right.invert_yaxis()
    span = max(2.0, *(abs(v) + 0.6 for w in shown for v in (w.low or 0, w.high or 0)))
    right.set_xlim(-span, span)
    right.set_title(textwrap.fill(words["charts"]["change"], 34), fontsize=8, loc="left")
    right.tick_params(axis="y", length=0)
    _axes_plain(right)
    right.spines["left"].set_visible(False)
    return canvas


def _attendance(report: Report, words: dict[str, Any]) -> Canvas | None:
    rows: list[tuple[str, float, float, str]] = []
    for row in report.activities.rows:
        asked, went = row.cells[1], row.cells[2]
        if row.kind == "total" or asked is None or went is None:
            continue
        if not asked.number or went.number is None:
            continue
        label = words["charts"]["went_of_asked"].format(went=went.text, asked=asked.text)
        rows.append((row.label, float(asked.number), float(went.number), label))
    if not rows:
        return None
    rows.sort(key=lambda r: -r[1])
    canvas, ax = plt.subplots(figsize=(7.2, 0.9 + 0.36 * len(rows)), layout="constrained")
    for i, (_, asked_n, went_n, label) in enumerate(rows):
        ax.barh(i, asked_n, height=0.66, color=PALE, zorder=2)
        ax.barh(i, went_n, height=0.38, color=BLUE, zorder=3)
        ax.text(asked_n + 0.25, i, label, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [textwrap.fill(r[0], 46) for r in rows], fontsize=7.5)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(r[1] for r in rows) * 1.18)
    ax.set_xlabel(words["charts"]["people"], fontsize=8)
    _axes_plain(ax)
    ax.legend(
        handles=[
            plt.Rectangle((0, 0), 1, 1, color=PALE, label=words["charts"]["asked"]),
            plt.Rectangle((0, 0), 1, 1, color=BLUE, label=words["charts"]["went"]),
        ],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=2,
        frameon=False,
        fontsize=8,
    )
    return canvas


def _needs(report: Report, words: dict[str, Any]) -> Canvas | None:
    rows: list[tuple[str, Figure, Figure]] = [
        (row.label, row.cells[1], row.cells[3])  # type: ignore[misc]
        for row in report.needs.rows
        if row.cells[1] is not None and row.cells[1].number
    ]
    if not rows:
        return None
    canvas, ax = plt.subplots(figsize=(3.5, 0.5 + 0.27 * len(rows)), layout="constrained")
    for i, (_, now, before) in enumerate(rows):
        if before is not None and before.number is not None:
            ax.barh(i + 0.2, float(before.number), height=0.3, color=PALE, zorder=2)
        ax.barh(i - 0.1, float(now.number or 0), height=0.45, color=BLUE, zorder=3)
        ax.text(float(now.number or 0) + 0.8, i - 0.1, now.text, va="center", fontsize=7.5)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7.5)
    ax.invert_yaxis()
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _axes_plain(ax)
    return canvas
