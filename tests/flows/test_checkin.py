"""The check-in conversation as a pure table: every branch reaches the state it
should and names the effects the service records; and the sending window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from flows import checkin
from flows.checkin import Begin, CheckInContext, CheckInState, Remind, TimedOut
from flows.core import (
    AddToCase,
    AskForLinkWorker,
    Button,
    CheckInAnswer,
    CheckInSooner,
    Command,
    Crisis,
    FinishCheckIn,
    PauseCheckIns,
    RaiseSafetyAlert,
    RecordAttendance,
    RecordWellbeing,
    Reply,
    StopCheckIns,
    Text,
)
from flows.diagram import checkin_diagram
from flows.directory import Profile
from flows.schedule import at_their_time, check_in_times, is_quiet, preferred_time
from flows.summary import ActivityRef
from tests.fakes import FakeDirectory

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
WALKING = ActivityRef(id="walk-1", name="Bootle Walking Football", organisation="Sefton Sport")


def context(**changes: Any) -> CheckInContext:
    base: dict[str, Any] = {
        "label_of": lambda option: option.label, "now": NOW, "directory": FakeDirectory(),
        "name": "Arthur", "activity": WALKING, "days_since": 7, "profile": Profile(),
        "contact_by": date(2026, 12, 2), "working_hours": "Mon-Fri 09:00-17:00",
        "baseline": {"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7},
    }  # fmt: skip
    return CheckInContext(**{**base, **changes})


class Walk:
    """One check-in, event by event, as the service would run it."""

    def __init__(self, **ctx: Any) -> None:
        self.ctx = context(**ctx)
        self.current = CheckInState()
        self.effects: list[Any] = []
        self.replies: list[Any] = []
        self.send(Begin())

    def send(self, event: Any) -> None:
        result = checkin.handle(self.current, event, self.ctx)
        self.current = CheckInState(result.state, result.step, result.answers, result.control)
        self.effects += result.effects
        self.replies = [r for r in result.replies if isinstance(r, Reply)]
        self.tap_notice = result.tap_notice

    def tap(self, value: str) -> None:
        self.send(Button(self.current.step, value))

    @property
    def state(self) -> str:
        return self.current.state

    def said(self) -> list[str]:
        return [r.template for r in self.replies]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]


def test_it_opens_with_the_activity_and_every_choice() -> None:
    walk = Walk()
    assert walk.state == "opening"
    [question] = walk.replies
    assert question.template == "checkin/opening" and question.context["days"] == 7
    assert [o.value for o in question.options] == [
        "liked", "not_for_me", "not_yet", "talk", "pause", "stop"]  # fmt: skip


def test_went_and_liked_it_asks_what_would_help_and_keeps_the_next_one() -> None:
    walk = Walk()
    walk.tap("liked")
    assert walk.state == "keep_going" and walk.of(RecordAttendance) == [
        RecordAttendance("attended")
    ]
    walk.send(Text("A lift on rainy days"))
    assert walk.state == "done" and walk.said() == ["checkin/thanks"]
    assert CheckInAnswer("keep_going", "words", "A lift on rainy days") in walk.effects
    assert walk.of(FinishCheckIn) == [FinishCheckIn("attended")]
    assert not walk.of(PauseCheckIns) and not walk.of(StopCheckIns)


@pytest.mark.parametrize(("then", "effect", "state"), [
    ("talk", AskForLinkWorker("talk"), "done"),
    ("try_again", CheckInSooner(checkin.SOONER_DAYS), "done"),
])  # fmt: skip
def test_not_been_yet_asks_what_got_in_the_way_then_offers_help(
    then: str, effect: Any, state: str
) -> None:
    walk = Walk()
    walk.tap("not_yet")
    assert walk.state == "barrier" and walk.of(RecordAttendance) == [RecordAttendance("not_yet")]
    walk.tap("getting_there")
    assert walk.state == "next_step"
    assert CheckInAnswer("barrier", "getting_there", None) in walk.effects
    walk.tap(then)
    assert walk.state == state and effect in walk.effects
    assert walk.of(FinishCheckIn) == [FinishCheckIn("talk" if then == "talk" else "not_yet")]


def test_their_own_words_for_what_got_in_the_way_are_kept_as_something_else() -> None:
    walk = Walk()
    walk.tap("not_yet")
    walk.send(Text("my knee was bad"))
    assert walk.state == "next_step"
    assert CheckInAnswer("barrier", "other", "my knee was bad") in walk.effects


def test_not_for_me_then_something_else_leaves_that_one_out() -> None:
    walk = Walk()
    walk.tap("not_for_me")
    walk.tap("skip")
    assert walk.state == "other_suggestions"
    shown = walk.current.control.shown
    assert shown and WALKING.id not in [s.id for s in shown]
    walk.tap("pick_1")
    assert walk.state == "done"
    [asked] = walk.of(AskForLinkWorker)
    assert asked.why == "interested" and asked.activity == shown[1]


def test_not_for_me_with_nothing_else_to_offer_asks_about_a_link_worker() -> None:
    walk = Walk(directory=FakeDirectory([]))
    walk.tap("not_for_me")
    walk.send(Text("Too noisy"))
    assert walk.state == "other_suggestions" and walk.current.control.shown == ()
    [question] = walk.replies[-1:]
    assert [o.value for o in question.options] == ["talk", "none"]
    walk.tap("none")
    assert walk.state == "done" and not walk.of(AskForLinkWorker)


def test_talk_pause_and_stop_from_the_first_question() -> None:
    talk = Walk()
    talk.tap("talk")
    assert talk.state == "done" and talk.of(AskForLinkWorker) == [AskForLinkWorker("talk")]
    pause = Walk()
    pause.tap("pause")
    assert pause.state == "done" and pause.of(PauseCheckIns) == [PauseCheckIns(28)]
    stop = Walk()
    stop.tap("stop")
    assert stop.state == "stop_reason" and not stop.of(StopCheckIns)
    stop.send(Text("too many messages"))
    assert stop.state == "done" and stop.of(StopCheckIns) == [StopCheckIns("too many messages")]


def test_typing_stop_stops_from_any_question() -> None:
    walk = Walk()
    walk.tap("not_yet")
    walk.send(Command("stop"))
    assert walk.state == "stop_reason"


def test_the_last_check_in_asks_about_wellbeing_and_compares() -> None:
    walk = Walk(wellbeing_due=True)
    walk.tap("liked")
    walk.tap("skip")
    assert walk.state == "ons_life"
    for score in ("6", "5", "5"):
        walk.send(Text(score))
    walk.tap("skip")  # anxiety: skipped
    assert walk.state == "done"
    assert walk.of(RecordWellbeing) == [RecordWellbeing("check_in", {
        "life_satisfaction": 6, "worthwhile": 5, "happiness": 5, "anxiety": None})]  # fmt: skip
    [compared] = [r for r in walk.replies if r.template == "checkin/wellbeing_compared"]
    by_key = {c.key: c for c in compared.context["changes"]}
    assert by_key["life_satisfaction"].better is True
    assert by_key["worthwhile"].better is None  # the same
    assert by_key["anxiety"].better is None  # not answered now


def test_anxiety_going_down_is_better() -> None:
    [*_, anxiety] = checkin.compare({"anxiety": 7}, {"anxiety": 3})
    assert anxiety.better is True


def test_crisis_words_are_answered_without_moving() -> None:
    walk = Walk()
    walk.tap("not_yet")
    walk.send(Crisis("suicide", "i cant go on", ("rule",)))
    assert walk.state == "barrier"
    assert walk.of(RaiseSafetyAlert) == [RaiseSafetyAlert("suicide", "i cant go on", ("rule",))]
    assert walk.said()[0] == "safety/suicide" and walk.said()[-1] == "checkin/barrier"


def test_words_that_answer_nothing_go_to_the_link_worker_and_the_question_stays() -> None:
    walk = Walk()
    walk.send(Text("can you ring me about parking"))
    assert walk.state == "opening"
    assert walk.of(AddToCase) == [AddToCase("can you ring me about parking")]
    assert walk.said() == ["checkin/passed_on", "checkin/opening_again"]


def test_an_old_button_does_nothing() -> None:
    walk = Walk()
    old = walk.current.step
    walk.tap("not_yet")
    walk.send(Button(old, "stop"))
    assert walk.state == "barrier" and walk.tap_notice == "stale"


def test_a_reminder_asks_again_gently_and_silence_ends_it_quietly() -> None:
    walk = Walk()
    walk.send(Remind())
    assert walk.said() == ["checkin/reminder"] and walk.state == "opening"
    walk.send(TimedOut())
    assert walk.state == "done" and walk.replies == []
    assert walk.of(FinishCheckIn) == [FinishCheckIn(None)]


def test_every_row_of_the_table_is_drawn() -> None:
    diagram = checkin_diagram()
    for state in checkin.STATES:
        assert f'state "{state}"' in diagram
    assert "opening --> barrier: answer [not_been_yet]" in diagram
    assert "asking --> done: time_out" in diagram


# --- the sending window -----------------------------------------------------------------

LONDON = ZoneInfo("Europe/London")
QUIET = (time(21, 0), time(9, 0))


def test_quiet_hours_cross_midnight() -> None:
    assert is_quiet(datetime(2026, 12, 1, 22, 0, tzinfo=UTC), QUIET, LONDON)
    assert is_quiet(datetime(2026, 12, 1, 8, 59, tzinfo=UTC), QUIET, LONDON)
    assert not is_quiet(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), QUIET, LONDON)
    # 20:30 in London in summer is 19:30 UTC: not quiet; 21:30 BST is.
    assert not is_quiet(datetime(2026, 7, 1, 19, 30, tzinfo=UTC), QUIET, LONDON)
    assert is_quiet(datetime(2026, 7, 1, 20, 30, tzinfo=UTC), QUIET, LONDON)


def test_check_ins_aim_for_their_time_of_day_in_local_time() -> None:
    referred = datetime(2026, 3, 20, 15, 45, tzinfo=UTC)  # before the clocks go forward
    times = check_in_times(referred, [timedelta(days=7), timedelta(days=28)],
                           preferred_time("evenings"), QUIET, LONDON)  # fmt: skip
    # 18:30 in London: GMT on 27 March, BST (UTC+1) on 17 April.
    assert times == [datetime(2026, 3, 27, 18, 30, tzinfo=UTC),
                     datetime(2026, 4, 17, 17, 30, tzinfo=UTC)]  # fmt: skip


def test_their_free_times_are_used_when_no_best_time_was_given() -> None:
    assert preferred_time(None, ["weekend", "weekday_afternoon"]) == time(14, 0)
    assert preferred_time("any", []) == time(11, 0)


def test_an_aim_inside_quiet_hours_moves_to_when_they_end() -> None:
    late = at_their_time(NOW, time(22, 30), QUIET, LONDON)
    assert late == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_weaker_sign_is_signposted_and_sent_to_the_link_worker_at_once() -> None:
    walk = Walk()
    walk.tap("not_for_me")
    walk.send(Text("everyone would be better off without me there", concern="weak_sign"))
    assert walk.state == "other_suggestions"
    assert walk.said()[0] == "checkin/weak_sign"
    assert AddToCase("everyone would be better off without me there", kept_already=True) in (
        walk.effects
    )


def test_a_health_worry_gets_the_advice_to_see_someone() -> None:
    walk = Walk()
    walk.tap("not_yet")
    walk.send(Text("chest pains when I walk", concern="health_worry"))
    assert walk.said()[0] == "safety/health_worry" and walk.state == "next_step"
