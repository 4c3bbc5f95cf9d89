"""A small dataset written out by hand: twelve journeys that start in July 2026
(the period), two in June (the previous period) and one in August (neither), with
the right answers worked out by hand in tests/report/test_figures.py.

    j01-j08  consent, finish the conversation and are handed to a link worker
    j09      finishes but does not want a link worker
    j10      consents, then stops
    j11      says no at consent
    j12      is under 18
    j01-j07  are picked up (j08 is still waiting); j07 cannot be contacted
    j01-j06  are referred: j01-j03 to walking football, j04-j05 to the art
             class, j06 to debt advice; all are asked at a check-in a week later
    j01-j04  say they went (j03: "it's not for me"); j05 has not been yet
             (nerves, twice); j06 has not been yet (getting there), then stops
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store.milestones import Milestone

PERIOD = ("2026-07-01", "2026-08-01")  # July; the previous period is June
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
MONDAY = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)


def token(n: int) -> str:
    """A journey token that is easy to look for in the output."""
    return f"j{n:02d}f00dfacecafe0"


def ref(n: int) -> str:
    return f"SP-H{n:02d}Q"


WALK = {"activity_id": "walk", "activity": "Walking Football", "organisation": "Bootle CST"}
ART = {"activity_id": "art", "activity": "Art for Wellbeing", "organisation": "Crosby Arts"}
DEBT = {"activity_id": "debt", "activity": "Debt Advice", "organisation": "Sefton Money Advice"}

#: Who was reached, as each person's handoff says.
HANDOFFS = {
    1: (["loneliness", "mood"], "L20", "in_person"),
    2: (["loneliness", "mood"], "L20", "in_person"),
    3: (["loneliness", "mood"], "L20", "in_person"),
    4: (["loneliness"], "L20", "in_person"),
    5: (["loneliness"], "l20", "in_person"),  # typed in lower case
    6: (["loneliness", "money"], "L21", "online"),
    7: (["money"], "L21", "online"),
    8: (["housing"], None, "phone"),
}
#: Hours from handoff to the first claim, and to a link worker's first reply.
CLAIM_HOURS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 30}
CONTACT_HOURS = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 50}
REFERRALS = {1: WALK, 2: WALK, 3: WALK, 4: ART, 5: ART, 6: DEBT}
#: ONS4 at referral and at the 12-week check-in (None: skipped).
BASELINE = {
    1: {"life_satisfaction": 3, "worthwhile": 5, "happiness": 5, "anxiety": 7},
    2: {"life_satisfaction": 4, "worthwhile": 5, "happiness": 5, "anxiety": 6},
    3: {"life_satisfaction": 5, "worthwhile": 6, "happiness": 5, "anxiety": 8},
    4: {"life_satisfaction": 2, "worthwhile": 7, "happiness": 5, "anxiety": 5},
    5: {"life_satisfaction": 6, "worthwhile": 4, "happiness": 5, "anxiety": 6},
    6: {"life_satisfaction": 4, "worthwhile": None, "happiness": 5, "anxiety": 7},
    7: {"life_satisfaction": 1, "worthwhile": 1, "happiness": 1, "anxiety": 9},
    8: {"life_satisfaction": 2, "worthwhile": 2, "happiness": 2, "anxiety": 8},
    9: {"life_satisfaction": 8, "worthwhile": 8, "happiness": 8, "anxiety": 1},
}
FOLLOW_UP = {
    1: {"life_satisfaction": 5, "worthwhile": 6, "happiness": 6, "anxiety": 5},
    2: {"life_satisfaction": 6, "worthwhile": 7, "happiness": 6, "anxiety": 6},
    3: {"life_satisfaction": 5, "worthwhile": 6, "happiness": 6, "anxiety": 6},
    4: {"life_satisfaction": 4, "worthwhile": 7, "happiness": 6, "anxiety": 4},
    5: {"life_satisfaction": 7, "worthwhile": 6, "happiness": None, "anxiety": 3},
    6: {"life_satisfaction": 4, "worthwhile": 8, "happiness": None, "anxiety": 7},
}


def milestones() -> list[Milestone]:
    made: list[Milestone] = []

    def mark(
        n: int | str, step: str, at: datetime, reference: str | None = None, **detail: Any
    ) -> None:
        journey = token(n) if isinstance(n, int) else n
        made.append(
            Milestone(at=at, journey=journey, step=step, reference=reference, detail=detail)
        )

    for n in range(1, 13):
        start = MONDAY + timedelta(hours=n)
        mark(n, "started", start)
        if n == 11:
            mark(n, "declined", start + timedelta(minutes=1))
            continue
        mark(n, "consented", start + timedelta(minutes=1))
        if n == 12:
            mark(n, "under_18", start + timedelta(minutes=2))
            continue
        if n == 10:  # stopped at the postcode question, and was reminded there a day later
            mark(n, "nudged", start + timedelta(days=1), stopped_at="postcode")
            continue
        done = start + timedelta(minutes=20)
        mark(n, "finished", done)
        mark(n, "wellbeing", done, context="baseline", scores=BASELINE[n])
        if n == 9:
            continue
        needs, district, mode = HANDOFFS[n]
        mark(n, "handed_off", done, ref(n), need_areas=needs, district=district, mode=mode)
        if n in CLAIM_HOURS:
            mark(n, "claimed", done + timedelta(hours=CLAIM_HOURS[n]), ref(n))
        if n in CONTACT_HOURS:
            mark(n, "first_contact", done + timedelta(hours=CONTACT_HOURS[n]), ref(n))
        if n == 7:
            mark(n, "closed", done + timedelta(days=6), ref(n), outcome="could_not_contact")
        if n not in REFERRALS:
            continue
        referred = done + timedelta(days=3)
        activity = REFERRALS[n]
        mark(n, "referred", referred, ref(n), **activity)
        week1, week4, week12 = (referred + timedelta(weeks=w) for w in (1, 4, 12))
        for sent, weeks in ((week1, 1), (week4, 4), (week12, 12)):
            mark(n, "checkin_sent", sent, activity_id=activity["activity_id"], weeks=weeks)
        answer1 = {
            1: "attended",
            2: "attended",
            3: "not_for_them",
            4: "attended",
            5: "not_yet",
            6: "not_yet",
        }[n]
        barrier = {5: {"barrier": "nerves"}, 6: {"barrier": "getting_there"}}.get(n, {})
        mark(n, "checkin_answered", week1 + timedelta(hours=2), went=answer1, **activity, **barrier)
        if n <= 4:
            mark(n, "attended", week1 + timedelta(hours=2), **activity)
            mark(n, "closed", week4 + timedelta(days=1), ref(n), outcome="referred_to_activity")
        if n == 1:  # a check-in at four weeks with scores, later replaced by the 12-week one
            mark(n, "checkin_answered", week4 + timedelta(hours=1), went="attended", **activity)
            mark(
                n,
                "wellbeing",
                week4 + timedelta(hours=1),
                context="check_in",
                scores={"life_satisfaction": 9, "worthwhile": 9, "happiness": 9, "anxiety": 0},
            )
        if n == 5:
            mark(
                n,
                "checkin_answered",
                week4 + timedelta(hours=1),
                went="not_yet",
                **activity,
                barrier="nerves",
            )
        if n == 6:
            mark(n, "checkin_answered", week4 + timedelta(hours=1), went="stopped", **activity)
            mark(n, "checkins_stopped", week4 + timedelta(hours=1))
            mark(n, "closed", week4 + timedelta(days=2), ref(n), outcome="declined")
        mark(n, "wellbeing", week12 + timedelta(hours=3), context="check_in", scores=FOLLOW_UP[n])

    # After the report is made: not counted (j02 stops check-ins in December).
    mark(2, "checkin_answered", datetime(2026, 12, 10, tzinfo=UTC), went="stopped", **WALK)

    # The previous period (June): one handed off and picked up after 10 hours, one declined.
    june = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    mark("p01june", "started", june)
    mark("p01june", "consented", june + timedelta(minutes=1))
    mark("p01june", "finished", june + timedelta(minutes=15))
    mark(
        "p01june",
        "handed_off",
        june + timedelta(minutes=15),
        "SP-PREV",
        need_areas=["mood"],
        district="L20",
        mode="any",
    )
    mark("p01june", "claimed", june + timedelta(hours=10, minutes=15), "SP-PREV")
    mark("p02june", "started", june + timedelta(hours=1))
    mark("p02june", "declined", june + timedelta(hours=1, minutes=1))
    # August: in neither period.
    mark("x01august", "started", datetime(2026, 8, 3, 10, 0, tzinfo=UTC))
    return sorted(made, key=lambda m: m.at)
