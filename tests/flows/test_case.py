"""The life of a case: who may do what, in which state, and what it becomes."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from transitions import Machine

from flows import case
from flows.case import Actor, decide
from flows.core import bind_triggers
from flows.wellbeing import band

SAM, JO = Actor(1), Actor(2)
ADMIN = Actor(9, "admin")


def test_the_happy_life_of_a_case() -> None:
    steps = [("claim", "claimed"), ("reply", "in_contact"), ("reply", "in_contact"),
             ("refer", "referred"), ("reply", "referred"), ("refer", "referred"),
             ("close", "closed"), ("reopen", "claimed"), ("release", "waiting")]  # fmt: skip
    status, holder = "waiting", None
    for action, expected in steps:
        decision = decide(status, holder, SAM, action)
        assert decision.allowed, action
        status, holder = decision.status, decision.holder_id
        assert status == expected, action
    assert holder is None


def test_claim_takes_a_waiting_case_and_only_a_waiting_one() -> None:
    assert decide("waiting", None, SAM, "claim") == case.Decision(True, "claimed", SAM.worker_id)
    taken = decide("claimed", SAM.worker_id, JO, "claim")
    assert (taken.allowed, taken.refusal, taken.holder_id) == (False, "taken", SAM.worker_id)
    assert decide("closed", SAM.worker_id, JO, "claim").refusal == "closed"


@pytest.mark.parametrize("action", ["reply", "refer", "close"])
@pytest.mark.parametrize("status", case.OPEN)
def test_only_the_holder_replies_refers_and_closes(status: str, action: case.Action) -> None:
    assert decide(status, SAM.worker_id, SAM, action).allowed
    refused = decide(status, SAM.worker_id, JO, action)
    assert (refused.allowed, refused.refusal, refused.status) == (False, "not_yours", status)
    # An admin may release someone's case, but not speak or decide for them.
    assert not decide(status, SAM.worker_id, ADMIN, action).allowed


@pytest.mark.parametrize("status", case.OPEN)
def test_release_by_the_holder_or_an_admin(status: str) -> None:
    for actor in (SAM, ADMIN):
        released = decide(status, SAM.worker_id, actor, "release")
        assert released == case.Decision(True, "waiting", None)
    assert decide(status, SAM.worker_id, JO, "release").refusal == "not_yours"


def test_nothing_but_claim_and_notes_on_a_waiting_case() -> None:
    for action in ("reply", "refer", "close", "release"):
        assert decide("waiting", None, SAM, action).refusal == "not_claimed"
    assert decide("waiting", None, SAM, "reopen").refusal == "not_closed"
    assert decide("waiting", None, JO, "note") == case.Decision(True, "waiting", None)


def test_a_closed_case_is_reopened_by_whoever_closed_it_or_an_admin() -> None:
    for action in ("reply", "refer", "close", "release"):
        assert decide("closed", SAM.worker_id, SAM, action).refusal == "closed"
    assert decide("closed", SAM.worker_id, JO, "reopen").refusal == "not_yours"
    reopened = decide("closed", SAM.worker_id, ADMIN, "reopen")
    assert reopened == case.Decision(True, "claimed", ADMIN.worker_id)


def test_notes_on_a_held_case_are_the_holders() -> None:
    assert decide("in_contact", SAM.worker_id, SAM, "note").allowed
    assert decide("in_contact", SAM.worker_id, ADMIN, "note").allowed
    assert decide("in_contact", SAM.worker_id, JO, "note").refusal == "not_yours"


@given(
    status=st.sampled_from(case.STATES),
    holder=st.sampled_from([None, 1, 2]),
    actor=st.sampled_from([SAM, JO, ADMIN]),
    action=st.sampled_from(case.ACTIONS),
)
def test_every_decision_is_consistent(
    status: str, holder: int | None, actor: Actor, action: case.Action
) -> None:
    assume((status == "waiting") == (holder is None))  # as the database keeps them
    decision = decide(status, holder, actor, action)
    assert decision.status in case.STATES
    if not decision.allowed:
        assert (decision.status, decision.holder_id) == (status, holder)
        assert decision.refusal is not None
        return
    # An open case always has a holder; a waiting one never does.
    if decision.status in case.OPEN:
        assert decision.holder_id is not None
    if decision.status == "waiting":
        assert decision.holder_id is None
    # Nobody acts for another worker except to release or hand over (admin) or note.
    if holder is not None and holder != actor.worker_id and action in ("release", "assign"):
        assert actor.role == "admin"
    if (
        holder is not None
        and holder != actor.worker_id
        and action not in ("release", "assign", "note")
    ):
        assert action == "reopen" and actor.role == "admin"


@pytest.mark.parametrize(
    ("measure", "scores", "expected"),
    [
        ("life_satisfaction", [0, 4, 5, 6, 7, 8, 9, 10],
         ["low", "low", "medium", "medium", "high", "high", "very_high", "very_high"]),
        ("happiness", [3, 6, 8, 10], ["low", "medium", "high", "very_high"]),
        ("anxiety", [0, 1, 2, 3, 4, 5, 6, 10],
         ["very_low", "very_low", "low", "low", "medium", "medium", "high", "high"]),
    ],
)  # fmt: skip
def test_ons_bands(measure: str, scores: list[int], expected: list[str]) -> None:
    assert [band(measure, s) for s in scores] == expected


def test_a_skipped_question_has_no_band_and_nonsense_is_refused() -> None:
    assert band("worthwhile", None) is None
    with pytest.raises(ValueError):
        band("worthwhile", 11)
    with pytest.raises(ValueError):
        band("mood", 3)


def test_a_flow_model_with_a_callback_method_is_refused() -> None:
    """A flow's triggers are bound to its model class once (`bind_triggers`), so
    nothing would ever call an `on_enter_<state>` method: the class is refused at
    import rather than the callback being quietly skipped."""
    machine = Machine(model=None, states=["open", "shut"], transitions=[["shut", "open", "shut"]],
                      initial="open", auto_transitions=False)  # fmt: skip

    class Door:
        def __init__(self) -> None:
            self.state = "open"
            self.entered = False

        def on_enter_shut(self) -> None:
            self.entered = True

    with pytest.raises(TypeError, match="on_enter_shut"):
        bind_triggers(Door, machine)

    class Gate:
        def __init__(self) -> None:
            self.state = "open"

    bind_triggers(Gate, machine)
    gate = Gate()
    assert gate.shut() and gate.state == "shut"  # type: ignore[attr-defined]
    assert machine.models == []  # nothing of the gate is kept by the machine
