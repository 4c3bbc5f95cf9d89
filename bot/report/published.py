"""What the report publishes: every figure once, small numbers protected, in the
words of messages/en/report/labels.yaml.

`publish` turns two periods' `Figures` into a `Report`: the tables the HTML
template lays out and the charts draw, and the flat list of `Figure`s the CSV
writes. Both come from the same `Figure` objects, so they cannot disagree.
Every count goes through a `Ledger` (bot/report/disclosure.py) with the sums
that tie it to the others, so no small number can be worked out by subtraction;
percentages are worked out from the numbers as printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import yaml

from bot.messages import MESSAGES
from bot.report.disclosure import Ledger, Protection, Shown, round5
from bot.report.figures import CHAIN, NOT_GIVEN, NOT_KNOWN, OUTCOMES, Figures
from bot.report.periods import Period
from bot.report.stats import mean_with_interval, median_of_sorted, percentile_90_of_sorted
from flows.wellbeing import MEASURES

_HOUR = timedelta(hours=1)

#: Fewer people than this: no median, mean or interval is shown, and a
#: district, activity or organisation is counted among the "other" ones.
MIN_PEOPLE = 5


@cache
def labels(lang: str = "en") -> dict[str, Any]:
    text = (MESSAGES / lang / "report" / "labels.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text))


@dataclass(frozen=True)
class Figure:
    """One published figure: a CSV row, and one cell of the HTML."""

    section: str
    measure: str
    group: str
    text: str
    n: str = ""
    #: The figure as a number, for charts: None when it is not printed as one.
    number: float | None = None

    @property
    def key(self) -> str:
        return f"{self.section}|{self.measure}|{self.group}"


@dataclass
class Row:
    """One row of a table: its label and its figures, in column order."""

    label: str
    cells: list[Figure | None]
    kind: str = ""  # "total", "other" or "" (for the template's styling)


@dataclass
class Table:
    key: str
    columns: list[str]
    rows: list[Row]
    withheld: bool = False


@dataclass
class Wellbeing:
    measure: str
    label: str
    short: str
    n: Figure
    before: Figure
    after: Figure
    change: Figure
    interval: Figure
    low: float | None
    high: float | None
    better: Figure
    same: Figure
    worse: Figure
    better_share: Figure


@dataclass
class Report:
    title: str
    organisation: str
    period: Period
    previous_period: Period
    as_of: datetime
    journey: Table
    outcomes: Table
    speed: Table
    needs: Table
    districts: Table
    modes: Table
    activities: Table
    organisations: Table
    answers: Table
    barriers: Table
    stopped: Table  # where people who did not finish stopped
    wellbeing: list[Wellbeing]
    headline: dict[str, Figure]
    blurred: dict[str, int]  # how many counts were rounded, hidden or withheld
    funnel: list[tuple[str, Figure, Figure]]  # short label, this period, previous period
    figures: list[Figure] = field(default_factory=list)
    #: Every count of each period, how it is shown and the sums that tie them (for audit).
    protections: dict[str, Protection] = field(default_factory=dict)


def publish(
    current: Figures,
    previous: Figures,
    *,
    period: Period,
    previous_period: Period,
    as_of: datetime,
    organisation: str,
    lang: str = "en",
) -> Report:
    words = labels(lang)
    layout = _Layout.choose(current)
    now = _Book(current, layout, full=True, words=words)
    before = _Book(previous, layout, full=False, words=words)
    return _Publisher(words, now, before).report(
        period=period, previous_period=previous_period, as_of=as_of, organisation=organisation
    )


# -- which rows each breakdown has ---------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Rows chosen from this period: districts and activities with fewer than 5
    people are counted together as "other" (in both periods)."""

    districts: tuple[str, ...]
    activities: tuple[str, ...]
    organisations: tuple[str, ...]
    need_areas: tuple[str, ...]

    @classmethod
    def choose(cls, figures: Figures) -> _Layout:
        districts = sorted(
            (d for d, n in figures.districts.items() if d != NOT_GIVEN and n >= MIN_PEOPLE),
            key=lambda d: (-figures.districts[d], d),
        )
        activities = [a.activity_id for a in figures.activities if a.referred >= MIN_PEOPLE]
        by_org: dict[str, int] = {}
        for a in figures.activities:
            by_org[a.organisation] = by_org.get(a.organisation, 0) + a.referred
        organisations = sorted(
            (o for o, n in by_org.items() if n >= MIN_PEOPLE), key=lambda o: (-by_org[o], o)
        )
        known = list(labels()["need_areas"])
        needs = sorted(
            set(known) | set(figures.need_areas),
            key=lambda k: (-figures.need_areas.get(k, 0), known.index(k) if k in known else 99, k),
        )
        return cls(tuple(districts), tuple(activities), tuple(organisations), tuple(needs))


