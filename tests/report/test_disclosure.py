"""Small numbers: a count of 1 to 4 is printed "<5", and cannot be worked out from
what else is printed. Each test attacks the output as a reader could: knowing
every printed figure, every sum between them, and the rule itself (a "<5" is 1 to
4, a rounded count is within 2 of what is printed and at least 10, a hidden one is
at least 5), it looks for every value each small count could take."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.report.disclosure import ROUND_FROM, Ledger, Protection, Shown, round5
from bot.report.published import Report

CAP = 60  # no count in these small examples is larger


def reader_bounds(protection: Protection, cap: int) -> dict[str, tuple[int, int]]:
    """What the published rule tells a reader about each count."""
    bounds = {}
    for key, count in protection.counts.items():
        shown = protection.shown[key]
        if shown is Shown.EXACT:
            bounds[key] = (count.value, count.value)
        elif shown is Shown.SMALL:
            bounds[key] = (1, 4)
        elif shown is Shown.ROUNDED:
            r = round5(count.value)
            bounds[key] = (max(ROUND_FROM, r - 2), r + 2)
        elif shown is Shown.HIDDEN:
            bounds[key] = (5, cap)
        else:  # withheld, or never printed
            bounds[key] = (0, cap)
    return bounds


def fits(protection: Protection, cap: int, fixed: dict[str, int]) -> bool:
    """Whether whole numbers exist that fit everything printed, every sum and
    `fixed` (by brute force: try values, filling in each sum with one unknown left)."""
    bounds = reader_bounds(protection, cap)
    sums = [(s.total, s.parts) for s in protection.sums]

    def complete(values: dict[str, int]) -> dict[str, int] | None:
        values = dict(values)
        changed = True
        while changed:
            changed = False
            for total, parts in sums:
                unknown = [k for k in (total, *parts) if k not in values]
                if not unknown:
                    if values[total] != sum(values[p] for p in parts):
                        return None
                elif len(unknown) == 1:
                    (k,) = unknown
                    v = (
                        values[total] - sum(values[p] for p in parts if p != k)
                        if k != total
                        else sum(values[p] for p in parts)
                    )
                    if not bounds[k][0] <= v <= bounds[k][1]:
                        return None
                    values[k] = v
                    changed = True
        return values

    def search(values: dict[str, int]) -> bool:
        done = complete(values)
        if done is None:
            return False
        free = [k for k in protection.counts if k not in done]
        if not free:
            return True
        key = min(free, key=lambda k: bounds[k][1] - bounds[k][0])
        return any(search({**done, key: v}) for v in range(bounds[key][0], bounds[key][1] + 1))

    known = {k: lo for k, (lo, hi) in bounds.items() if lo == hi}
    if any(not bounds[k][0] <= v <= bounds[k][1] for k, v in fixed.items()):
        return False
    return search({**known, **fixed})


def attack(protection: Protection, cap: int = CAP) -> dict[str, set[int]]:
    """Each small count's possible values."""
    return {
        key: {v for v in range(0, 5) if fits(protection, cap, {key: v})}
        for key, count in protection.counts.items()
        if 1 <= count.value <= 4
    }


def assert_safe(protection: Protection, cap: int = CAP) -> None:
    for key, values in attack(protection, cap).items():
        true = protection.counts[key].value
        assert true in values, f"the attack lost the truth for {key}"
        assert len(values) >= 2, f"{key} = {true} can be worked out: {protection.shown}"


def test_small_counts_are_printed_as_under_five_and_zero_as_zero() -> None:
    ledger = Ledger()
    for key, value in (("none", 0), ("one", 1), ("four", 4), ("five", 5)):
        ledger.count(key, value, "t")
    shown = ledger.protect().shown
    assert shown == {
        "none": Shown.EXACT,
        "one": Shown.SMALL,
        "four": Shown.SMALL,
        "five": Shown.EXACT,
    }


