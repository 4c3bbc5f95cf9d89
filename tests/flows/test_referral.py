"""The referral conversation, state by state, with valid and invalid input."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from flows import referral
from flows.core import (
    AddToCase,
    Button,
    CloseQuestion,
    Crisis,
    Edited,
    ForgetPatient,
    OpenCase,
    RaiseSafetyAlert,
    RecordConsent,
    RecordWellbeing,
    Text,
    Unsupported,
    WorkerTookOver,
)
from tests.fakes import FakeDirectory
from tests.flows.harness import HAPPY_PATH, MESSAGES, TYPED, Patient, label_of, walk_to


def test_first_message_welcomes_and_asks_for_consent_and_age_in_one() -> None:
    p = Patient(first_name="Alex")
    p.send("hello")
    # One message: at Telegram's pace of 30 a second, twice as many people are
    # answered as with a welcome and then a question.
    assert p.templates() == ["referral/consent"]
    assert [o.value for o in p.question().options] == ["agree_adult", "under_18", "more",
                                                       "decline"]  # fmt: skip
    [welcome] = p.render_all()
    assert welcome.startswith("Hello.")
    assert "999" in welcome and "116 123" in welcome and "not an emergency service" in welcome
    assert welcome.endswith("Are you happy for us to keep your answers?")
    # Nothing of theirs before they agree: the question stays in the chat, closed.
    assert "Alex" not in welcome


def test_the_welcome_is_not_repeated_when_they_ask_for_more_or_start_again() -> None:
    p = Patient()
    p.send("hello")
    p.tap("more")
    assert p.templates() == ["referral/consent"] and "More about this service" in p.render_all()[-1]
    assert not any(text.startswith("Hello.") for text in p.render_all())
    p.send("/restart")
    p.tap("yes")
    assert p.state == "consent"
    assert not any(text.startswith("Hello.") for text in p.render_all())


def test_the_happy_path_opens_a_case_with_the_prsb_summary() -> None:
    p = Patient()
    walk_to(p, "handed_off")
    opened = [e for e in p.effects if isinstance(e, OpenCase)]
    assert len(opened) == 1
    summary = opened[0].summary
    assert set(summary.model_dump(exclude_none=True)) == {
        "about_the_person", "needs", "support_offered", "outcomes", "referral_finished"
    }  # fmt: skip
    assert summary.referral_finished and summary.about_the_person.contact_wanted is True
    assert summary.about_the_person.name == "Alex"
    assert summary.about_the_person.phone == "+447911123456"
    assert (
        summary.needs.what_matters == "I'd like to meet people, I've been lonely since my wife died"
    )
    assert summary.needs.need_areas == ["loneliness", "activity"]
    assert summary.support_offered.interested_in is not None
    assert summary.support_offered.interested_in.name == "Bootle Walking Football"
    # The wellbeing questions come after the handoff, while they wait (issue 13):
    # the case opens without them, and their answers follow, for the case.
    assert set(summary.outcomes.wellbeing_baseline.values()) == {None}
    assert RecordConsent(referral.NOTICE_VERSION) in p.effects
    baseline = {"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7}
    assert RecordWellbeing("baseline", baseline) in p.effects
    opened_at = p.effects.index(opened[0])
    assert p.effects.index(RecordWellbeing("baseline", baseline)) > opened_at


def test_tell_me_more_shows_the_full_notice_and_asks_again() -> None:
    p = Patient()
    p.send("/start")
    p.tap("more")
    assert p.state == "consent"
    text = p.render_all()[-1]
    assert "How long" in text and "delete" in text
    p.send("I agree")
    assert p.state == "age"


@pytest.mark.parametrize("answer", ["No thanks", "no", "4"])
def test_declining_consent_forgets_everything(answer: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(answer)
    assert ForgetPatient("declined") in p.effects
    assert "referral/declined" in p.templates()
    assert not any(isinstance(e, RecordConsent) for e in p.effects)


def test_under_18s_are_signposted_and_nothing_is_kept() -> None:
    p = Patient()
    walk_to(p, "age")
    p.tap("no")
    assert ForgetPatient("under_18") in p.effects
    text = p.render_all()[-1]
    assert "Childline" in text and "0800 1111" in text and "GP" in text


@pytest.mark.parametrize(("typed", "then"), [
    ("yes", "age"), ("Y", "age"), ("yep", "age"), ("I agree", "age"), ("i agree!", "age"),
    ("1", "name"),  # the first button's number: agreeing, and 18 or over
])  # fmt: skip
def test_typed_answers_work_where_buttons_were_offered(typed: str, then: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(typed)
    assert p.state == then


def test_an_unclear_answer_gets_a_kind_reply_and_the_question_again() -> None:
    p = Patient()
    walk_to(p, "age")
    p.send("banana")
    assert p.state == "age"
    assert p.templates() == ["referral/errors/choose", "referral/age"]
    assert "didn't catch that" in p.render_all()[0]


def test_name_can_be_the_telegram_first_name_or_typed() -> None:
    p = Patient(first_name="Sam")
    walk_to(p, "name")
    assert [o.label for o in p.question().options] == ["use_first_name", "rather_not_say"]
    assert p.question().options[0].label_context == {"first_name": "Sam"}
    p.send("Samantha")
    assert p.answers["name"] == "Samantha"


def test_a_name_that_is_too_long_is_refused_with_the_limit() -> None:
    p = Patient()
    walk_to(p, "name")
    p.send("x" * 61)
    assert p.state == "name"
    assert "60 characters" in p.render_all()[0]


def test_what_matters_is_kept_word_for_word_however_long() -> None:
    """(Issue 13: a story over 2,000 characters was refused, to be typed again.) The
    longest message Telegram carries is kept whole."""
    p = Patient()
    walk_to(p, "what_matters")
    story = "Since Jean died I don't see anyone from one week to the next. " * 60
    assert len(story) > 3500
    p.send(story)
    assert p.state == "need_areas" and p.answers["what_matters"] == story.strip()
    p = Patient()
    walk_to(p, "what_matters")
    words = "  I <b>miss</b> my friends & going out  "
    p.send(words)
    assert p.answers["what_matters"] == words.strip()


def test_need_areas_toggle_and_done_needs_at_least_one() -> None:
    p = Patient()
    walk_to(p, "need_areas")
    assert p.answers["need_areas"] == ["loneliness"]  # ticked from what they wrote
    p.tap("loneliness")
    p.tap("done")
    assert p.state == "need_areas" and "referral/errors/tick_one" in p.templates()
    p.tap("money")
    assert p.last is not None and p.last.replies[0].mode == "update"  # type: ignore[union-attr]
    ticked = [o.value for o in p.last.replies[0].options if o.ticked]  # type: ignore[union-attr]
    assert ticked == ["money"]
    p.tap("money")
    assert p.answers["need_areas"] == []
    p.send("1 5")  # typed numbers tick
    assert p.answers["need_areas"] == ["loneliness", "money"]
    p.send("done")
    assert p.state == "postcode"


def test_something_else_asks_in_their_own_words() -> None:
    p = Patient()
    walk_to(p, "need_areas")
    p.tap("other")
    assert p.state == "need_other"
    p.send("My neighbour is noisy")
    assert p.state == "postcode"
    assert p.answers["need_other"] == "My neighbour is noisy"


def test_own_words_typed_at_tick_boxes_are_not_kept_as_an_answer() -> None:
    """(Issue 13: they were kept, and nothing ticked.) Words that name no option get
    a hint; their own words are asked for after Something else."""
    p = Patient()
    walk_to(p, "need_areas")
    p.tap("loneliness")  # ticked for them from what they wrote: unticked
    p.send("I want to learn to cook")
    assert p.state == "need_areas"
    assert "need_areas_typed" not in p.answers and p.answers.get("need_areas", []) == []
    p.tap("done")  # nothing ticked: still asked to tick one
    assert p.state == "need_areas"


@pytest.mark.parametrize(("typed", "stored"), [
    ("l203ab", "L20 3AB"), ("L20 3AB", "L20 3AB"), ("l20", "L20"), (" pr8  ", "PR8"),
])  # fmt: skip
def test_postcodes_are_normalised(typed: str, stored: str) -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send(typed)
    assert p.answers["postcode"] == stored and p.state == "mode"


def test_an_invalid_postcode_says_what_a_postcode_looks_like() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send("Bootle")
    assert p.state == "postcode"
    assert "doesn't look like a UK postcode" in p.render_all()[0]


def test_postcode_can_be_withheld() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.tap("none")
    assert p.state == "mode"
    assert referral.profile_from(p.answers).postcode is None


def test_how_and_how_far_are_one_answer() -> None:
    """(Issue 13: how, how far, and a group or one-to-one were three questions.)"""
    p = Patient()
    walk_to(p, "mode")
    assert [o.label for o in p.question().options] == [
        "mode_near_home", "mode_bus_ride", "mode_remote", "mode_any"]  # fmt: skip
    p.send("online")
    assert p.state == "free_times" and "mode_choice" not in p.answers
    assert (p.answers["mode"], p.answers["max_miles"]) == ("remote", None)
    profile = referral.profile_from(p.answers)
    assert profile.modes == ("online", "phone") and profile.group == "either"


def test_ons4_accepts_numbers_words_and_skip_and_refuses_out_of_range() -> None:
    p = Patient()
    walk_to(p, "wait_life")
    assert len(p.question().options) == 12  # 0..10 and Skip these
    p.send("11")
    assert p.state == "wait_life" and "from 0 to 10" in p.render_all()[0]
    p.send("-3")
    assert p.state == "wait_life"
    p.send("seven")
    assert p.answers["life_satisfaction"] == 7
    p.tap("skip")
    assert p.answers["worthwhile"] is None and p.state == "wait_happy"


def test_suggestions_show_three_with_reasons_then_others_then_say_these_are_all() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    shown = p.question().context["suggestions"]
    assert [s.activity_id for s in shown] == ["walk-1", "knit-1", "call-1"]
    text = p.render_all()[-1]
    assert (
        "Bootle Walking Football" in text
        and "0.8 miles from you, and you said you'd like to be more active" in text
    )
    values = [o.value for o in p.question().options]
    assert values == ["pick_0", "more_0", "pick_1", "more_1", "pick_2", "more_2", "others", "none"]

    p.tap("others")
    assert [s.activity_id for s in p.question().context["suggestions"]] == ["debt-1"]
    # The last page says so, and offers a link worker instead of "Show me others".
    assert "That's all I have that fits what you told me" in p.render_all()[-1]
    values = [o.value for o in p.question().options]
    assert values == ["pick_0", "more_0", "again", "link_worker", "none"]

    # Asking for more again never shows a page again unasked.
    step = p.conversation.step
    p.send("show me more")
    assert p.templates() == ["referral/no_more_suggestions"]
    assert p.state == "suggestions" and p.conversation.step == step

    p.tap("again")  # asked: the first ones again
    assert [s.activity_id for s in p.question().context["suggestions"]] == [
        "walk-1", "knit-1", "call-1"
    ]  # fmt: skip
    p.tap("others")
    p.tap("link_worker")
    assert p.state == "contact_wanted"


def test_more_about_this_shows_everything_and_keeps_the_page() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    step = p.conversation.step
    p.tap("more_1")
    assert p.templates() == ["directory/more"]
    assert "Knit" in p.render_all()[0]
    assert p.state == "suggestions" and p.conversation.step == step
    p.tap("pick_1")  # the page's buttons still work
    assert p.answers["interested"]["id"] == "knit-1"


def test_more_about_after_the_directory_changed_shows_a_fresh_page() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    p.directory.activities = p.directory.activities[1:]  # a re-import took one away
    p.tap("more_0")
    assert p.templates() == ["referral/suggestions"]
    assert [s.activity_id for s in p.question().context["suggestions"]] == [
        "knit-1", "call-1", "debt-1"
    ]  # fmt: skip


def test_more_than_one_suggestion_can_be_chosen() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    result = p.send("1 and 3")
    assert p.state == "contact_wanted"
    assert p.answers["interested"]["id"] == "walk-1"
    assert [a["id"] for a in p.answers["also_interested"]] == ["call-1"]
    summary = referral.case_summary(p.answers)
    assert summary.support_offered.interested_in is not None
    assert summary.support_offered.interested_in.id == "walk-1"
    assert [a.id for a in summary.support_offered.also_interested_in] == ["call-1"]
    (closed,) = [r for r in result.replies if isinstance(r, CloseQuestion)]
    assert MESSAGES.label(closed.chosen_label, **closed.chosen_context) == (
        "Interested in Bootle Walking Football and Befriending Calls"
    )


def test_none_of_these_asks_why_and_records_it() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    p.tap("none")
    assert p.state == "none_reason"
    p.send("They are all too early for me")
    assert p.answers["none_reason"] == "They are all too early for me"
    assert set(p.answers["declined"]) == {"walk-1", "knit-1", "call-1"}
    assert p.state == "contact_wanted"


def test_with_no_suggestions_the_patient_is_offered_a_link_worker() -> None:
    p = Patient(directory=FakeDirectory([]))
    walk_to(p, "contact_wanted")  # no suggestions to show
    assert p.state == "contact_wanted"
    assert "couldn't find an activity" in p.render_all()[-1]


def test_no_contact_wanted_finishes_kindly_and_can_change_their_mind() -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    p.tap("no")
    assert p.state == "finished"
    p.tap("yes")
    assert p.state == "contact_method"


@pytest.mark.parametrize("number", ["12345", "07911", "+1 202 555 0100"])
def test_an_invalid_phone_number_is_refused_kindly(number: str) -> None:
    p = Patient()
    walk_to(p, "phone")
    p.send(number)
    assert p.state == "phone"
    assert "doesn't look like a UK phone number" in p.render_all()[0]


@pytest.mark.parametrize(("typed", "best"), [
    ("phone me in the afternoon", "afternoons"), ("afternoons", "afternoons"),
    ("mornings", "mornings"), ("ring me", "any"), ("phone me in the evening", "evenings"),
])  # fmt: skip
def test_when_to_call_is_read_from_how_they_asked_to_be_contacted(typed: str, best: str) -> None:
    """(Issue 13: the best time to call was a question of its own.)"""
    p = Patient()
    walk_to(p, "contact_wanted")
    p.send(typed)
    assert p.state == "phone"
    assert (p.answers["contact_method"], p.answers["best_time"]) == ("phone", best)


def test_after_handoff_anything_written_is_kept_on_the_case() -> None:
    p = Patient()
    walk_to(p, "handed_off")
    p.send("I forgot to say I use a wheelchair")
    assert AddToCase("I forgot to say I use a wheelchair") in p.effects
    assert p.templates() == ["referral/added_to_case"]
    p.send(Edited("I use a wheelchair sometimes"))
    assert AddToCase("I use a wheelchair sometimes", edited=True) in p.effects


def test_status_before_and_after_handoff() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send("/status")
    assert p.templates() == ["referral/status", "referral/postcode"]
    assert "haven't finished" in p.render_all()[0]


def test_restart_asks_first_and_no_goes_back_to_the_same_question() -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.send("/restart")
    assert p.state == "confirm_restart"
    p.tap("no")
    assert p.state == "free_times"
    p.send("/restart")
    p.tap("yes")
    assert p.state == "consent"
    assert ForgetPatient("restart") in p.effects
    assert "name" not in p.answers


def test_restart_after_handoff_keeps_the_case() -> None:
    p = Patient()
    walk_to(p, "handed_off")
    p.case_opened("SP-ABCD")  # as the service records when the case opened
    p.send("/restart")
    assert "SP-ABCD" in p.render_all()[0]
    p.tap("yes")
    assert p.state == "consent"
    assert ForgetPatient("restart") not in p.effects
    assert p.answers == {} and p.control.case_reference == "SP-ABCD"


def test_start_resumes_with_a_reminder_of_where_we_were() -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.send("/start")
    assert p.templates() == ["referral/resume", "referral/free_times"]
    assert "when you're free" in p.render_all()[0]


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "location", "contact", "document"])
def test_things_we_cannot_read_get_a_kind_reply_and_the_question_again(kind: str) -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send(Unsupported(kind))
    assert p.state == "what_matters"
    assert "only read typed messages" in p.render_all()[0]


@pytest.mark.parametrize("kind", ["voice", "video_note", "photo"])
def test_what_we_cannot_read_is_answered_with_where_to_get_help_now(kind: str) -> None:
    """A voice note may hold a crisis the screen cannot hear: the reply says where
    to get help now, whatever it was (hazard log A6)."""
    p = Patient()
    walk_to(p, "postcode")
    p.send(Unsupported(kind))
    reply = p.render_all()[0]
    assert "999" in reply and "111" in reply and "116 123" in reply


def test_a_tap_on_an_earlier_question_changes_nothing() -> None:
    p = Patient()
    walk_to(p, "mode")
    old_step = p.conversation.step
    p.tap("near_home")
    before = dict(p.answers)
    result = p.send(Button(old_step, "remote"))  # the same keyboard, tapped again
    assert result.tap_notice == "stale" and result.replies == [] and result.effects == []
    assert p.answers == before and p.state == "free_times"


def test_an_answer_closes_its_question() -> None:
    p = Patient()
    walk_to(p, "mode")
    p.tap("bus_ride")
    assert isinstance(p.last.replies[0], CloseQuestion)  # type: ignore[union-attr]
    assert p.last.replies[0].chosen_label == "mode_bus_ride"  # type: ignore[union-attr]


def test_every_button_fits_telegrams_64_byte_limit_and_every_template_renders() -> None:
    p = Patient()
    p.send("/start")
    for at, value in HAPPY_PATH:
        for reply in p.last.replies:  # type: ignore[union-attr]
            for option in getattr(reply, "options", ()):
                assert len(f"{p.conversation.step}:{option.value}".encode()) <= 64
        assert all(p.render_all())
        p.send(value) if at in TYPED else p.tap(value)
    assert p.state == "handed_off"


def test_the_profile_carries_what_matching_needs() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    profile = p.directory.profiles[-1]
    assert profile.need_areas == ("loneliness", "activity")
    assert profile.postcode == "L20 3AB" and profile.max_miles == 1.0
    # (A group or one-to-one: matching takes either; each card says which it is.)
    assert profile.modes == ("in_person",) and profile.group == "either"
    # (What gets in the way, cost among it, is for a link worker to ask: issue 13.)
    assert profile.free_times == ("weekday_morning",) and profile.free_only is False
    assert "meet people" in profile.what_matters


@pytest.mark.parametrize("state", sorted({at for at, _ in HAPPY_PATH} | {"new", "handed_off"}))
@pytest.mark.parametrize(
    "category", ["suicide", "self_harm", "harm_to_others", "unsafe_at_home", "medical_emergency"]
)
def test_a_crisis_at_any_state_gets_a_reply_that_fits_where_they_are(
    state: str, category: str
) -> None:
    """The contacts at once and an alert, whatever the state. Before the handoff
    they then choose: carry on (back to the same question), stop for now, or talk
    to someone; no cheerful next question straight after a disclosure. After the
    handoff they hear that the team has been told, and nothing about carrying on."""
    p = Patient()
    if state != "new":
        walk_to(p, state)
    before = dict(p.answers)
    p.send(Crisis(category, "words", ("rule",)))
    assert p.templates()[0] == f"safety/{category}"
    assert RaiseSafetyAlert(category, "words", ("rule",)) in p.effects
    text = p.render_all()[0]
    assert "999" in text and "not an emergency service" in text
    assert "carry on with your referral" not in text
    if state in ("handed_off", *referral.AFTER_HANDOFF_ASKING):
        # While they wait too: the team has their case, and the questions stop.
        assert p.state == "handed_off" and p.templates() == [f"safety/{category}"]
        assert "get in touch with you" in text
        assert AddToCase("words", kept_already=True) in p.effects
        return
    assert p.state == "crisis_check" and p.templates()[-1] == "referral/crisis_check"
    assert [o.value for o in p.question().options] == ["carry_on", "stop", "talk"]
    kept = {"what_matters": "words"} if state == "what_matters" else {}
    assert p.answers == {**before, **kept}  # nothing they said is lost
    p.tap("carry_on")
    # Back to the question they were on (after "what matters", their words were
    # its answer; the direct question was on the way to the suggestions).
    back = {"new": "consent", "what_matters": "need_areas", "safety_question": "suggestions"}
    back = back.get(state, state)
    assert p.state == back and p.templates()[-1] == referral.QUESTIONS[back].template


def test_words_of_crisis_given_for_what_matters_are_kept_as_their_answer() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send(Crisis("suicide", "honestly i dont want to be here anymore", ("rule",)))
    assert p.answers["what_matters"] == "honestly i dont want to be here anymore"
    p.send("yes")  # "carry on", typed: not stored as anything
    assert p.state == "need_areas" and p.answers["what_matters"].startswith("honestly")


def test_stop_for_now_then_any_message_carries_on_where_they_were() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send(Crisis("self_harm", "words", ("rule",)))
    p.tap("stop")
    assert p.state == "paused" and p.templates()[-1] == "referral/paused"
    p.send("hi again")
    assert p.state == "postcode"
    assert p.templates() == ["referral/welcome_back", "referral/postcode"]
    assert "postcode" not in p.answers  # "hi again" was not taken as their postcode


def test_talk_to_someone_goes_to_how_to_contact_them() -> None:
    p = Patient()
    walk_to(p, "mode")
    p.send(Crisis("unsafe_at_home", "words", ("rule",)))
    p.send("talk to someone")
    assert p.state == "contact_method" and p.answers["contact_wanted"] == "yes"
    assert p.templates() == ["referral/talk_to_someone", "referral/contact_method"]


def test_other_words_after_a_crisis_reply_are_kept_for_the_team() -> None:
    p = Patient()
    walk_to(p, "mode")
    p.send(Crisis("suicide", "words", ("rule",)))
    p.send("I just feel so alone all the time")
    assert AddToCase("I just feel so alone all the time") in p.effects
    assert p.state == "crisis_check"
    assert p.templates() == ["referral/kept_for_team", "referral/crisis_check"]


def test_childline_and_papyrus_when_the_age_is_not_known_or_under_18() -> None:
    p = Patient()
    p.send(Crisis("self_harm", "im 16 and i cut myself", ("rule",)))
    text = p.render_all()[0]
    assert "Childline" in text and "0800 1111" in text and "Papyrus" in text
    adult = Patient()
    walk_to(adult, "name")
    adult.send(Crisis("self_harm", "i cut myself", ("rule",)))
    assert "Childline" not in adult.render_all()[0]
    adult.send(Crisis("suicide", "im 15 and i want to die", ("rule",)))
    assert "Childline" in adult.render_all()[0]


@pytest.mark.parametrize(
    "text", ["im 16", "I am 15 years old", "14 yo", "aged 13", "I'm only 17 and"]
)
def test_an_age_under_18_is_noticed(text: str) -> None:
    assert referral.mentions_an_age_under_18(text)


@pytest.mark.parametrize("text", ["I'm 18", "since I was 16", "16 L20 3AB", "room 12"])
def test_an_age_over_18_or_a_number_is_not(text: str) -> None:
    assert not referral.mentions_an_age_under_18(text)


def test_low_mood_ticked_brings_one_direct_question() -> None:
    p = Patient()
    walk_to(p, "need_areas")
    p.tap("mood")
    p.tap("done")
    assert p.state == "safety_question"
    assert [o.value for o in p.question().options] == ["no", "yes", "rather_not_say"]
    p.tap("no")
    assert p.state == "postcode" and p.templates()[:1] == ["referral/safety_thanks"]
    assert p.control.asked_directly


def test_yes_to_the_direct_question_is_a_crisis() -> None:
    p = Patient()
    walk_to(p, "need_areas")
    p.tap("mood")
    p.tap("done")  # low mood ticked: asked directly, before the handoff
    assert p.state == "safety_question"
    p.tap("yes")
    assert any(isinstance(e, RaiseSafetyAlert) and e.category == "suicide" for e in p.effects)
    assert p.state == "crisis_check" and p.templates()[0] == "safety/suicide"
    p.tap("carry_on")
    assert p.state == "postcode"


def test_yes_to_the_direct_question_while_they_wait_is_a_crisis_for_their_case() -> None:
    """Low wellbeing scores after the handoff: asked directly, as before the handoff;
    "yes" raises an alert on the case the team already has, and says so."""
    p = Patient()
    walk_to(p, "wait_anxious")
    p.case_opened("SP-TEST")
    p.tap("8")  # anxious: asked directly
    assert p.state == "wait_safety"
    p.tap("yes")
    assert any(isinstance(e, RaiseSafetyAlert) and e.category == "suicide" for e in p.effects)
    assert p.state == "handed_off" and p.templates()[0] == "safety/suicide"
    assert p.last is not None and p.last.replies[-1].context["with_team"] is True


def test_the_direct_question_is_not_asked_when_all_is_well() -> None:
    p = Patient()
    walk_to(p, "wait_life")
    for score in ("8", "8", "8", "2"):
        p.tap(score)
    assert p.state == "wait_needs" and not p.control.asked_directly


def test_a_weaker_sign_brings_the_direct_question_after_the_answer() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send(Text("nothing really matters anymore to be honest", concern="weak_sign"))
    assert p.answers["what_matters"].startswith("nothing really")
    assert p.state == "safety_question"


def test_a_health_worry_gets_111_advice_and_the_answer_is_kept() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send(Text("getting fit, but my chest hurts when I walk up hills", concern="health_worry"))
    assert p.templates()[0] == "safety/health_worry"
    assert "NHS 111" in p.render_all()[0] and not any(
        isinstance(e, RaiseSafetyAlert) for e in p.effects
    )
    assert p.state == "need_areas" and p.answers["what_matters"].startswith("getting fit")


def test_a_link_worker_taking_over_mid_referral_pauses_the_questions() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    step = p.conversation.step
    result = p.send(WorkerTookOver())
    assert p.state == "handed_off" and p.control.paused_at == "what_matters"
    assert p.conversation.step == step + 1  # the unanswered question's buttons stop counting
    assert result.replies == [] and result.effects == []
    p.send("Thanks Sam, mornings are best")  # now for the worker, not an answer
    assert AddToCase("Thanks Sam, mornings are best") in p.effects
    assert "what_matters" not in p.answers


def test_a_link_worker_taking_over_after_the_handoff_changes_nothing() -> None:
    p = Patient()
    walk_to(p, "handed_off")
    before = p.conversation
    p.send(WorkerTookOver())
    assert p.conversation == before


def test_conditions_only_look() -> None:
    """Every condition named in the table, asked at every step of a referral,
    changes nothing: moving is the table's job, recording the callbacks'."""
    names = {c for row in referral.TRANSITIONS for c in _as_list(row.get("conditions"))}
    event = SimpleNamespace(transition=SimpleNamespace(source="group", dest="consent"))
    for state in [*dict.fromkeys(at for at, _ in HAPPY_PATH), "handed_off"]:
        p = Patient()
        walk_to(p, state)
        ctx = referral.FlowContext(FakeDirectory(), label_of, p.now)
        model = referral.Referral(p.conversation, ctx)
        answers, control = dict(model.answers), model.control
        for name in sorted(names):
            getattr(model, name)(event)
        assert (model.answers, model.control) == (answers, control), state
        assert model.replies == [] and model.effects == [], state


def _as_list(value: object) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


# --- Typed words that were not written for the question they are on ----------------


def test_words_written_before_the_question_appeared_are_not_its_answer() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    shown = p.now
    p.send("Ron", written_at=shown - timedelta(seconds=2), question_shown_at=shown)
    assert p.templates() == ["referral/crossed"] and "what_matters" not in p.answers
    p.send("Meeting people", written_at=shown + timedelta(seconds=9), question_shown_at=shown)
    assert p.answers["what_matters"] == "Meeting people" and p.state == "need_areas"


def test_words_sent_while_the_question_had_not_gone_out_are_not_its_answer() -> None:
    """Someone who repeats themselves into a silence (the bot slow to answer)."""
    p = Patient()
    walk_to(p, "phone")
    p.send("07911 123456")
    assert p.state == "wait_life"
    p.send("07911 123456", question_unsent=True)
    assert p.templates() == ["referral/crossed"] and "life_satisfaction" not in p.answers


def test_the_same_words_again_are_checked_once_then_taken() -> None:
    p = Patient()
    walk_to(p, "wait_life")
    p.send("7")
    step = p.conversation.step
    p.send("7")  # the same again: for this question too?
    assert p.templates() == ["referral/sent_twice"] and "worthwhile" not in p.answers
    assert "7" in p.render_all()[0] and p.conversation.step == step
    p.send("7")  # yes, on purpose
    assert p.answers["worthwhile"] == 7 and p.state == "wait_happy"


def test_the_same_number_on_two_scales_is_checked_once() -> None:
    p = Patient()
    walk_to(p, "wait_happy")
    p.tap("10")
    p.send("10")  # anxiety: the number they just tapped, typed
    assert p.templates() == ["referral/sent_twice"] and "anxiety" not in p.answers
    p.send("1")
    assert p.answers["anxiety"] == 1


def test_the_same_number_where_it_cannot_be_an_answer_gets_the_usual_hint() -> None:
    """Asking "is that your answer to this question too?" makes sense only where it
    could be: at a yes-or-no question a number gets the hint and the question again.
    (Found by test_referral_properties: "7" typed after tapping 7 on anxiety.)"""
    p = Patient()
    walk_to(p, "wait_safety")  # anxiety tapped as 7 on the way
    p.send("7")
    assert p.templates()[-1] == "referral/safety_question"
    assert "referral/sent_twice" not in p.templates() and p.state == "wait_safety"


def test_the_same_choice_typed_twice_is_simply_taken() -> None:
    """Typed choices ("yes", "no") repeat all the time; only their own words and
    numbers are checked."""
    p = Patient()
    p.send("hello")
    p.send("yes")
    p.send("yes")
    assert p.state == "name"


# --- While they wait (issue 13): the wellbeing questions after the handoff ---------------


def test_skip_these_at_the_first_wellbeing_question_skips_all_four() -> None:
    p = Patient()
    walk_to(p, "wait_life")
    assert "While you wait" in p.render_all()[-1] and "skip" in p.render_all()[-1]
    assert p.question().options[-1].label == "skip_these"
    p.tap("skip_all")
    # On to what would help a link worker get in touch (issue 14), then done.
    assert p.state == "wait_needs" and "life_satisfaction" not in p.answers
    assert not any(isinstance(e, RecordWellbeing) for e in p.effects)
    assert p.templates() == ["referral/before_you_phone"]
    p.tap("skip")
    p.tap("none")
    assert p.state == "handed_off" and p.templates() == ["referral/wait_done"]
    assert "That's fine" in p.render_all()[-1]


def test_skip_typed_at_the_first_wellbeing_question_skips_them_but_a_number_is_a_score() -> None:
    p = Patient()
    walk_to(p, "wait_life")
    p.send("1")
    assert p.answers["life_satisfaction"] == 1 and p.state == "wait_worthwhile"
    q = Patient()
    walk_to(q, "wait_life")
    q.send("skip")
    assert q.state == "wait_needs" and "life_satisfaction" not in q.answers


@pytest.mark.parametrize(
    "old", [s for s in referral.RETIRED if s not in ("best_time", "travel", "group")]
)
def test_a_conversation_stored_at_a_retired_question_carries_on_at_the_next(old: str) -> None:
    """A conversation left, before this change, at a question that is no longer asked
    there (the wellbeing questions before the handoff) moves on to the question that
    now follows, saying so; what they send is not taken as its answer."""
    p = Patient()
    walk_to(p, "suggestions")
    p.conversation = referral.Conversation(old, p.conversation.step, p.answers, p.control)
    p.send("7")
    assert p.state == "suggestions" and "suggestions" not in p.answers
    assert p.templates() == ["referral/moved_on", "referral/suggestions"]
    assert not any(isinstance(e, RecordWellbeing) for e in p.effects)


@pytest.mark.parametrize("old", ["travel", "group"])
def test_a_conversation_stored_at_how_far_or_a_group_carries_on_at_free_times(old: str) -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.conversation = referral.Conversation(old, p.conversation.step, p.answers, p.control)
    p.send("a group")
    assert p.state == "free_times" and "group" not in p.answers
    assert p.templates() == ["referral/moved_on", "referral/free_times"]


def test_a_conversation_stored_at_the_best_time_to_call_is_handed_off() -> None:
    """(The time to call is now part of how they want to be contacted.) Everything
    else was answered: the referral is handed off, and what they sent is not kept as
    a time."""
    p = Patient()
    walk_to(p, "wait_life")
    answers = {k: v for k, v in p.answers.items() if k != "best_time"}
    p.effects.clear()
    p.conversation = referral.Conversation("best_time", p.conversation.step, answers, p.control)
    p.send("after 3pm")
    assert p.state == "wait_life" and "best_time" not in p.answers
    assert p.templates()[:2] == ["referral/moved_on", "referral/handed_off"]
    assert any(isinstance(e, OpenCase) for e in p.effects)


def test_a_retired_place_to_carry_on_from_becomes_the_next_question() -> None:
    """Stopped for now (a crisis reply) at a retired question: "Carry on" goes on."""
    p = Patient()
    walk_to(p, "suggestions")
    control = p.control.model_copy(update={"resume_at": "ons_happy"})
    p.conversation = referral.Conversation("crisis_check", p.conversation.step, p.answers, control)
    p.tap("carry_on")
    assert p.state == "suggestions"


def test_crisis_words_at_a_retired_question_are_answered_first() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    p.conversation = referral.Conversation("ons_life", p.conversation.step, p.answers, p.control)
    p.send(Crisis("suicide", "words", ("rule",)))
    assert p.templates()[0] == "safety/suicide" and p.state == "crisis_check"
    p.tap("carry_on")
    assert p.state == "suggestions"


# --- Consent and age in one tap (issue 13) ---------------------------------------------


def test_agreeing_and_18_or_over_is_one_tap() -> None:
    p = Patient()
    p.send("/start")
    assert [o.value for o in p.question().options] == ["agree_adult", "under_18", "more", "decline"]
    p.tap("agree_adult")
    assert p.state == "name"
    assert p.answers["consent"] == "agree" and p.answers["adult"] == "yes"
    assert RecordConsent(referral.NOTICE_VERSION) in p.effects


@pytest.mark.parametrize("answer", ["tap", "16", "I'm 16", "under 18"])
def test_under_18_at_consent_ends_kindly_and_keeps_nothing(answer: str) -> None:
    p = Patient()
    p.send("/start")
    p.tap("under_18") if answer == "tap" else p.send(answer)
    assert p.state == "under_18"
    assert ForgetPatient("under_18") in p.effects
    assert not any(isinstance(e, RecordConsent) for e in p.effects)
    assert "Childline" in p.render_all()[-1]


@pytest.mark.parametrize("answer", ["yes", "yes ok", "I agree"])
def test_yes_alone_at_consent_asks_the_age(answer: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(answer)
    assert p.state == "age" and p.answers["consent"] == "agree" and "adult" not in p.answers


@pytest.mark.parametrize("typed", ["45", "-1", "0"])
def test_an_age_of_18_or_more_alone_is_not_agreement(typed: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(typed)
    assert p.state == "consent" and "consent" not in p.answers
