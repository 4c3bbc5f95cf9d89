"""The outcomes report's figures, worked out from milestones alone (no database,
no words): easy to check by hand.

A cohort is everyone whose first `started` milestone falls in the period; what
they went on to do counts whenever it happened, up to the moment the report is
made (`as_of`). So the same period's report fills in as people go on, and two
periods are compared person for person, not event for event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from flows.wellbeing import MEASURES, band

#: The journey, each step counting everyone who got at least that far.
#: "checkin_sent" is "asked at a check-in", so "attended" is of those asked.
CHAIN = (
    "started",
    "consented",
    "finished",
    "handed_off",
    "claimed",
    "referred",
    "checkin_sent",
    "attended",
)
OUTCOMES = (
    "referred_to_activity",
    "signposted",
    "declined",
    "could_not_contact",
    "not_eligible",
    "other",
)
BARRIERS = ("getting_there", "nerves", "time", "cost", "health", "other")
ANSWERS = ("attended", "not_for_them", "not_yet", "talk", "paused", "stopped")
MODES = ("in_person", "online", "phone", "remote", "any", "not_given")
NOT_GIVEN = "not_given"
_CHAIN_AT = {step: i for i, step in enumerate(CHAIN)}
_ACTIVITY_STEPS = frozenset(("referred", "checkin_sent", "attended"))
#: The steps whose marks the figures read beyond how far each journey got (the
#: funnel, declined and under 18, which the database counts): a cohort's other
#: marks ("started", above all) need not be read at all.
DETAIL_STEPS = (
    "consented",
    "finished",
    "under_18",
    "nudged",
    "handed_off",
    "claimed",
    "first_contact",
    "closed",
    "referred",
    "checkin_sent",
    "attended",
    "checkin_answered",
    "wellbeing",
)
#: Where someone stopped is known from the reminder they were sent (its
#: `stopped_at`, a conversation state); before a reminder it is not known yet.
NOT_KNOWN = "not_known"

#: ONS bands from best to worst, per question (anxiety: lower is better).
_BAND_ORDER = {
    "positive": ("very_high", "high", "medium", "low"),
    "anxiety": ("very_low", "low", "medium", "high"),
}


class Mark(Protocol):
    """What the figures read of a milestone (bot.store.milestones.Milestone)."""

    @property
    def at(self) -> datetime: ...
    @property
    def journey(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def detail(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Activity:
    """One activity people were referred to: people referred, asked about it at a
    check-in, and who said they went."""

    activity_id: str
    name: str
    organisation: str
    referred: int
    asked: int
    went: int


@dataclass(frozen=True)
class Paired:
    """One ONS4 question for the people with a baseline and a later answer."""

    measure: str
    pairs: tuple[tuple[int, int], ...]  # (baseline, latest follow-up), one per person

    @property
    def changes(self) -> list[int]:
        return [after - before for before, after in self.pairs]

    def moved(self) -> Counter[str]:
        """How many moved to a better ONS band, stayed, or moved to a worse one."""
        order = _BAND_ORDER["anxiety" if self.measure == "anxiety" else "positive"]
        moved: Counter[str] = Counter({"better": 0, "same": 0, "worse": 0})
        # Scores are 0-10, so a quarter's thousands of pairs are at most 121 kinds.
        for (before, after), people in Counter(self.pairs).items():
            rank_before = order.index(band(self.measure, before) or "")
            rank_after = order.index(band(self.measure, after) or "")
            moved[
                "better"
                if rank_after < rank_before
                else "worse"
                if rank_after > rank_before
                else "same"
            ] += people
        return moved


@dataclass(frozen=True)
class Figures:
    """One cohort's figures, before any small number is protected."""

    #: CHAIN step -> people who got at least that far.
    reached: dict[str, int]
    declined: int  # said no at consent
    under_18: int  # told the bot they were under 18
    closed: int  # cases closed (of those handed off)
    outcomes: dict[str, int]  # each closed case's latest outcome
    to_claim: list[timedelta]  # handoff to first claim, per person
    to_contact: list[timedelta]  # handoff to a link worker's first reply
    need_areas: dict[str, int]  # people who ticked each (several each)
    districts: dict[str, int]  # people per postcode district, or NOT_GIVEN
    modes: dict[str, int]  # how they would like to take part
    activities: list[Activity]
    answered: int  # people who answered a check-in
    answers: dict[str, int]  # each of those by their latest answer
    barriers: dict[str, int]  # people who gave each reason for not going yet
    #: Of those who agreed but did not finish (and were not under 18): the question
    #: (conversation state) they were on when last reminded, or NOT_KNOWN.
    stopped_at: dict[str, int] = field(default_factory=dict)
    wellbeing: dict[str, Paired] = field(default_factory=dict)

    @property
    def started(self) -> int:
        return self.reached["started"]

    @property
    def handed_off(self) -> int:
        return self.reached["handed_off"]

    @property
    def referrals(self) -> int:
        return sum(a.referred for a in self.activities)

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON, to be kept (bot/report/reading.py) and read back whole
        by `from_json`: waits in whole microseconds, so nothing is rounded."""
        return {
            **{name: getattr(self, name) for name in _PLAIN},
            "to_claim": [wait // _MICROSECOND for wait in self.to_claim],
            "to_contact": [wait // _MICROSECOND for wait in self.to_contact],
            "activities": [list(astuple(a)) for a in self.activities],
            "wellbeing": {m: [list(pair) for pair in p.pairs] for m, p in self.wellbeing.items()},
        }

    @classmethod
    def from_json(cls, kept: Mapping[str, Any]) -> Figures:
        return cls(
            **{name: kept[name] for name in _PLAIN},
            to_claim=[kept_wait * _MICROSECOND for kept_wait in kept["to_claim"]],
            to_contact=[kept_wait * _MICROSECOND for kept_wait in kept["to_contact"]],
            activities=[Activity(*fields) for fields in kept["activities"]],
            wellbeing={
                m: Paired(m, tuple(map(tuple, pairs))) for m, pairs in kept["wellbeing"].items()
            },
        )


#: The fields of Figures that JSON holds as they are (numbers, and names to numbers).
_PLAIN = ("reached", "declined", "under_18", "closed", "outcomes", "need_areas", "districts",
          "modes", "answered", "answers", "barriers", "stopped_at")  # fmt: skip
_MICROSECOND = timedelta(microseconds=1)


def cohort(marks: Iterable[Mark], start: datetime, end: datetime) -> set[str]:
    """The journeys whose first `started` is in [start, end)."""
    first: dict[str, datetime] = {}
    for mark in marks:
        if mark.step == "started" and (mark.journey not in first or mark.at < first[mark.journey]):
            first[mark.journey] = mark.at
    return {journey for journey, at in first.items() if start <= at < end}


def compute(marks: Iterable[Mark], journeys: set[str], as_of: datetime) -> Figures:
    """The figures for these journeys, from their milestones before `as_of`."""
    people = _people(marks, journeys, as_of)
    return _figures(_funnel(people), people)


def from_counts(counted: Iterable[tuple[int, int, int, int]], marks: Iterable[Mark]) -> Figures:
    """The same figures, from the funnel counted in the database and only the marks
    of `DETAIL_STEPS` (bot/store/milestones.py `funnel`, `of_cohort`): one
    cohort's, all before the moment the report is made.

    `counted` is (furthest CHAIN step's index or -1, declined 0/1, under 18 0/1,
    journeys) per kind of journey. tests/report/test_from_the_database.py holds
    this to `compute` over every milestone."""
    reached = dict.fromkeys(CHAIN, 0)
    declined = under_18 = 0
    for furthest, said_no, too_young, journeys in counted:
        for step in CHAIN[: furthest + 1]:
            reached[step] += journeys
        declined += journeys if said_no else 0
        under_18 += journeys if too_young else 0
    people = _people(marks, None, None)
    return _figures(_Funnel(reached, declined, under_18), people)


@dataclass(frozen=True)
class _Funnel:
    reached: dict[str, int]
    declined: int
    under_18: int


def _people(
    marks: Iterable[Mark], journeys: set[str] | None, as_of: datetime | None
) -> list[_Journey]:
    by_journey: dict[str, list[Mark]] = defaultdict(list)
    for mark in sorted(marks, key=lambda m: m.at):
        if (journeys is None or mark.journey in journeys) and (as_of is None or mark.at < as_of):
            by_journey[mark.journey].append(mark)
    return [_Journey(ms) for ms in by_journey.values()]


def _funnel(people: list[_Journey]) -> _Funnel:
    reached = dict.fromkeys(CHAIN, 0)
    for person in people:
        furthest = max((_CHAIN_AT[s] for s in person.steps if s in _CHAIN_AT), default=-1)
        for step in CHAIN[: furthest + 1]:
            reached[step] += 1
    declined = sum(1 for p in people if p.first("declined"))
    return _Funnel(reached, declined, sum(1 for p in people if p.first("under_18")))


def _figures(funnel: _Funnel, people: list[_Journey]) -> Figures:
    """Everything but the funnel reads only the marks of DETAIL_STEPS."""
    handed = [p for p in people if p.first("handed_off")]
    outcomes = Counter({o: 0 for o in OUTCOMES})
    for person in handed:
        closes = person.all("closed")
        if closes:
            outcomes[str(closes[-1].detail.get("outcome", "other"))] += 1

    need_areas: Counter[str] = Counter()
    districts: Counter[str] = Counter()
    modes = Counter({m: 0 for m in MODES})
    for person in handed:
        detail = person.first("handed_off").detail  # type: ignore[union-attr]
        need_areas.update(set(detail.get("need_areas") or ()))
        district = detail.get("district")
        districts[str(district).upper() if district else NOT_GIVEN] += 1
        modes[str(detail.get("mode") or NOT_GIVEN)] += 1

    answered = [p for p in people if p.first("checkin_answered")]
    answers = Counter({a: 0 for a in ANSWERS})
    barriers = Counter({b: 0 for b in BARRIERS})
    for person in answered:
        answers[str(person.all("checkin_answered")[-1].detail.get("went"))] += 1
        given = {m.detail.get("barrier") for m in person.all("checkin_answered")}
        barriers.update(str(b) for b in given if b)

    return Figures(
        reached=funnel.reached,
        declined=funnel.declined,
        under_18=funnel.under_18,
        closed=sum(outcomes.values()),
        outcomes=dict(outcomes),
        to_claim=_waits(handed, "claimed"),
        to_contact=_waits(handed, "first_contact"),
        need_areas=dict(need_areas),
        districts=dict(districts),
        modes=dict(modes),
        activities=_activities(people),
        answered=len(answered),
        answers=dict(answers),
        barriers=dict(barriers),
        stopped_at=_stopped_at(people),
        wellbeing=_wellbeing(people),
    )


class _Journey:
    """One journey's marks, oldest first, and each step's marks (a quarter of a
    busy service is hundreds of thousands of marks: each is looked at once)."""

    def __init__(self, marks: list[Mark]) -> None:
        self.marks = marks
        self.steps: dict[str, list[Mark]] = defaultdict(list)
        for mark in marks:
            self.steps[mark.step].append(mark)

    def all(self, step: str) -> list[Mark]:
        return self.steps.get(step, [])

    def first(self, step: str) -> Mark | None:
        found = self.steps.get(step)
        return found[0] if found else None


def _stopped_at(people: list[_Journey]) -> dict[str, int]:
    stopped: Counter[str] = Counter()
    for person in people:
        if person.first("consented") and not person.first("finished"):
            if person.first("under_18"):
                continue  # counted on their own (the journey's "under 18" row)
            reminders = person.all("nudged")
            where = reminders[-1].detail.get("stopped_at") if reminders else None
            stopped[str(where) if where else NOT_KNOWN] += 1
    return dict(stopped)


def _waits(handed: list[_Journey], step: str) -> list[timedelta]:
    waits = []
    for person in handed:
        start, end = person.first("handed_off"), person.first(step)
        if start and end and end.at >= start.at:
            waits.append(end.at - start.at)
    return waits


def _activities(people: list[_Journey]) -> list[Activity]:
    names: dict[str, tuple[str, str]] = {}
    referred: dict[str, set[int]] = defaultdict(set)
    asked: dict[str, set[int]] = defaultdict(set)
    went: dict[str, set[int]] = defaultdict(set)
    for i, person in enumerate(people):
        mine = set()
        for mark in person.marks:
            if mark.step not in _ACTIVITY_STEPS:
                continue
            activity = str(mark.detail.get("activity_id") or "")
            if mark.step == "referred" and activity:
                mine.add(activity)
                referred[activity].add(i)
                names[activity] = (
                    str(mark.detail.get("activity") or activity),
                    str(mark.detail.get("organisation") or ""),
                )
            elif mark.step == "checkin_sent" and activity in mine:
                asked[activity].add(i)
            elif mark.step == "attended" and activity in mine:
                went[activity].add(i)
                asked[activity].add(i)  # they said so at a check-in
    found = [
        Activity(key, *names[key], len(referred[key]), len(asked[key]), len(went[key]))
        for key in referred
    ]
    return sorted(found, key=lambda a: (a.organisation.lower(), a.name.lower(), a.activity_id))


def _wellbeing(people: list[_Journey]) -> dict[str, Paired]:
    pairs: dict[str, list[tuple[int, int]]] = {m: [] for m in MEASURES}
    for person in people:
        scores = [m for m in person.all("wellbeing") if isinstance(m.detail.get("scores"), Mapping)]
        baseline = next((m for m in scores if m.detail.get("context") == "baseline"), None)
        if baseline is None:
            continue
        later = [m for m in scores if m.detail.get("context") == "check_in" and m.at > baseline.at]
        for measure in MEASURES:
            before = baseline.detail["scores"].get(measure)
            answers = [m.detail["scores"].get(measure) for m in later]
            answers = [a for a in answers if a is not None]
            if before is not None and answers:
                pairs[measure].append((int(before), int(answers[-1])))
    return {m: Paired(m, tuple(p)) for m, p in pairs.items()}
