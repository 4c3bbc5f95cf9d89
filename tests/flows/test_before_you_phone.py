"""Issue 14, "before you phone someone": after the wellbeing questions, one optional
tick-box question (an interpreter, no voicemail, a carer, access or communication
needs), the language if an interpreter is wanted, and the GP surgery. Each is
optional; what is given is filed on the case, what is not is never guessed."""

from __future__ import annotations

from flows import referral
from flows.core import RecordBeforeYouPhone
from flows.summary import BeforeYouPhone
from tests.flows.harness import Patient, walk_to


def at_the_ticks(contact: str = "phone_morning") -> Patient:
    p = Patient()
    walk_to(p, "contact_wanted")
    p.tap(contact)
    if p.state == "phone":
        p.send("07911 123456")
    p.case_opened("SP-TEST")
    p.tap("skip_all")  # the wellbeing questions skipped: straight to the ticks
    assert p.state == "wait_needs"
    return p


def filed(p: Patient) -> BeforeYouPhone:
    recorded = [e for e in p.effects if isinstance(e, RecordBeforeYouPhone)]
    assert recorded, "nothing filed on the case"
    return recorded[-1].details


def test_after_the_wellbeing_questions_comes_one_optional_tick_box_question() -> None:
    p = Patient()
    walk_to(p, "wait_anxious")
    p.case_opened("SP-TEST")
    p.tap("8")
    p.tap("no")  # the direct question (low scores) comes first
    assert p.state == "wait_needs"
    text = p.render_all()[-1]
    assert "link worker" in text and "Skip" in text and "Done" in text
    values = [o.value for o in p.question().options]
    assert values == ["interpreter", "no_voicemail", "carer", "access_needs", "skip", "done"]


def test_no_voicemail_is_offered_only_to_someone_who_asked_for_a_call() -> None:
    p = at_the_ticks(contact="message")
    assert "no_voicemail" not in [o.value for o in p.question().options]
    p.send("please don't leave a voicemail")  # not offered: a hint, nothing kept
    assert p.state == "wait_needs" and not p.answers.get("before_you_phone")


def test_skip_goes_straight_to_the_gp_question_and_keeps_nothing() -> None:
    for skip in ("tap", "skip", "none", "no thanks", "Skipp"):
        p = at_the_ticks()
        p.tap("skip") if skip == "tap" else p.send(skip)
        assert p.state == "wait_gp", skip
        # Nothing given: nothing to file (the case's summary says nothing already).
        assert not any(isinstance(e, RecordBeforeYouPhone) for e in p.effects)


def test_unknown_words_get_a_gentle_hint_and_are_never_stored() -> None:
    p = at_the_ticks()
    p.send("purple monkey dishwasher")
    assert p.state == "wait_needs"
    assert p.templates()[0] == "referral/errors/tick_hint"
    assert "purple" not in str(p.answers)


def test_ticks_then_done_then_language_then_gp_are_filed_on_the_case() -> None:
    p = at_the_ticks()
    p.tap("interpreter")
    p.tap("no_voicemail")
    p.tap("carer")
    p.tap("done")
    assert p.state == "wait_language"
    assert "language" in p.render_all()[-1]
    p.send("Polish")
    assert p.state == "wait_gp"
    assert "GP surgery" in p.render_all()[-1]
    assert [o.value for o in p.question().options] == ["none"]
    p.send("Crosby Village Surgery")
    assert p.state == "handed_off"
    assert filed(p) == BeforeYouPhone(interpreter=True, language="Polish", voicemail_ok=False,
                                      carer=True, gp_practice="Crosby Village Surgery")  # fmt: skip
    assert p.templates()[-1] == "referral/wait_done"


def test_typed_ticks_answer_the_question_and_no_interpreter_skips_the_language() -> None:
    p = at_the_ticks()
    p.send("carer")
    assert p.state == "wait_gp"
    p.tap("none")  # Skip the GP question
    assert p.state == "handed_off"
    assert filed(p) == BeforeYouPhone(carer=True)
    assert p.answers.get("gp_practice") == "none"


def test_a_tick_taken_back_with_skip_is_filed_as_nothing() -> None:
    p = at_the_ticks()
    p.tap("carer")
    p.tap("skip")
    assert p.state == "wait_gp" and filed(p) == BeforeYouPhone()


def test_the_language_can_be_skipped() -> None:
    p = at_the_ticks()
    p.tap("interpreter")
    p.tap("done")
    p.tap("none")
    assert p.state == "wait_gp"
    assert filed(p) == BeforeYouPhone(interpreter=True)


def test_crisis_words_while_they_wait_stop_these_questions_too() -> None:
    from flows.core import Crisis

    p = at_the_ticks()
    p.send(Crisis("suicide", "words", ("rule",)))
    assert p.state == "handed_off"


def test_the_case_summary_carries_them_under_about_the_person() -> None:
    answers = {"before_you_phone": ["interpreter", "access_needs"], "language": "Urdu",
               "gp_practice": "none"}  # fmt: skip
    about = referral.case_summary(answers).about_the_person
    assert about.before_you_phone == BeforeYouPhone(
        interpreter=True, language="Urdu", access_needs=True
    )