def test_subtracting_from_the_total_does_not_give_a_small_district() -> None:
    # 53 people: L20 40, L21 3, no postcode 10. Printed as 53, 40, <5, 10, a reader
    # would subtract: 53 - 40 - 10 = 3. So one more figure must be blurred.
    ledger = Ledger()
    ledger.count("handed_off", 53, "journey", weight=4)
    for key, value in (("L20", 40), ("L21", 3), ("none", 10)):
        ledger.count(key, value, "districts")
    ledger.adds_up("handed_off", ["L20", "L21", "none"])
    protection = ledger.protect()
    assert protection.shown["L21"] is Shown.SMALL
    assert protection.shown["handed_off"] is Shown.EXACT  # the headline is kept
    exact = [k for k in ("L20", "none") if protection.shown[k] is Shown.EXACT]
    assert len(exact) < 2, "53 - 40 - 10 = 3"
    assert protection.shown["L20"] is Shown.EXACT  # the cheaper one is blurred: ≈10
    assert attack(protection)["L21"] == {1, 2, 3}  # 53 - 40 - (10 to 12)
    assert_safe(protection)


def test_two_small_counts_that_add_up_to_their_own_total_are_not_enough() -> None:
    # 1 + 1 + 20 = 22: printed <5, <5, 20, 22, both small counts must be 1.
    ledger = Ledger()
    ledger.count("total", 22, "t")
    for key, value in (("a", 1), ("b", 1), ("c", 20)):
        ledger.count(key, value, "t")
    ledger.adds_up("total", ["a", "b", "c"])
    protection = ledger.protect()
    assert {protection.shown[k] for k in ("c", "total")} != {Shown.EXACT}
    assert_safe(protection)


def test_a_small_drop_between_two_funnel_steps_is_protected() -> None:
    # Started 30, agreed 27, finished 20: 30 - 27 = 3 people did not agree.
    ledger = Ledger()
    steps = (("started", 30), ("agreed", 27), ("finished", 20))
    for key, value in steps:
        ledger.count(key, value, "journey", weight=4)
    for (above, a), (below, b) in itertools.pairwise(steps):
        ledger.count(f"dropped:{below}", a - b, "journey")
        ledger.adds_up(above, [below, f"dropped:{below}"])
    protection = ledger.protect()
    assert protection.shown["dropped:agreed"] is Shown.SMALL
    assert_safe(protection)


def test_an_implied_difference_is_protected_too() -> None:
    # Asked 9, went 8: "9 - 8 = 1 did not go" is never printed, but could be worked out.
    ledger = Ledger()
    ledger.count("asked", 9, "activities")
    ledger.count("went", 8, "activities")
    ledger.count("did_not_go", 1, "activities", printed=False)
    ledger.adds_up("asked", ["went", "did_not_go"])
    protection = ledger.protect()
    assert protection.value("asked") is None or protection.value("went") is None
    assert_safe(protection)


counts = st.integers(min_value=0, max_value=14)


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(counts, min_size=2, max_size=5))
def test_any_breakdown_of_a_total(parts: list[int]) -> None:
    ledger = Ledger()
    ledger.count("total", sum(parts), "t", weight=3)
    keys = [ledger.count(f"p{i}", v, "t") for i, v in enumerate(parts)]
    ledger.adds_up("total", keys)
    assert_safe(ledger.protect())


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=30),
    drops=st.lists(st.integers(min_value=0, max_value=8), min_size=2, max_size=4),
    split=st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=3),
)
def test_any_funnel_with_a_breakdown(start: int, drops: list[int], split: list[int]) -> None:
    """A funnel whose last step is broken down (like the districts of those handed off)."""
    last = sum(split)
    values = [last + sum(drops[i:]) for i in range(len(drops))] + [last]
    values[0] = max(values[0], start)
    ledger = Ledger()
    for i, v in enumerate(values):
        ledger.count(f"c{i}", v, "journey", weight=4)
        if i:
            ledger.count(f"d{i}", values[i - 1] - v, "journey")
            ledger.adds_up(f"c{i - 1}", [f"c{i}", f"d{i}"])
    parts = [ledger.count(f"s{j}", v, "districts") for j, v in enumerate(split)]
    ledger.adds_up(f"c{len(values) - 1}", parts)
    assert_safe(ledger.protect(), cap=max(values) + 6)


