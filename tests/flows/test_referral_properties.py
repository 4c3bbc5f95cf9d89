"""Whatever a person types or taps, at any question, the flow never crashes and
never loses an answer it had already stored."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows import referral
from flows.core import Button, Command, Edited, Text, Unsupported
from flows.questions import simplify
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


#: Where typed words are kept as they are (or read as a name, a postcode, a phone number).
FREE_TEXT = {"what_matters", "need_other", "barriers_other", "name", "postcode", "phone",
             "best_time", "none_reason", "wait_language", "wait_gp"}  # fmt: skip

typed = st.one_of(
    st.text(max_size=80),
    st.sampled_from([
        "lonely", "lonley", "im done", "mornings", "skip", "😢", "ten", "yes", "phone",
        "number 2", "nothing", "yes ok", "yess", "I agre", "in persn", "group pls",
        "A short bus ride", "6/10", "-1", "16", "I'm 16", "45", "my name is Ron",
        "i'd rather not say", "I don't agree", "0", "99", "1 2 3", "money and housing",
    ]),
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=st.sampled_from(sorted(set(STATES) - {"handed_off"})), words=typed)
@example(state="suggestions", words="0:NEXT")  # found in a fresh clone's make test
def test_typed_words_are_an_option_free_text_where_it_is_asked_or_a_hint(
    state: str, words: str
) -> None:
    """(Issue 13.) Whatever is typed at a question is recognised as one of its
    options, kept as free text where free text is asked for, or answered with a
    hint and the question again: nothing else is ever stored."""
    p = Patient()
    walk_to(p, state)
    before = dict(p.answers)
    p.send(Text(words))
    ask = referral.QUESTIONS[state]
    changed = {k: v for k, v in p.answers.items() if before.get(k) != v}
    assert not any(key.endswith("_typed") for key in changed), changed
    if ask.kind == "multi":
        offered = {c.value for c in ask.choices}
        assert set(p.answers.get(ask.key) or []) <= offered
    elif ask.kind == "scale":
        assert changed.get(ask.key) is None or 0 <= changed[ask.key] <= 10
    elif ask.kind == "suggestions":
        assert set(changed) <= {"suggestions", "seen", "declined", "interested", "also_interested"}
    elif state not in FREE_TEXT and ask.key in changed:
        offered = {c.value for c in ask.choices} | {float(c.value) for c in ask.choices
                                                     if c.value.isdigit()}  # fmt: skip
        assert changed[ask.key] in offered, (state, words, changed)
    asks_for_more = state == "suggestions" and {"others", "more", "next"} & set(
        simplify(words).split()
    )
    if not changed and p.state == state and asks_for_more:
        # More asked for on the last page: told there is none, and the long page
        # is not sent again unasked (tests/flows/test_referral.py).
        assert p.templates() == ["referral/no_more_suggestions"]
    elif not changed and p.state == state:  # not taken: told why, and asked again
        assert p.templates()[-1] == ask.template and len(p.templates()) >= 2
