"""Reading what people type (issue 13): forgiving where people are loose, strict
where it matters, and never storing as an answer something that is not one.

Each case here was seen when the conversation was tried as new users would."""

from __future__ import annotations

import pytest

from flows import referral
from flows.core import Command
from flows.referral import CaseView
from tests.flows.harness import HAPPY_PATH, TYPED, Patient, walk_to


def at_the_tick_boxes() -> Patient:
    """At the need areas, having written nothing that ticks one for them."""
    p = Patient()
    walk_to(p, "what_matters")
    p.send("I'd like to try something new")
    assert p.state == "need_areas" and not p.answers.get("need_areas")
    return p


def ticked_and_typed(p: Patient, key: str) -> tuple[list[str], list[str]]:
    return list(p.answers.get(key) or []), list(p.answers.get(f"{key}_typed") or [])


# --- Tick boxes: near-labels tick, anything else gets a hint and is never stored -------


@pytest.mark.parametrize(("typed", "ticked"), [
    ("lonely", ["loneliness"]),
    ("lonley", ["loneliness"]),
    ("Feeling lonley", ["loneliness"]),
    ("money", ["money"]),
    ("lonely and money worries", ["loneliness", "money"]),
    ("debt, housing", ["money", "housing"]),
    ("number 2", ["mood"]),
])  # fmt: skip
def test_words_near_a_tick_box_label_tick_it(typed: str, ticked: list[str]) -> None:
    """And answer the question: typed words that name options need no "Done" after
    (issue 13)."""
    p = at_the_tick_boxes()
    p.send(typed)
    if typed == "lonely and money worries":  # "worries" read by a guess: shown to check
        assert p.state == "need_areas"
    else:
        assert p.state in ("postcode", "safety_question")  # (low mood: asked directly)
    assert ticked_and_typed(p, "need_areas") == (ticked, [])


def test_typed_words_at_free_times_tick_them_and_move_on() -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.send("mornings")
    assert p.state == "suggestions" and p.answers["free_times"] == ["weekday_morning"]


def test_typed_words_add_to_what_was_ticked_for_them_never_untick_it() -> None:
    p = Patient()
    walk_to(p, "need_areas")  # "lonely" in their words ticked Feeling lonely
    p.send("lonely and money")
    assert p.state == "postcode" and p.answers["need_areas"] == ["loneliness", "money"]


def test_tapping_still_ticks_then_done() -> None:
    p = at_the_tick_boxes()
    p.tap("money")
    assert p.state == "need_areas" and p.answers["need_areas"] == ["money"]
    p.tap("done")
    assert p.state == "postcode"


@pytest.mark.parametrize("typed", ["im done", "I'm done", "all done", "done thanks"])
def test_done_in_their_own_words_finishes_the_tick_boxes(typed: str) -> None:
    p = at_the_tick_boxes()
    p.tap("money")
    p.send(typed)
    assert p.state == "postcode"
    assert p.answers["need_areas"] == ["money"] and "need_areas_typed" not in p.answers


@pytest.mark.parametrize("typed", ["skip", "😢", "ten", "yes", "phone", "tuesdays at 3"])
def test_words_that_are_no_option_get_a_hint_and_are_never_kept(typed: str) -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.send(typed)
    assert p.state == "free_times"
    assert ticked_and_typed(p, "free_times") == ([], [])
    said = p.render_all()[0]
    assert "Tap the ones that fit" in said and "noted" not in said


@pytest.mark.parametrize(("typed", "ticked"), [
    ("mornings", ["weekday_morning"]), ("weekends", ["weekend"]), ("evening", ["weekday_evening"]),
])  # fmt: skip
def test_a_time_of_day_ticks_its_box(typed: str, ticked: list[str]) -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.send(typed)
    assert ticked_and_typed(p, "free_times") == (ticked, [])


def test_a_near_miss_is_offered_as_did_you_mean() -> None:
    p = at_the_tick_boxes()
    p.send("exersize")
    assert p.answers.get("need_areas", []) == [] and "need_areas_typed" not in p.answers
    assert "Did you mean Getting active?" in p.render_all()[0]