# -- the counts of one period, and the sums between them ------------------------------


class _Book:
    """One period's counts in a Ledger, protected."""

    def __init__(self, figures: Figures, layout: _Layout, *, full: bool, words: dict[str, Any]):
        self.figures = figures
        self.layout = layout
        self.words = words
        self.protection: Protection = self._count(full, stopped=False)
        #: Where people stopped is published only if it blurs nothing else: at small
        #: numbers its rows can pin down who did not finish, and the journey matters more.
        self.stopped_withheld = True
        if full:
            without = self.protection
            self.protection = self._count(full, stopped=True)
            if all(self.protection.shown[k] == v for k, v in without.shown.items()):
                self.stopped_withheld = False
            else:
                self.protection = self._count(full, stopped=False)

    def _count(self, full: bool, *, stopped: bool) -> Protection:
        self.ledger = Ledger()
        self._journey()
        self._reached()
        self._speed()
        if full:
            if stopped:
                self._stopped()
            self._activities()
            self._checkins()
            self._wellbeing()
        return self.ledger.protect()

    # Each area's counts and sums.

    def _journey(self) -> None:
        f, count, adds_up = self.figures, self.ledger.count, self.ledger.adds_up
        for i, step in enumerate(CHAIN):
            count(f"journey:{step}", f.reached[step], "journey", weight=4)
            if i:
                above = CHAIN[i - 1]
                dropped = f.reached[above] - f.reached[step]
                count(f"journey:dropped:{step}", dropped, "journey")
                adds_up(f"journey:{above}", [f"journey:{step}", f"journey:dropped:{step}"])
        for step, part, within in (
            ("declined", f.declined, "consented"),
            ("under_18", f.under_18, "finished"),
        ):
            count(f"journey:{step}", part, "journey")
            rest = self.ledger.counts[f"journey:dropped:{within}"].value - part
            if rest >= 0:  # always, when the milestones are right
                count(f"journey:{step}:others", rest, "journey", printed=False)
                adds_up(f"journey:dropped:{within}", [f"journey:{step}", f"journey:{step}:others"])
        count("journey:closed", f.closed, "closed", weight=2)
        if f.closed <= f.handed_off:
            count("journey:open", f.handed_off - f.closed, "closed", printed=False)
            adds_up("journey:handed_off", ["journey:closed", "journey:open"])
        for outcome in _ordered(f.outcomes, OUTCOMES):
            count(f"outcome:{outcome}", f.outcomes[outcome], "outcomes")
        self.ledger.adds_up("journey:closed", [f"outcome:{o}" for o in f.outcomes])

    def _stopped(self) -> None:
        """Where those who agreed but did not finish stopped: each question of
        labels.yaml's `stopped_at`, the rest as "other", and "not known yet"; together
        the people who did not finish for another reason than being under 18."""
        count = self.ledger.count
        for code, people in _stopped_rows(self.figures.stopped_at, self.words).items():
            count(f"stopped:{code}", people, "stopped")
        self.ledger.adds_up_if_equal(
            "journey:under_18:others",
            [f"stopped:{code}" for code in _stopped_rows({}, self.words)],
        )

    def _reached(self) -> None:
        f, count, adds_up = self.figures, self.ledger.count, self.ledger.adds_up
        for need in self.layout.need_areas:
            count(f"need:{need}", f.need_areas.get(need, 0), "needs")
        self.ledger.adds_up_if_equal(
            "journey:handed_off", [f"need:{n}" for n in self.layout.need_areas]
        )
        listed = list(self.layout.districts)
        for district in listed:
            count(f"district:{district}", f.districts.get(district, 0), "districts")
        rest = sum(n for d, n in f.districts.items() if d not in listed and d != NOT_GIVEN)
        count("district:other", rest, "districts")
        count("district:not_given", f.districts.get(NOT_GIVEN, 0), "districts")
        adds_up(
            "journey:handed_off",
            [*(f"district:{d}" for d in listed), "district:other", "district:not_given"],
        )
        for mode in f.modes:
            count(f"mode:{mode}", f.modes[mode], "modes")
        adds_up("journey:handed_off", [f"mode:{m}" for m in f.modes])

    def _speed(self) -> None:
        for wait, waits, step in (
            ("claim", self.figures.to_claim, "claimed"),
            ("contact", self.figures.to_contact, None),
        ):
            self.ledger.count(f"speed:{wait}", len(waits), "speed")
            if step:
                self.ledger.adds_up_if_equal(f"journey:{step}", [f"speed:{wait}"])

    def _activities(self) -> None:
        f, count, adds_up = self.figures, self.ledger.count, self.ledger.adds_up
        listed = [a for a in f.activities if a.activity_id in self.layout.activities]
        others = [a for a in f.activities if a.activity_id not in self.layout.activities]
        for a in listed:
            key = f"activity:{a.activity_id}"
            count(f"{key}:referred", a.referred, "activities")
            count(f"{key}:asked", a.asked, "activities")
            count(f"{key}:went", a.went, "activities")
            count(f"{key}:not_asked", a.referred - a.asked, "activities", printed=False)
            count(f"{key}:not_went", a.asked - a.went, "activities", printed=False)
            adds_up(f"{key}:referred", [f"{key}:asked", f"{key}:not_asked"])
            adds_up(f"{key}:asked", [f"{key}:went", f"{key}:not_went"])
        for row, items in (("other", others), ("all", f.activities)):
            key = f"activities:{row}"
            referred, asked, went = (
                sum(a.referred for a in items),
                sum(a.asked for a in items),
                sum(a.went for a in items),
            )
            count(f"{key}:referred", referred, "activities", weight=2 if row == "all" else 1)
            count(f"{key}:asked", asked, "activities", weight=2 if row == "all" else 1)
            count(f"{key}:went", went, "activities", weight=2 if row == "all" else 1)
            count(f"{key}:not_asked", referred - asked, "activities", printed=False)
            count(f"{key}:not_went", asked - went, "activities", printed=False)
            adds_up(f"{key}:referred", [f"{key}:asked", f"{key}:not_asked"])
            adds_up(f"{key}:asked", [f"{key}:went", f"{key}:not_went"])
        for column in ("referred", "asked", "went", "not_asked", "not_went"):
            adds_up(
                f"activities:all:{column}",
                [
                    *(f"activity:{a.activity_id}:{column}" for a in listed),
                    f"activities:other:{column}",
                ],
            )
        # Each person referred once: the referrals are the people referred.
        self.ledger.adds_up_if_equal("journey:referred", ["activities:all:referred"])
        self.ledger.adds_up_if_equal("journey:checkin_sent", ["activities:all:asked"])
        self.ledger.adds_up_if_equal("journey:attended", ["activities:all:went"])

        # Organisations: each is its listed activities plus its others (implied).
        unlisted_keys = []
        other_orgs = []
        for organisation in sorted({a.organisation for a in f.activities}):
            mine = [a for a in f.activities if a.organisation == organisation]
            unlisted = sum(a.referred for a in mine if a not in listed)
            key = f"organisation:{organisation}"
            count(f"{key}:unlisted", unlisted, "organisations", printed=False)
            unlisted_keys.append(f"{key}:unlisted")
            if organisation in self.layout.organisations:
                count(f"{key}:referred", sum(a.referred for a in mine), "organisations")
                adds_up(
                    f"{key}:referred",
                    [
                        *(f"activity:{a.activity_id}:referred" for a in mine if a in listed),
                        f"{key}:unlisted",
                    ],
                )
            else:
                other_orgs.append(f"{key}:unlisted")
        adds_up("activities:other:referred", unlisted_keys)
        count(
            "organisations:other:referred",
            sum(self.ledger.counts[k].value for k in other_orgs),
            "organisations",
        )
        adds_up("organisations:other:referred", other_orgs)
        adds_up(
            "activities:all:referred",
            [
                *(f"organisation:{o}:referred" for o in self.layout.organisations),
                "organisations:other:referred",
            ],
        )

    def _checkins(self) -> None:
        f, count = self.figures, self.ledger.count
        count("checkins:answered", f.answered, "answers", weight=2)
        for answer in f.answers:
            count(f"answer:{answer}", f.answers[answer], "answers")
        self.ledger.adds_up("checkins:answered", [f"answer:{a}" for a in f.answers])
        asked = f.reached["checkin_sent"]
        if f.answered <= asked:
            count("checkins:unanswered", asked - f.answered, "answers", printed=False)
            self.ledger.adds_up(
                "journey:checkin_sent", ["checkins:answered", "checkins:unanswered"]
            )
        for barrier in f.barriers:
            count(f"barrier:{barrier}", f.barriers[barrier], "barriers")

    def _wellbeing(self) -> None:
        for measure, paired in self.figures.wellbeing.items():
            moved = paired.moved()
            table = f"wellbeing:{measure}"
            self.ledger.count(f"ons:{measure}:n", len(paired.pairs), table, weight=2)
            for way in ("better", "same", "worse"):
                self.ledger.count(f"ons:{measure}:{way}", moved[way], table)
            self.ledger.adds_up(f"ons:{measure}:n", [f"ons:{measure}:{w}" for w in moved])

    # Reading back.

    def text(self, key: str) -> str:
        marks = self.words["marks"]
        shown = self.protection.shown[key]
        value = self.ledger.counts[key].value
        if shown is Shown.EXACT:
            return f"{value:,}"
        if shown is Shown.SMALL:
            return str(marks["small"])
        if shown is Shown.ROUNDED:
            return str(marks["rounded"]).format(n=f"{round5(value):,}")
        if shown is Shown.HIDDEN:
            return str(marks["hidden"])
        return str(marks["withheld"])

    def number(self, key: str) -> int | None:
        return self.protection.value(key)

    def is_withheld(self, table: str) -> bool:
        return any(
            c.table == table and self.protection.shown[k] is Shown.WITHHELD
            for k, c in self.ledger.counts.items()
        )


