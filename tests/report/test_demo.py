"""The demo's made-up milestones: the same every time, realistic, and made only
of what the services record."""

from __future__ import annotations

from collections import Counter

from bot.report.demo import DATA_END, demo_milestones
from bot.store.milestones import STEPS


def test_the_demo_is_the_same_every_time() -> None:
    first, second = demo_milestones(), demo_milestones()
    assert [(m.at, m.journey, m.step, m.detail) for m in first] == [
        (m.at, m.journey, m.step, m.detail) for m in second
    ]
    assert demo_milestones(seed=1)[0].journey != first[0].journey


def test_the_demo_looks_like_a_service() -> None:
    marks = demo_milestones()
    steps = Counter(m.step for m in marks)
    assert set(steps) <= set(STEPS)
    assert all(m.at < DATA_END for m in marks)
    # Fewer at each step of the funnel, as in life.
    funnel = [steps[s] for s in ("started", "consented", "finished", "handed_off", "claimed")]
    assert funnel == sorted(funnel, reverse=True) and funnel[0] > 500
    # Every handoff, referral and closing carries a case reference; nothing else names anyone.
    for m in marks:
        if m.step in ("handed_off", "claimed", "referred", "closed"):
            assert m.reference and m.reference.startswith("SP-")
