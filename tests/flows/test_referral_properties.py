"""Whatever a person types or taps, at any question, the flow never crashes and
never loses an answer it had already stored."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import referral
from flows.core import Button, Command, Edited, Text, Unsupported
from tests.flows.harness import HAPPY_PATH, Patient, walk_to

STATES = sorted({at for at, _ in HAPPY_PATH} | {"handed_off"})

events = st.one_of(
    st.text(max_size=300).map(Text),
    st.sampled_from(["yes", "no", "0", "1", "12", "-1", "done", "skip", "L20", "🙂", "", " "]).map(
        Text
    ),
    st.builds(Button, st.integers(-2, 60), st.text(max_size=70)),
    st.sampled_from(["start", "help", "status", "frobnicate"]).map(Command),
    st.sampled_from(["sticker", "photo", "voice", "location"]).map(Unsupported),
    st.text(max_size=50).map(Edited),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.sampled_from(STATES), event=events)
def test_any_input_at_any_state_is_handled_and_keeps_stored_answers(
    state: str, event: object
) -> None:
    p = Patient()
    walk_to(p, state)
    before = dict(p.answers)
    result = p.send(event)  # type: ignore[arg-type]
    assert result.state in referral.STATES
    after = p.answers
    # Answers hold only what the person said: control fields live in `control`.
    assert not any(key.startswith("_") for key in after), after
    for key, value in before.items():
        if key == p.state or key in ("seen", "declined"):
            continue  # the question being answered, and paging, may change
        if key in after:
            assert after[key] == value or isinstance(value, list), key
        else:
            assert (
                key in referral.QUESTIONS.get(state, referral.Ask("", "")).key
                or state == "confirm_restart"
            ), key
    # Every reply renders.
    assert all(isinstance(text, str) for text in p.render_all())


@settings(max_examples=60, deadline=None)
@given(st.lists(events, max_size=25))
def test_a_random_sequence_of_inputs_never_crashes(sequence: list[object]) -> None:
    p = Patient()
    for event in sequence:
        p.send(event)  # type: ignore[arg-type]
        assert p.state in referral.STATES
        p.render_all()