@pytest.mark.parametrize("typed", ["nothing", "none", "no", "nothing really"])
def test_nothing_at_the_retired_barriers_question_is_not_stored(typed: str) -> None:
    """What gets in the way is no longer asked before the handoff (a link worker
    asks). A conversation left there moves on, and keeps nothing of what was typed."""
    p = Patient()
    walk_to(p, "suggestions")
    p.conversation = referral.Conversation("barriers", p.conversation.step, p.answers, p.control)
    p.send(typed)
    assert p.state == "suggestions"
    assert "barriers" not in p.answers and "barriers_typed" not in p.answers


def test_words_that_are_no_option_are_kept_only_after_something_else() -> None:
    p = at_the_tick_boxes()
    p.send("I want to learn to cook")
    assert "need_areas_typed" not in p.answers and p.state == "need_areas"
    p.tap("other")
    p.send("I want to learn to cook")
    assert p.answers["need_other"] == "I want to learn to cook"


# --- One-choice questions: loose where people are loose -------------------------------


@pytest.mark.parametrize("typed", ["yes ok", "yess", "I agre", "ok then", "Yes please!"])
def test_consent_in_their_own_words(typed: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(typed)
    assert p.state == "age"


@pytest.mark.parametrize("typed", ["-1", "-2", "0", "4", "I don't agree", "don't agree",
                                   "not sure I agree"])  # fmt: skip
def test_consent_is_never_read_from_a_number_out_of_range_or_a_denial(typed: str) -> None:
    p = Patient()
    p.send("/start")
    p.send(typed)
    assert p.answers.get("consent") != "agree" and p.state != "age"


@pytest.mark.parametrize(("state", "typed", "value"), [
    ("mode", "in persn", "in_person"),
    ("mode", "online pls", "remote"),
    ("mode", "A short bus ride", 5.0),
    ("mode", "short bus ride please", 5.0),
    ("mode", "In person, near home", 1.0),
    ("mode", "in person near hom", 1.0),
])  # fmt: skip
def test_near_labels_are_accepted(state: str, typed: str, value: object) -> None:
    p = Patient()
    walk_to(p, state)
    p.send(typed)
    key = "max_miles" if isinstance(value, float) else state
    assert p.answers[key] == value


@pytest.mark.parametrize(("typed", "stage"), [
    ("16", "under_18"), ("I'm 16", "under_18"), ("im 17", "under_18"),
    ("45", "name"), ("I am 45", "name"), ("72 years old", "name"), ("18", "name"),
])  # fmt: skip
def test_a_typed_age_is_read_as_an_age(typed: str, stage: str) -> None:
    p = Patient()
    walk_to(p, "age")
    p.send(typed)
    assert p.state == stage


@pytest.mark.parametrize("typed", ["-5", "200", "0"])
def test_an_impossible_age_is_asked_again(typed: str) -> None:
    p = Patient()
    walk_to(p, "age")
    p.send(typed)
    assert p.state == "age"


@pytest.mark.parametrize(("typed", "score"), [("6/10", 6), ("6 / 10", 6), ("six", 6),
                                              ("7 out of 10", 7), ("about 4", 4)])  # fmt: skip
def test_scales_read_how_people_write_scores(typed: str, score: int) -> None:
    p = Patient()
    walk_to(p, "wait_life")
    p.send(typed)
    assert p.answers["life_satisfaction"] == score


@pytest.mark.parametrize("typed", ["-3", "11", "6/5"])
def test_a_score_out_of_range_is_never_an_answer(typed: str) -> None:
    p = Patient()
    walk_to(p, "wait_life")
    p.send(typed)
    assert p.state == "wait_life" and "life_satisfaction" not in p.answers


def test_an_activity_typed_by_name_at_the_suggestions_picks_it() -> None:
    p = Patient()
    walk_to(p, "suggestions")
    second = p.control.shown[1]
    p.send(second.name.lower())
    assert p.answers["interested"]["id"] == second.id


# --- Names ----------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "name"), [
    ("my name is Ron", "Ron"), ("My name's Ron.", "Ron"), ("im ron", "Ron"),
    ("I'm Ron", "Ron"), ("call me Ron please", "Ron"), ("it's Mary-Jane", "Mary-Jane"),
    ("Ron", "Ron"), ("ron", "Ron"), ("McDonald", "McDonald"), ("Jo Smith", "Jo Smith"),
])  # fmt: skip
def test_names_are_read_sensibly(typed: str, name: str) -> None:
    p = Patient(first_name=None)
    walk_to(p, "name")
    p.send(typed)
    assert p.answers["name"] == name
    assert f"Thanks, {name}" in " ".join(p.render_all())