# -- from counts to words and figures ---------------------------------------------------


class _Publisher:
    def __init__(self, words: dict[str, Any], now: _Book, before: _Book) -> None:
        self.words = words
        self.now = now
        self.before = before
        self.figures: list[Figure] = []
        self._seen: dict[str, Figure] = {}

    def figure(
        self,
        section: str,
        measure: str,
        group: str,
        text: str,
        n: str = "",
        number: float | None = None,
    ) -> Figure:
        made = Figure(
            self.words["sections"][section], self.words["measures"][measure], group, text, n, number
        )
        if made.key in self._seen:
            if self._seen[made.key] != made:
                raise ValueError(f"two different figures for {made.key}")
            return self._seen[made.key]
        self._seen[made.key] = made
        self.figures.append(made)
        return made

    def count(
        self, book: _Book, key: str, section: str, measure: str, group: str, n: str = ""
    ) -> Figure:
        return self.figure(section, measure, group, book.text(key), n, book.number(key))

    def share(
        self,
        section: str,
        measure: str,
        group: str,
        part: Figure,
        whole: tuple[_Book, str],
        n: str = "",
    ) -> Figure:
        """A percentage, worked out from the figures as printed (so it tells a
        reader nothing they could not work out): only of an exact count, and of
        an exact total or a rounded one of 50 or more."""
        book, key = whole
        total, shown = book.number(key), book.protection.shown[key]
        exact_part = part.number is not None and part.text == f"{int(part.number):,}"
        if not exact_part or not total or (shown is Shown.ROUNDED and total < 50):
            return self.figure(section, measure, group, "", n)
        value = round(100 * float(part.number or 0) / total)
        return self.figure(section, measure, group, f"{value}%", n, value)

    def report(
        self, *, period: Period, previous_period: Period, as_of: datetime, organisation: str
    ) -> Report:
        words = self.words
        journey, funnel = self._journey_table()
        report = Report(
            title=words["title"],
            organisation=organisation,
            period=period,
            previous_period=previous_period,
            as_of=as_of,
            journey=journey,
            outcomes=self._outcomes_table(),
            speed=self._speed_table(),
            needs=self._breakdown("needs", "need", self.now.layout.need_areas, "need_areas"),
            districts=self._breakdown(
                "districts",
                "district",
                (*self.now.layout.districts, "other", "not_given"),
                "districts",
            ),
            modes=self._breakdown("modes", "mode", tuple(self.now.figures.modes), "modes"),
            activities=self._activities_table(),
            organisations=self._organisations_table(),
            answers=self._answers_table(),
            barriers=self._barriers_table(),
            stopped=self._stopped_table(),
            wellbeing=self._wellbeing(),
            headline={},
            blurred=self._blurred(),
            funnel=funnel,
        )
        report.headline = self._headline(report)
        report.figures = self.figures
        report.protections = {
            "this period": self.now.protection,
            "previous period": self.before.protection,
        }
        return report

    def _journey_table(self) -> tuple[Table, list[tuple[str, Figure, Figure]]]:
        steps, short = self.words["steps"], self.words["steps_short"]
        rows, funnel = [], []
        for i, step in enumerate(CHAIN):
            key = f"journey:{step}"
            people = self.count(self.now, key, "journey", "people", steps[step])
            went_on = dropped = None
            if i:
                above = f"journey:{CHAIN[i - 1]}"
                went_on = self.share("journey", "went_on", steps[step], people, (self.now, above))
                dropped = self.count(
                    self.now, f"journey:dropped:{step}", "journey", "dropped", steps[step]
                )
            previous = self.count(self.before, key, "journey", "people_previous", steps[step])
            rows.append(Row(steps[step], [people, went_on, dropped, previous]))
            funnel.append((short[step], people, previous))
        for step in ("declined", "under_18", "closed"):
            people = self.count(self.now, f"journey:{step}", "journey", "people", steps[step])
            previous = self.count(
                self.before, f"journey:{step}", "journey", "people_previous", steps[step]
            )
            rows.append(Row(steps[step], [people, None, None, previous], kind="aside"))
        columns = self._columns("people", "went_on", "dropped", "people_previous")
        return Table("journey", columns, rows), funnel

    def _outcomes_table(self) -> Table:
        closed = self.now.text("journey:closed")
        rows = [
            Row(
                label,
                [
                    self.count(
                        self.now, f"outcome:{code}", "journey", "cases_closed", label, n=closed
                    )
                ],
            )
            for code in _ordered(self.now.figures.outcomes, OUTCOMES)
            for label in [self.words["outcomes"].get(code, code)]
        ]
        return Table(
            "outcomes",
            self._columns("cases_closed"),
            rows,
            withheld=self.now.is_withheld("outcomes"),
        )

    def _speed_table(self) -> Table:
        rows = []
        for wait, waits in (("claim", "to_claim"), ("contact", "to_contact")):
            label = self.words["waits"][wait]
            cells: list[Figure | None] = []
            for book, measures in (
                (self.now, ("median", "p90")),
                (self.before, ("median_previous",)),
            ):
                values: list[timedelta] = getattr(book.figures, waits)
                n = book.text(f"speed:{wait}")
                # Timedeltas sort far quicker than they divide: only the two or three
                # waits read are turned into hours.
                ordered = sorted(values)
                for measure in measures:
                    if len(values) < MIN_PEOPLE:
                        text, number = self.words["marks"]["too_few"], None
                    else:
                        number = (
                            median_of_sorted(ordered, _in_hours)
                            if "median" in measure
                            else percentile_90_of_sorted(ordered, _in_hours)
                        )
                        text = self._duration(number)
                    cells.append(self.figure("speed", measure, label, text, n, number))
            rows.append(Row(label, cells))
        return Table("speed", self._columns("median", "p90", "median_previous"), rows)

    def _columns(self, *names: str) -> list[str]:
        return [str(self.words["columns"][name]) for name in names]

    def _duration(self, hours: float) -> str:
        words = self.words["durations"]
        amount: float
        if hours < 1:
            amount, unit = round(hours * 60), "minute"
        elif hours < 48:
            amount, unit = round(hours, 1), "hour"
        else:
            amount, unit = round(hours / 24, 1), "day"
        if amount == 1:
            return str(words[unit])
        return str(words[unit + "s"]).format(n=f"{amount:g}")

    def _breakdown(self, table: str, prefix: str, codes: Sequence[str], words: str) -> Table:
        """A breakdown of the people handed off, with the previous period beside it."""
        names: dict[str, str] = self.words[words]
        n_now, n_before = (
            self.now.text("journey:handed_off"),
            self.before.text("journey:handed_off"),
        )
        rows = []
        for code in codes:
            label = names.get(code, code)
            key = f"{prefix}:{code}"
            people = self.count(self.now, key, "reached", "people", label, n_now)
            share = self.share(
                "reached", "share", label, people, (self.now, "journey:handed_off"), n_now
            )
            before = self.count(self.before, key, "reached", "people_previous", label, n_before)
            share_before = self.share(
                "reached",
                "share_previous",
                label,
                before,
                (self.before, "journey:handed_off"),
                n_before,
            )
            change = None
            if share.number is not None and share_before.number is not None:
                points = share.number - share_before.number
                change = self.figure(
                    "reached", "change_points", label, _signed(points, 0), number=points
                )
            kind = "other" if code in ("other", NOT_GIVEN) else ""
            rows.append(Row(label, [people, share, before, share_before, change], kind))
        columns = self._columns(
            "people", "share", "people_previous", "share_previous", "change_points"
        )
        return Table(table, columns, rows, withheld=self.now.is_withheld(table))

    def _activities_table(self) -> Table:
        names = self.words["activities"]
        rows = []
        entries = [
            (f"activity:{a.activity_id}", f"{a.name} ({a.organisation})", "")
            for a in self.now.figures.activities
            if a.activity_id in self.now.layout.activities
        ]
        entries += [
            ("activities:other", names["other"], "other"),
            ("activities:all", names["all"], "total"),
        ]
        for key, label, kind in entries:
            referred = self.count(self.now, f"{key}:referred", "activities", "referred", label)
            asked = self.count(self.now, f"{key}:asked", "activities", "asked", label)
            went = self.count(self.now, f"{key}:went", "activities", "went", label, n=asked.text)
            share = self.share(
                "activities", "went_share", label, went, (self.now, f"{key}:asked"), n=asked.text
            )
            rows.append(Row(label, [referred, asked, went, share], kind))
        columns = self._columns("referred", "asked", "went", "went_share")
        return Table("activities", columns, rows, withheld=self.now.is_withheld("activities"))

    def _organisations_table(self) -> Table:
        names = self.words["activities"]
        entries = [(f"organisation:{o}", o, "") for o in self.now.layout.organisations]
        entries += [
            ("organisations:other", names["other_organisations"], "other"),
            ("activities:all", names["all_organisations"], "total"),
        ]
        rows = [
            Row(
                label,
                [self.count(self.now, f"{key}:referred", "activities", "referred", label)],
                kind,
            )
            for key, label, kind in entries
        ]
        return Table(
            "organisations",
            self._columns("referred"),
            rows,
            withheld=self.now.is_withheld("organisations"),
        )

    def _answers_table(self) -> Table:
        answered = self.now.text("checkins:answered")
        rows = []
        for code in self.now.figures.answers:
            label = self.words["answers"].get(code, code)
            people = self.count(
                self.now, f"answer:{code}", "activities", "people", label, n=answered
            )
            share = self.share(
                "activities",
                "answered_share",
                label,
                people,
                (self.now, "checkins:answered"),
                n=answered,
            )
            rows.append(Row(label, [people, share]))
        return Table(
            "answers",
            self._columns("people", "answered_share"),
            rows,
            withheld=self.now.is_withheld("answers"),
        )

    def _barriers_table(self) -> Table:
        rows = [
            Row(label, [self.count(self.now, f"barrier:{code}", "activities", "people", label)])
            for code in self.now.figures.barriers
            for label in [self.words["barriers"].get(code, code)]
        ]
        return Table(
            "barriers", self._columns("people"), rows, withheld=self.now.is_withheld("barriers")
        )

    def _stopped_table(self) -> Table:
        names = self.words["stopped_at"]
        if self.now.stopped_withheld:
            return Table("stopped", self._columns("people"), [], withheld=True)
        rows = [
            Row(
                names[code],
                [self.count(self.now, f"stopped:{code}", "journey", "stopped", names[code])],
                "other" if code in ("other", NOT_KNOWN) else "",
            )
            for code, people in _stopped_rows(self.now.figures.stopped_at, self.words).items()
            if people or code == NOT_KNOWN
        ]
        return Table("stopped", self._columns("people"), rows)

    def _wellbeing(self) -> list[Wellbeing]:
        found = []
        for measure in MEASURES:
            paired = self.now.figures.wellbeing[measure]
            label = self.words["ons"][measure]
            n_key = f"ons:{measure}:n"
            n = self.count(self.now, n_key, "wellbeing", "paired", label)
            too_few = self.words["marks"]["too_few"]
            low = high = None
            if len(paired.pairs) >= MIN_PEOPLE:
                mean_before = sum(b for b, _ in paired.pairs) / len(paired.pairs)
                mean_after = sum(a for _, a in paired.pairs) / len(paired.pairs)
                interval = mean_with_interval(paired.changes)
                low, high = interval.low, interval.high
                before = self.figure(
                    "wellbeing", "before", label, f"{mean_before:.1f}", n.text, mean_before
                )
                after = self.figure(
                    "wellbeing", "after", label, f"{mean_after:.1f}", n.text, mean_after
                )
                change = self.figure(
                    "wellbeing", "change", label, _signed(interval.mean), n.text, interval.mean
                )
                between = self.figure(
                    "wellbeing", "interval", label, f"{_signed(low)} to {_signed(high)}", n.text
                )
            else:
                before = self.figure("wellbeing", "before", label, too_few, n.text)
                after = self.figure("wellbeing", "after", label, too_few, n.text)
                change = self.figure("wellbeing", "change", label, too_few, n.text)
                between = self.figure("wellbeing", "interval", label, too_few, n.text)
            moved = {
                way: self.count(self.now, f"ons:{measure}:{way}", "wellbeing", way, label, n=n.text)
                for way in ("better", "same", "worse")
            }
            better_share = self.share(
                "wellbeing", "better_share", label, moved["better"], (self.now, n_key), n=n.text
            )
            found.append(
                Wellbeing(
                    measure,
                    label,
                    self.words["ons_short"][measure],
                    n,
                    before,
                    after,
                    change,
                    between,
                    low,
                    high,
                    moved["better"],
                    moved["same"],
                    moved["worse"],
                    better_share,
                )
            )
        return found

    def _headline(self, report: Report) -> dict[str, Figure]:
        """The figures on the first page's tiles (each also in a table), and the
        previous period's beside the first three ("started.previous")."""
        steps = self.words["steps"]
        rows = {row.label: row.cells for row in report.journey.rows}
        found = {
            "claim": report.speed.rows[0].cells[0],
            "claim.previous": report.speed.rows[0].cells[2],
            "life_satisfaction": report.wellbeing[0].change,
        }
        for step in ("started", "handed_off", "referred", "checkin_sent", "attended"):
            found[step] = rows[steps[step]][0]
            found[f"{step}.previous"] = rows[steps[step]][3]
        return {k: v for k, v in found.items() if v is not None}

    def _blurred(self) -> dict[str, int]:
        tally = {"rounded": 0, "hidden": 0, "withheld": 0}
        for book in (self.now, self.before):
            for key, shown in book.protection.shown.items():
                if shown.value in tally and book.ledger.counts[key].printed:
                    tally[shown.value] += 1
        return tally


def _signed(value: float, places: int = 1) -> str:
    """+1.2, −0.4 (a true minus sign), 0.0."""
    text = f"{value:+.{places}f}"
    if not text.strip("+-0."):
        return text[1:]
    return text.replace("-", "−")


def _stopped_rows(stopped: dict[str, int], words: dict[str, Any]) -> dict[str, int]:
    """People per row of the "where people stopped" table, in the conversation's
    order: each named question, then "other" (the states not named: a pause, a
    crisis check, starting again), then "not known yet" (not reminded yet)."""
    named = [code for code in words["stopped_at"] if code not in ("other", NOT_KNOWN)]
    rows = {code: stopped.get(code, 0) for code in named}
    rows["other"] = sum(n for code, n in stopped.items() if code not in named and code != NOT_KNOWN)
    rows[NOT_KNOWN] = stopped.get(NOT_KNOWN, 0)
    return rows


def _ordered(found: dict[str, int], known: Sequence[str]) -> list[str]:
    return [k for k in known if k in found] + sorted(k for k in found if k not in known)


def _in_hours(wait: timedelta) -> float:
    return wait / _HOUR