def milp_ranges(protection: Protection) -> dict[str, tuple[float, float]]:
    """The narrowest range of each small count that an integer program finds, given
    everything printed and every sum: a stronger attack than the report's own."""
    optimize = pytest.importorskip("scipy.optimize", reason="the strong attack needs scipy")
    import numpy as np

    keys = list(protection.counts)
    index = {k: i for i, k in enumerate(keys)}
    cap = 10 * max(c.value for c in protection.counts.values()) + 10
    low, high = zip(*(reader_bounds(protection, cap)[k] for k in keys), strict=True)
    rows = []
    for s in protection.sums:
        row = np.zeros(len(keys))
        row[index[s.total]] = 1
        for p in s.parts:
            row[index[p]] -= 1
        rows.append(row)
    constraints = optimize.LinearConstraint(np.array(rows), 0, 0) if rows else ()
    bounds = optimize.Bounds(np.array(low, dtype=float), np.array(high, dtype=float))
    integrality = np.ones(len(keys))
    found = {}
    for key, count in protection.counts.items():
        if not 1 <= count.value <= 4:
            continue
        ends = []
        for sign in (1, -1):
            c = np.zeros(len(keys))
            c[index[key]] = sign
            result = optimize.milp(
                c, constraints=constraints, bounds=bounds, integrality=integrality
            )
            assert result.success, result.message
            ends.append(sign * result.fun)
        found[key] = (ends[0], ends[1])
    return found


def assert_report_safe(report: Report) -> int:
    checked = 0
    for name, protection in report.protections.items():
        for key, (low, high) in milp_ranges(protection).items():
            checked += 1
            assert high - low >= 1, f"{name}: {key} is pinned to {low}"
    return checked


def test_no_small_count_in_the_hand_report_can_be_worked_out(report: Report) -> None:
    assert assert_report_safe(report) > 20


def test_no_small_count_in_the_demo_report_can_be_worked_out(demo_report: Report) -> None:
    assert assert_report_safe(demo_report) > 10


def test_the_printed_figures_follow_the_protection(report: Report) -> None:
    texts = {f.text for f in report.figures}
    for protection in report.protections.values():
        for key, shown in protection.shown.items():
            count = protection.counts[key]
            if shown is Shown.SMALL:
                assert 1 <= count.value <= 4
            if shown in (Shown.ROUNDED, Shown.HIDDEN):
                assert count.value >= 5
    assert not any(t in {"1", "2", "3", "4"} for t in texts)


def test_a_table_that_cannot_be_protected_is_withheld() -> None:
    # Four people, one in each of four rows: "<5" everywhere still says 1 each.
    ledger = Ledger()
    ledger.count("total", 4, "modes")
    ledger.adds_up("total", [ledger.count(f"m{i}", 1, "modes") for i in range(4)])
    protection = ledger.protect()
    assert set(protection.shown.values()) == {Shown.WITHHELD}
    assert_safe(protection)


@pytest.mark.parametrize("share", [0.05, 0.2])
def test_no_small_count_can_be_worked_out_with_fewer_people(share: float) -> None:
    """The demo thinned out at random, so that most counts are small."""
    import random
    from zoneinfo import ZoneInfo

    from bot.report.demo import DEMO_FROM, DEMO_TO, demo_milestones
    from bot.report.figures import cohort, compute
    from bot.report.periods import choose_period
    from bot.report.published import publish
    from tests.report import hand

    marks = demo_milestones(seed=7)
    journeys = sorted({m.journey for m in marks})
    keep = set(random.Random(int(share * 100)).sample(journeys, int(len(journeys) * share)))
    marks = [m for m in marks if m.journey in keep]
    quarter = choose_period(DEMO_FROM, DEMO_TO, today=hand.AS_OF.date())
    zone = ZoneInfo("Europe/London")
    now = compute(marks, cohort(marks, *quarter.bounds(zone)), hand.AS_OF)
    before = compute(marks, cohort(marks, *quarter.previous().bounds(zone)), hand.AS_OF)
    report = publish(
        now,
        before,
        period=quarter,
        previous_period=quarter.previous(),
        as_of=hand.AS_OF,
        organisation="Sefton",
    )
    assert assert_report_safe(report) > 5