@pytest.mark.parametrize("typed", ["i'd rather not say", "rather not", "skip", "no",
                                   "prefer not to say"])  # fmt: skip
def test_no_name_is_fine(typed: str) -> None:
    p = Patient(first_name=None)
    walk_to(p, "name")
    p.send(typed)
    assert p.state == "what_matters" and p.answers["name"] is None
    said = " ".join(p.render_all())
    assert "rather not" not in said.lower().replace("i'd rather not say", "")
    assert "Thanks, i" not in said


def test_no_name_has_a_button_too() -> None:
    p = Patient(first_name="Sam")
    walk_to(p, "name")
    p.tap("rather_not_say")
    assert p.answers["name"] is None and p.state == "what_matters"


# --- Endings that keep their promises -------------------------------------------------


def test_start_after_no_thanks_offers_contact_again() -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    p.tap("no")
    assert "/start" in p.render_all()[-1]
    p.send(Command("start"))
    assert p.state == "contact_method"


def test_status_after_no_thanks_is_true() -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    p.tap("no")
    p.send(Command("status"))
    said = p.render_all()[0]
    assert "haven't finished" not in said
    assert "not to have a link worker contact you" in said


# --- Shorter: what they already said is not asked again --------------------------------


def test_need_areas_named_in_what_matters_are_ticked_for_them_to_check() -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send("Since my wife died I've been lonely, and the bills are piling up")
    assert p.state == "need_areas" and p.answers["need_areas"] == ["loneliness", "money"]
    said = p.render_all()[-1]
    assert "It sounds like Feeling lonely and Money or debt. Is that right?" in said
    p.tap("done")  # one tap, where it was three
    assert p.state == "postcode" and p.answers["need_areas"] == ["loneliness", "money"]


@pytest.mark.parametrize("words", ["I'm not lonely, I just want something to do",
                                   "not sure", "I'd like to try painting"])  # fmt: skip
def test_nothing_is_ticked_for_them_unless_they_named_it(words: str) -> None:
    p = Patient()
    walk_to(p, "what_matters")
    p.send(words)
    assert p.state == "need_areas" and not p.answers.get("need_areas")
    assert "It sounds like" not in p.render_all()[-1]


@pytest.mark.parametrize("answer", ["tap", "any time", "whenever really", "I don't mind"])
def test_any_time_is_one_answer(answer: str) -> None:
    p = Patient()
    walk_to(p, "free_times")
    p.tap("all") if answer == "tap" else p.send(answer)
    assert p.state == "suggestions"
    assert p.answers["free_times"] == ["weekday_morning", "weekday_afternoon",
                                       "weekday_evening", "weekend"]  # fmt: skip


def test_each_part_of_the_conversation_says_where_they_are() -> None:
    p = Patient()
    parts = []
    p.send("/start")
    for at, value in HAPPY_PATH:
        p.send(value) if at in TYPED else p.tap(value)
        parts += [line for text in p.render_all() for line in text.splitlines()
                  if line.startswith(("Part ", "Last question"))]  # fmt: skip
    assert parts == ["Part 2 of 4: what matters to you", "Part 3 of 4: what would suit you",
                     "Part 4 of 4: next steps"] + [
        line for line in parts if line.startswith("Last question")]  # fmt: skip
    assert parts[-1].startswith("Last question")


