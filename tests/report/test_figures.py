"""The report's figures for the hand-written dataset (tests/report/hand.py), each
worked out by hand in the comments beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.report.figures import Figures
from bot.report.published import Report
from bot.report.stats import mean_with_interval, median, percentile_90


def hours(waits: list[timedelta]) -> list[float]:
    return sorted(w.total_seconds() / 3600 for w in waits)


def test_the_cohort_is_who_started_in_the_period(july: Figures, june: Figures) -> None:
    # July: j01-j12 (p01/p02 started in June, x01 in August).
    assert july.started == 12
    # June: p01 and p02.
    assert june.started == 2
    assert june.reached["handed_off"] == 1


def test_the_funnel_counts_everyone_who_got_at_least_that_far(july: Figures) -> None:
    assert july.reached == {
        "started": 12,  # j01-j12
        "consented": 11,  # all but j11 (said no)
        "finished": 9,  # j01-j09 (j10 stopped, j12 was under 18)
        "handed_off": 8,  # j01-j08 (j09 wanted no link worker)
        "claimed": 7,  # j01-j07 (j08 still waiting)
        "referred": 6,  # j01-j06 (j07 could not be contacted)
        "checkin_sent": 6,  # j01-j06, a week after referral
        "attended": 4,  # j01-j04 (j03 went but it was not for them)
    }
    assert (july.declined, july.under_18) == (1, 1)  # j11, j12
    # Closed: j01-j04 referred to an activity, j06 declined, j07 could not be contacted.
    assert july.closed == 6
    assert {k: v for k, v in july.outcomes.items() if v} == {
        "referred_to_activity": 4,
        "declined": 1,
        "could_not_contact": 1,
    }


def test_where_those_who_did_not_finish_stopped(july: Figures) -> None:
    # j10 agreed and stopped at the postcode (as their reminder says); j12 was under
    # 18 (a row of its own) and j11 said no, so neither is counted here.
    assert july.stopped_at == {"postcode": 1}


def test_where_someone_stopped_is_the_last_reminder_or_not_known_yet() -> None:
    from datetime import UTC, datetime

    from bot.report.figures import compute
    from bot.store.milestones import Milestone

    day = datetime(2026, 7, 1, tzinfo=UTC)
    marks = [
        Milestone(at=day + timedelta(hours=h), journey=j, step=s, reference=None, detail=d)
        for h, j, s, d in [
            (0, "a", "started", {}), (0, "a", "consented", {}),
            (24, "a", "nudged", {"stopped_at": "postcode"}),
            (0, "b", "started", {}), (0, "b", "consented", {}),  # stopped, not reminded yet
            (0, "c", "started", {}), (0, "c", "consented", {}), (1, "c", "finished", {}),
        ]
    ]  # fmt: skip
    figures = compute(marks, {"a", "b", "c"}, day + timedelta(days=30))
    assert figures.stopped_at == {"postcode": 1, "not_known": 1}


def test_waits_from_handoff(july: Figures) -> None:
    # To a claim: 1, 2, 3, 4, 5, 6 and 30 hours. The median is the 4th of 7: 4 hours.
    # The 90th percentile is the ceil(0.9 x 7) = 7th smallest: 30 hours.
    claims = hours(july.to_claim)
    assert claims == [1, 2, 3, 4, 5, 6, 30]
    assert (median(claims), percentile_90(claims)) == (4, 30)
    # To a first reply: 2, 3, 4, 5, 6, 50 hours. Median (4 + 5) / 2 = 4.5 hours;
    # the 90th percentile is the ceil(0.9 x 6) = 6th: 50 hours (2.1 days).
    contacts = hours(july.to_contact)
    assert contacts == [2, 3, 4, 5, 6, 50]
    assert (median(contacts), percentile_90(contacts)) == (4.5, 50)


def test_who_was_reached(july: Figures) -> None:
    # Of the 8 handed off: loneliness j01-j06, mood j01-j03, money j06-j07, housing j08.
    assert july.need_areas == {"loneliness": 6, "mood": 3, "money": 2, "housing": 1}
    # j05 typed "l20": the same district as L20. j08 gave no postcode.
    assert july.districts == {"L20": 5, "L21": 2, "not_given": 1}
    assert {k: v for k, v in july.modes.items() if v} == {"in_person": 5, "online": 2, "phone": 1}


def test_activities_attendance_and_reasons(july: Figures) -> None:
    rows = {a.activity_id: (a.referred, a.asked, a.went) for a in july.activities}
    # Walking football: j01-j03, all went (j03: not for them, but went).
    # Art: j04 went, j05 had not yet. Debt advice: j06 had not yet, then stopped.
    assert rows == {"walk": (3, 3, 3), "art": (2, 2, 1), "debt": (1, 1, 0)}
    # Latest answers: j01 (4 weeks), j02 (the December "stopped" is after the report),
    # j04 went; j03 not for them; j05 not yet; j06 stopped.
    assert july.answered == 6
    assert {k: v for k, v in july.answers.items() if v} == {
        "attended": 3,
        "not_for_them": 1,
        "not_yet": 1,
        "stopped": 1,
    }
    # j05 said "nerves" twice: one person.
    assert {k: v for k, v in july.barriers.items() if v} == {"nerves": 1, "getting_there": 1}


def test_wellbeing_pairs_use_each_persons_latest_follow_up(july: Figures) -> None:
    # j01's 4-week scores (9, 9, 9, 0) are replaced by the 12-week ones.
    life = july.wellbeing["life_satisfaction"]
    assert life.pairs == ((3, 5), (4, 6), (5, 5), (2, 4), (6, 7), (4, 4))
    # j06 skipped "worthwhile" at referral; j05 and j06 skipped "happiness" later.
    assert len(july.wellbeing["worthwhile"].pairs) == 5
    assert len(july.wellbeing["happiness"].pairs) == 4


def test_life_satisfaction_change_and_interval_by_hand(july: Figures) -> None:
    # Changes: 2, 2, 0, 2, 1, 0. Mean 7/6 = 1.1667.
    # Squared deviations: 3 x 0.8333^2 + 2 x 1.1667^2 + 0.1667^2 = 4.8333; / 5 = 0.96667,
    # sd 0.98319; se = 0.98319 / sqrt(6) = 0.40139; t(5, 0.975) = 2.5706;
    # half-width 1.03181: 95% CI 0.1349 to 2.1985.
    interval = mean_with_interval(july.wellbeing["life_satisfaction"].changes)
    assert interval.mean == pytest.approx(1.16667, abs=1e-4)
    assert (interval.low, interval.high) == (
        pytest.approx(0.13486, abs=1e-4),
        pytest.approx(2.19848, abs=1e-4),
    )
    # Bands: 3 low -> 5 medium, 4 low -> 6 medium, 6 medium -> 7 high: better.
    # 5 -> 5, 2 low -> 4 low, 4 -> 4: the same band. Nobody worse.
    assert july.wellbeing["life_satisfaction"].moved() == {"better": 3, "same": 3, "worse": 0}


def test_anxiety_lower_is_better(july: Figures) -> None:
    # Changes: -2, 0, -2, -1, -3, 0. Mean -8/6 = -1.3333.
    # Squared deviations sum to 7.3333; / 5 = 1.46667, sd 1.21106, se 0.49441;
    # half-width 2.5706 x 0.49441 = 1.27093: CI -2.6043 to -0.0624.
    interval = mean_with_interval(july.wellbeing["anxiety"].changes)
    assert interval.mean == pytest.approx(-1.33333, abs=1e-4)
    assert interval.low == pytest.approx(-2.60426, abs=1e-4)
    assert interval.high == pytest.approx(-0.06240, abs=1e-4)
    # 7 high -> 5 medium and 6 high -> 3 low are better (lower); 6 -> 6, 8 -> 6 (high),
    # 5 -> 4 (medium) and 7 -> 7 stay in their band.
    assert july.wellbeing["anxiety"].moved() == {"better": 2, "same": 4, "worse": 0}


def published(report: Report, section: str, measure: str, group: str) -> str:
    found = [
        f for f in report.figures if (f.section, f.measure, f.group) == (section, measure, group)
    ]
    assert len(found) == 1, (section, measure, group)
    return found[0].text


def test_the_published_averages_waits_and_intervals(report: Report) -> None:
    well = "Wellbeing (ONS4)"
    assert published(report, well, "average change", "Life satisfaction") == "+1.2"
    assert (
        published(report, well, "95% confidence interval of the change", "Life satisfaction")
        == "+0.1 to +2.2"
    )
    # Worthwhile (5 people): changes 1, 2, 0, 0, 2; mean 1.0; sd 1; se 1/sqrt(5) = 0.44721;
    # t(4) = 2.7764: half-width 1.2416, CI -0.2 to +2.2.
    worthwhile = "Feeling the things they do are worthwhile"
    assert published(report, well, "average change", worthwhile) == "+1.0"
    assert (
        published(report, well, "95% confidence interval of the change", worthwhile)
        == "−0.2 to +2.2"
    )
    anxiety = "Anxiety yesterday (lower is better)"
    assert published(report, well, "average change", anxiety) == "−1.3"
    assert published(report, well, "average before", anxiety) == "6.5"  # 39 / 6
    assert published(report, well, "average at the latest check-in", anxiety) == "5.2"  # 31 / 6
    # Happiness: 4 people, too few for an average.
    assert published(report, well, "average change", "Happiness yesterday") == "too few to show"

    speed = "How quickly people heard from a link worker"
    claim, contact = (
        "From handoff to being picked up",
        "From handoff to a link worker's first message",
    )
    assert published(report, speed, "median", claim) == "4 hours"
    assert published(report, speed, "90th percentile", claim) == "30 hours"
    assert published(report, speed, "median", contact) == "4.5 hours"
    assert published(report, speed, "90th percentile", contact) == "2.1 days"
    # June: one person picked up, after 10 hours: too few for a median.
    assert published(report, speed, "median, previous period", claim) == "too few to show"


def test_the_published_counts_say_less_than_five_for_small_ones(report: Report) -> None:
    journey = "The journey"
    assert published(report, journey, "people", "Said they went") == "<5"  # 4
    assert published(report, journey, "people", "Said no at the start") == "<5"  # 1
    assert published(report, journey, "people, previous period", "Started a conversation") == "<5"
    reached = "Who was reached"
    assert published(report, reached, "people", "Feeling lonely") == "6"
    assert published(report, reached, "people", "Housing") == "<5"
    assert published(report, reached, "people", "Caring for someone") == "0"


def test_where_people_stopped_is_withheld_when_it_would_blur_the_journey(
    report: Report,
) -> None:
    # Two did not finish (11 agreed, 9 finished): j12, under 18, and j10, who stopped at
    # the postcode. A row "<5" for j10 would pin "under 18" to exactly 1, so the table
    # is not shown, and the journey keeps its exact figures.
    assert report.stopped.withheld and not report.stopped.rows
    journey = "The journey"
    assert published(report, journey, "people", "Started a conversation") == "12"


def test_the_report_shows_where_people_stopped(demo_report: Report) -> None:
    from bot.report.demo import STOPPED_AT
    from bot.report.published import labels

    assert not demo_report.stopped.withheld
    shown = [row.label for row in demo_report.stopped.rows]
    names = labels()["stopped_at"]
    # The questions people stopped at in the made-up data (a reminder each, for about
    # half of them), in the conversation's order, then those not reminded yet.
    order = {names[k]: i for i, k in enumerate(names)}
    questions = shown[:-1]
    assert len(questions) >= 5
    assert {label for label in questions} <= {names[k] for k in STOPPED_AT}
    assert [order[label] for label in questions] == sorted(order[label] for label in questions)
    assert shown[-1] == names["not_known"]
    counts = [row.cells[0].text for row in demo_report.stopped.rows if row.cells[0]]
    assert all(text == "<5" or text.isdigit() or text.startswith("≈") for text in counts)
