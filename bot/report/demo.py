"""Made-up milestones for `make report-demo`: two quarters of self-referrals in
Sefton (April to September 2026, followed up to the end of November), drawn from
a seeded random generator, so the demo report is the same every time.

    python -m bot.report.demo seed                 # into DATABASE_URL
    python -m bot.report.demo screenshot IN.html OUT.png

Nobody in it is real: journeys are random tokens and activities come from the
fictional sample directory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.store.milestones import Milestone

#: The demo's quarters: report on July to September, compared with April to June.
FIRST_DAY = datetime(2026, 4, 1, tzinfo=UTC)
LAST_DAY = datetime(2026, 10, 1, tzinfo=UTC)
#: Nothing happens after this (follow-ups stop here), so the demo never changes.
DATA_END = datetime(2026, 12, 1, tzinfo=UTC)
DEMO_FROM, DEMO_TO = "2026-07-01", "2026-10-01"

#: (id, name, organisation, the need areas it helps with, how popular)
ACTIVITIES = (
    (
        "walking-football",
        "Walking Football at North Park",
        "Bootle Community Sport Trust",
        ("activity", "loneliness"),
        9,
    ),
    (
        "chair-exercise",
        "Chair-Based Exercise, Bootle",
        "Bootle Community Sport Trust",
        ("activity", "long_term_condition"),
        4,
    ),
    (
        "befriending-calls",
        "Befriending Phone Calls",
        "Sefton Befriending Network",
        ("loneliness",),
        10,
    ),
    ("art-class", "Art for Wellbeing Class", "Crosby Arts Collective", ("mood", "loneliness"), 7),
    ("knit-natter", "Knit and Natter", "Litherland Community Centre", ("loneliness",), 6),
    (
        "coffee-morning",
        "Friday Coffee Morning",
        "Litherland Community Centre",
        ("loneliness", "confidence"),
        3,
    ),
    (
        "community-garden",
        "Derby Park Community Garden",
        "Green Sefton Growers",
        ("activity", "mood"),
        6,
    ),
    ("mens-shed", "Maghull Men's Shed", "Sefton Sheds", ("loneliness", "confidence"), 6),
    ("debt-advice", "Debt and Benefits Advice, Bootle", "Sefton Money Advice", ("money",), 12),
    ("housing-advice", "Housing Advice Drop-in", "Sefton Housing Advice Centre", ("housing",), 7),
    ("carers-coffee", "Carers' Coffee Group, Waterloo", "Sefton Carers Hub", ("caring",), 6),
    ("job-club", "Job Club, Netherton", "Work Ready Sefton", ("work",), 5),
    ("stop-smoking", "Stop Smoking Clinic", "Smokefree Sefton", ("alcohol_smoking",), 3),
    ("mindfulness", "Mindfulness for Stress, Online", "Mindful Merseyside", ("mood",), 11),
    (
        "anxiety-group",
        "Anxiety Support Group, Crosby",
        "Mindful Merseyside",
        ("mood", "confidence"),
        6,
    ),
    ("health-walk", "Seafront Health Walk", "Southport Health Walks", ("activity",), 5),
    ("choir", "Singing for Wellbeing, Formby", "Formby Community Choir", ("mood",), 2),
    (
        "pain-course",
        "Living Well with Pain Course",
        "Sefton Living Well",
        ("long_term_condition",),
        4,
    ),
    ("drinking", "Cutting Down Drinking", "Sefton Recovery Support", ("alcohol_smoking",), 2),
)
NEEDS = {
    "loneliness": 34,
    "mood": 38,
    "activity": 18,
    "long_term_condition": 15,
    "money": 20,
    "housing": 9,
    "work": 8,
    "caring": 7,
    "alcohol_smoking": 5,
    "confidence": 16,
}
DISTRICTS = {
    "L20": 26,
    "L21": 14,
    "L30": 16,
    "L22": 9,
    "L23": 10,
    "L31": 8,
    "PR8": 12,
    "PR9": 10,
    "L37": 6,
    "L29": 2,
    "L38": 1,
    "L10": 1,
    "L9": 1,
}
MODES = {"in_person": 50, "online": 14, "phone": 16, "any": 20}
#: Where those who stopped part way were when reminded (conversation states).
STOPPED_AT = {"what_matters": 3, "need_areas": 2, "postcode": 2, "mode": 1, "free_times": 2,
              "suggestions": 3, "contact_wanted": 1, "phone": 2}  # fmt: skip
BARRIERS = {"getting_there": 25, "nerves": 26, "time": 18, "cost": 9, "health": 16, "other": 6}
#: ONS4: (mean at referral, spread, mean change by the 12-week check-in, its spread)
ONS = {
    "life_satisfaction": (4.4, 1.9, 1.3, 1.8),
    "worthwhile": (5.1, 2.0, 0.9, 1.7),
    "happiness": (4.7, 2.1, 1.1, 2.0),
    "anxiety": (6.2, 2.1, -1.4, 2.1),
}
_REF = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def demo_milestones(seed: int = 2026) -> list[Milestone]:
    """About 480 journeys from April to September 2026, and what became of them."""
    rng = random.Random(seed)
    made: list[Milestone] = []
    day = FIRST_DAY
    while day < LAST_DAY:
        # Busier after the spring: the bot was promoted in GP surgeries in July.
        rate = 4.4 if day.month >= 7 else 3.5
        for _ in range(_poisson(rng, rate * (0.6 if day.weekday() >= 5 else 1.1))):
            at = day + timedelta(minutes=rng.randint(7 * 60, 23 * 60))
            made.extend(_Journey(rng, at).marks)
        day += timedelta(days=1)
    return sorted((m for m in made if m.at < DATA_END), key=lambda m: m.at)


class _Journey:
    def __init__(self, rng: random.Random, started: datetime) -> None:
        self.rng = rng
        self.token = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        self.reference: str | None = None
        self.marks: list[Milestone] = []
        self.live(started)

    def mark(self, step: str, at: datetime, **detail: Any) -> None:
        self.marks.append(
            Milestone(at=at, journey=self.token, step=step, reference=self.reference, detail=detail)
        )

    def live(self, at: datetime) -> None:
        rng = self.rng
        self.mark("started", at)
        at += timedelta(minutes=rng.randint(1, 5))
        if rng.random() < 0.09:
            self.mark("declined", at)
            return
        if rng.random() < 0.05:
            return  # left before answering
        self.mark("consented", at)
        if rng.random() < 0.03:
            self.mark("under_18", at + timedelta(minutes=1))
            return
        if rng.random() < 0.14:
            if rng.random() < 0.5:
                # Its own generator, so the rest of the made-up data stays as it was.
                pick = random.Random(self.token)
                where = pick.choices(list(STOPPED_AT), weights=list(STOPPED_AT.values()))[0]
                self.mark("nudged", at + timedelta(days=1), stopped_at=where)
            return  # stopped part way
        at += timedelta(minutes=rng.randint(6, 25))
        self.mark("finished", at)
        baseline = {m: self.score(mean, spread) for m, (mean, spread, _, _) in ONS.items()}
        self.mark("wellbeing", at, context="baseline", scores=baseline)
        if rng.random() < 0.1:
            return  # did not want a link worker to contact them
        self.reference = "SP-" + "".join(rng.choice(_REF) for _ in range(4))
        needs = self.pick(NEEDS, rng.choice((1, 1, 2, 2, 2, 3)))
        district = self.pick(DISTRICTS, 1)[0] if rng.random() > 0.08 else None
        mode = self.pick(MODES, 1)[0] if rng.random() > 0.05 else None
        self.mark("handed_off", at, need_areas=needs, district=district, mode=mode)
        if rng.random() < 0.03:
            return  # still waiting
        claimed = _working(at + timedelta(hours=rng.lognormvariate(1.3, 0.9)))
        self.mark("claimed", claimed)
        contact = _working(claimed + timedelta(hours=rng.lognormvariate(0.6, 1.2)))
        if rng.random() < 0.08:
            self.close(contact + timedelta(days=rng.randint(5, 12)), "could_not_contact")
            return
        self.mark("first_contact", contact)
        if rng.random() < 0.24:
            outcome = rng.choice(("signposted", "signposted", "declined", "not_eligible", "other"))
            self.close(contact + timedelta(days=rng.randint(2, 20)), outcome)
            return
        self.refer(_working(contact + timedelta(days=rng.uniform(1, 12))), needs, baseline)

    def refer(self, at: datetime, needs: list[str], baseline: dict[str, int | None]) -> None:
        rng = self.rng
        fitting = [a for a in ACTIVITIES if set(a[3]) & set(needs)] or list(ACTIVITIES)
        chosen = rng.choices(fitting, weights=[a[4] for a in fitting])[0]
        activity = {"activity_id": chosen[0], "activity": chosen[1], "organisation": chosen[2]}
        self.mark("referred", at, **activity)
        went = False
        keen = rng.random()
        for weeks in (1, 4, 12):
            sent = at + timedelta(weeks=weeks, hours=rng.uniform(0, 4))
            self.mark("checkin_sent", sent, activity_id=chosen[0], weeks=weeks)
            if rng.random() < 0.22:
                self.mark("checkin_unanswered", sent + timedelta(days=3), activity_id=chosen[0])
                continue
            answered = sent + timedelta(hours=rng.uniform(0.2, 30))
            answer = self.answer(weeks, went, keen)
            detail: dict[str, Any] = {"went": answer, **activity}
            if answer == "not_yet":
                detail["barrier"] = self.pick(BARRIERS, 1)[0]
            self.mark("checkin_answered", answered, **detail)
            if answer in ("attended", "not_for_them") and not went:
                went = True
                self.mark("attended", answered, **activity)
            if weeks == 12 and answer not in ("paused", "stopped"):
                later = {m: self.follow_up(m, baseline[m], went) for m in ONS}
                self.mark("wellbeing", answered, context="check_in", scores=later)
            if answer in ("paused", "stopped"):
                self.mark("checkins_" + answer, answered)
                break
            if weeks == 4:
                self.close(answered + timedelta(days=rng.randint(1, 10)), "referred_to_activity")

    def answer(self, weeks: int, went: bool, keen: float) -> str:
        rng = self.rng
        if went:
            return "attended" if rng.random() < 0.9 else rng.choice(("not_for_them", "stopped"))
        chance = 0.35 + 0.45 * keen + (0.1 if weeks > 1 else 0)
        roll = rng.random()
        if roll < chance:
            return "attended" if rng.random() < 0.82 else "not_for_them"
        return rng.choices(("not_yet", "talk", "paused", "stopped"), weights=(70, 12, 9, 9))[0]

    def close(self, at: datetime, outcome: str) -> None:
        self.mark("closed", at, outcome=outcome)

    def score(self, mean: float, spread: float) -> int | None:
        if self.rng.random() < 0.04:
            return None  # skipped
        return max(0, min(10, round(self.rng.gauss(mean, spread))))

    def follow_up(self, measure: str, before: int | None, went: bool) -> int | None:
        _, spread, change, change_spread = ONS[measure]
        start = before if before is not None else self.score(ONS[measure][0], spread)
        if start is None or self.rng.random() < 0.04:
            return None
        shift = change * (1.0 if went else 0.4)
        return max(0, min(10, round(start + self.rng.gauss(shift, change_spread))))

    def pick(self, weights: dict[str, int], k: int) -> list[str]:
        chosen: list[str] = []
        while len(chosen) < k:
            (choice,) = self.rng.choices(list(weights), weights=list(weights.values()))
            if choice not in chosen:
                chosen.append(choice)
        return chosen


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def _working(at: datetime) -> datetime:
    """Link workers work Monday to Friday, 9 to 5 (UTC, near enough for a demo)."""
    while at.weekday() >= 5 or not 9 <= at.hour < 17:
        if at.hour >= 17 or at.weekday() >= 5:
            at = (at + timedelta(days=1)).replace(hour=9, minute=at.minute)
        else:
            at = at.replace(hour=9)
    return at


async def seed(database_url: str) -> int:
    """Put the demo's milestones into an empty, migrated database."""
    from bot.store import Database
    from bot.store.milestones import record

    marks = demo_milestones()
    db = Database(database_url)
    try:
        await db.upgrade()
        async with db.transaction() as session:
            for m in marks:
                await record(session, m.journey, m.step, m.at, reference=m.reference, **m.detail)
    finally:
        await db.close()
    return len(marks)


def main(argv: Sequence[str] | None = None) -> int:
    from bot.config import load_settings
    from bot.report.screenshot import ScreenshotError, screenshot

    parser = argparse.ArgumentParser(prog="python -m bot.report.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="put the demo milestones into DATABASE_URL")
    shot = commands.add_parser("screenshot", help="a headless Chromium screenshot of a report")
    shot.add_argument("html", type=Path)
    shot.add_argument("png", type=Path)
    args = parser.parse_args(argv)
    if args.command == "seed":
        count = asyncio.run(seed(load_settings().database_url))
        print(f"Seeded {count:,} made-up milestones (April to September 2026).")
        return 0
    try:
        screenshot(args.html, args.png)
    except ScreenshotError as exc:
        print(f"spbot: {exc}", file=sys.stderr)
        return 1
    print(f"Screenshot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