def test_a_part_is_not_announced_again_when_its_question_is_asked_again() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send("not a postcode at all")
    assert not any("Part 3" in text for text in p.render_all())


# --- An honest close -------------------------------------------------------------------


def test_the_handoff_reads_back_how_and_when_they_will_be_contacted() -> None:
    p = Patient()
    walk_to(p, "wait_life")  # phone, 07911 123456, mornings: handed off
    said = p.render_all()[0]
    assert "a link worker will phone you on 07911 123456 in the morning, soon." in said
    assert "If any of that is wrong" in said and "+44" not in said


def test_a_time_outside_working_hours_is_answered_with_when_link_workers_work() -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    assert "They work Monday to Friday, 9am to 5pm" in p.render_all()[-1]
    p.send("phone me in the evening")
    p.send("07911 123456")
    assert "Our link workers work Monday to Friday, 9am to 5pm" in p.render_all()[0]


def test_status_says_how_they_will_be_contacted() -> None:
    p = Patient()
    walk_to(p, "handed_off")
    p.case_opened("SP-TEST")
    p.case = CaseView("SP-TEST", "claimed", link_worker="Sam")
    p.send(Command("status"))
    said = p.render_all()[0]
    assert "Sam is looking after it and will phone you on 07911 123456 in the morning." in said


@pytest.mark.parametrize(("postcode", "outside"), [
    ("M1 1AE", True), ("PR9 0AA", True), ("L20 3AB", False), ("l21", False), ("L3 5TQ", False),
])  # fmt: skip
def test_a_postcode_outside_the_area_is_told_at_once(postcode: str, outside: bool) -> None:
    """(Issue 13: told only at the end, with nothing to suggest.)"""
    p = Patient()
    p.service_area = ("L", "PR8")
    walk_to(p, "postcode")
    p.send(postcode)
    assert p.state == "mode"  # and the questions go on: a link worker can still help
    said = " ".join(p.render_all())
    assert ("outside the area our link workers cover" in said) is outside
    if outside:
        assert "online or by phone" in said


def test_with_no_service_area_set_no_postcode_is_outside() -> None:
    p = Patient()
    walk_to(p, "postcode")
    p.send("M1 1AE")
    assert "outside the area" not in " ".join(p.render_all())


@pytest.mark.parametrize(("answer", "next_state", "method"), [
    ("phone_morning", "phone", "phone"), ("phone_afternoon", "phone", "phone"),
    ("message", "wait_life", "message"),
])  # fmt: skip
def test_whether_and_how_to_be_contacted_is_one_answer(
    answer: str, next_state: str, method: str
) -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    assert [o.label for o in p.question().options] == [
        "contact_yes_message", "contact_phone_morning", "contact_phone_afternoon",
        "contact_no"]  # fmt: skip
    p.tap(answer)
    assert p.state == next_state
    assert (p.answers["contact_wanted"], p.answers["contact_method"]) == ("yes", method)


def test_yes_typed_on_its_own_asks_how() -> None:
    p = Patient()
    walk_to(p, "contact_wanted")
    p.send("yes please")
    assert p.state == "contact_method" and p.answers["contact_wanted"] == "yes"


@pytest.mark.parametrize("typed", ["2", "number 2"])
def test_a_number_typed_at_the_suggestions_is_that_activity(typed: str) -> None:
    """Each card has two buttons (I'm interested, More about): a number typed on its
    own is the card's number, as the cards are numbered."""
    p = Patient()
    walk_to(p, "suggestions")
    second = p.control.shown[1]
    p.send(typed)
    assert p.answers["interested"]["id"] == second.id


def test_words_read_only_by_a_guess_tick_but_do_not_answer_the_question() -> None:
    """("purple monkey dishwasher": "monkey" is near "money".) A guess past words it
    could not read is shown ticked, to check, not taken as the whole answer."""
    p = at_the_tick_boxes()
    p.send("purple monkey dishwasher")
    assert p.state == "need_areas" and p.templates() == ["referral/need_areas"]
