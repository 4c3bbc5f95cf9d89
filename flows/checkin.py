"""The check-in conversation after a referral: did they go, how was it, what got in
the way, and what next; and, at the last check-in, the wellbeing questions again.

Read TRANSITIONS like the diagram (`spbot diagram` draws it): the dispatcher
begins a check-in ("Hi Arthur, it's a week since you were put in touch with
Bootle Walking Football. How's it going?"); each answer moves it on; every
branch ends in `done`, where the patient is back to their usual conversation
(whatever they write goes to their link worker). Every word is in
messages/en/checkin/.

Pure, like the referral (docs/architecture.md rule 7): what an answer records is
an effect named in its row; the service writes it onto the case, the referral
and the anonymous milestones. Crisis words are answered in any state, without
moving: the crisis reply, an alert for the team, and the question again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from transitions import EventData, Machine

from flows.core import (
    AddToCase,
    AskForLinkWorker,
    Button,
    CheckInAnswer,
    CheckInSooner,
    CloseQuestion,
    Command,
    Crisis,
    Edited,
    Effect,
    Event,
    FinishCheckIn,
    FlowResult,
    PauseCheckIns,
    RaiseSafetyAlert,
    RecordAttendance,
    RecordWellbeing,
    Reply,
    StopCheckIns,
    Text,
    Unsupported,
    WorkerTookOver,
    bind_triggers,
)
from flows.directory import Directory, Profile, Suggestion
from flows.questions import (
    NO,
    SKIP,
    Answer,
    Choice,
    Invalid,
    LabelOf,
    match_choice,
    read_scale,
    read_text,
)
from flows.summary import ActivityRef, Record
from flows.wellbeing import MEASURES

#: "Pause these messages": for four weeks, then they carry on.
PAUSE_DAYS = 28
#: "I'll try again": the next check-in comes this much sooner.
SOONER_DAYS = 7
#: The wellbeing questions are asked again at the last check-in, and at any check-in
#: this long after the baseline.
WELLBEING_AFTER_DAYS = 56
LIMIT_TEXT = 1000
OTHERS_SHOWN = 3

STATES = [
    "new", "opening",
    "keep_going",
    "barrier", "next_step",
    "why_not", "other_suggestions",
    "ons_life", "ons_worthwhile", "ons_happy", "ons_anxious",
    "stop_reason",
    "done",
]  # fmt: skip
#: Where a check-in is under way (crisis words are answered in any of them).
ASKING = [s for s in STATES if s not in ("new", "done")]
GROUPS = {"asking": ("any question of the check-in", ASKING)}

# trigger, source, dest, prepare, conditions (all must hold; they only look), after.
# Rows are tried top to bottom; the first whose conditions hold wins.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "begin", "source": "new", "dest": "opening", "after": "greet"},
    {"trigger": "remind", "source": "opening", "dest": "opening", "after": "remind_gently"},
    # How's it going?
    {"trigger": "answer", "source": "opening", "dest": "keep_going", "conditions": "went_and_liked_it", "after": "record_attended"},
    {"trigger": "answer", "source": "opening", "dest": "why_not", "conditions": "not_for_them", "after": "record_not_for_them"},
    {"trigger": "answer", "source": "opening", "dest": "barrier", "conditions": "not_been_yet", "after": "record_not_yet"},
    {"trigger": "answer", "source": "opening", "dest": "done", "conditions": "wants_to_talk", "after": "ask_for_link_worker"},
    {"trigger": "answer", "source": "opening", "dest": "done", "conditions": "pauses", "after": "pause_check_ins"},
    {"trigger": "answer", "source": "opening", "dest": "stop_reason", "conditions": "stops"},
    # Went and liked it: anything that would help them keep going, then the next check-in stays.
    {"trigger": "answer", "source": "keep_going", "dest": "ons_life", "conditions": "wellbeing_due", "after": "record_words"},
    {"trigger": "answer", "source": "keep_going", "dest": "done", "after": ["record_words", "thank"]},
    # Not been yet: what got in the way, then a link worker, something else, or try again.
    {"trigger": "answer", "source": "barrier", "dest": "next_step", "after": "record_barrier"},
    {"trigger": "answer", "source": "next_step", "dest": "done", "conditions": "wants_to_talk", "after": "ask_for_link_worker"},
    {"trigger": "answer", "source": "next_step", "dest": "other_suggestions", "conditions": "wants_something_else", "prepare": "find_others"},
    {"trigger": "answer", "source": "next_step", "dest": "ons_life", "conditions": "wellbeing_due", "after": "try_again"},
    {"trigger": "answer", "source": "next_step", "dest": "done", "after": ["try_again", "finish_quietly"]},
    # Not for them: why (optional), then something else or a link worker.
    {"trigger": "answer", "source": "why_not", "dest": "other_suggestions", "prepare": "find_others", "after": "record_words"},
    {"trigger": "answer", "source": "other_suggestions", "dest": "done", "conditions": "picked_one", "after": "ask_about_pick"},
    {"trigger": "answer", "source": "other_suggestions", "dest": "done", "conditions": "wants_to_talk", "after": "ask_for_link_worker"},
    {"trigger": "answer", "source": "other_suggestions", "dest": "ons_life", "conditions": "wellbeing_due"},
    {"trigger": "answer", "source": "other_suggestions", "dest": "done", "after": "thank"},
    # The wellbeing questions again, and how the answers compare with the first time.
    {"trigger": "answer", "source": "ons_life", "dest": "ons_worthwhile"},
    {"trigger": "answer", "source": "ons_worthwhile", "dest": "ons_happy"},
    {"trigger": "answer", "source": "ons_happy", "dest": "ons_anxious"},
    {"trigger": "answer", "source": "ons_anxious", "dest": "done", "after": "compare_wellbeing"},
    # Stop: no more check-ins for this referral, with an optional reason.
    {"trigger": "answer", "source": "stop_reason", "dest": "done", "after": "stop_check_ins"},
    {"trigger": "stop", "source": ASKING, "dest": "stop_reason"},
    # Left unanswered (after the reminder), or halfway for as long: it ends with what it has.
    {"trigger": "time_out", "source": ASKING, "dest": "done", "after": "finish_quietly"},
]  # fmt: skip

#: The wellbeing questions' states, and the ONS4 measure each stores.
ONS4 = dict(zip(("ons_life", "ons_worthwhile", "ons_happy", "ons_anxious"), MEASURES, strict=True))
#: "How's it going?", as the referral records whether they went.
WENT = {"liked": "attended", "not_for_me": "not_for_them", "not_yet": "not_yet"}

SKIP_CHOICE = Choice("skip", "skip", SKIP + ("no", "nothing", "none", "no thanks"))
TALK = ("talk", "talk to someone", "someone", "call me", "ring me", "speak to someone",
        "link worker", "a person", "help")  # fmt: skip


@dataclass(frozen=True)
class Ask:
    template: str
    key: str
    choices: tuple[Choice, ...] = ()
    #: "choice": a button (or its words); "words": typed, or a choice that means
    #: "nothing to add"; "barrier": a button, or their own words for "something
    #: else"; "scale": 0-10; "suggestions": other activities.
    kind: str = "choice"


QUESTIONS: dict[str, Ask] = {
    "opening": Ask("checkin/opening", "went", (
        Choice("liked", "checkin_liked", ("went", "i went", "liked it", "loved it", "good", "great")),
        Choice("not_for_me", "checkin_not_for_me", ("not for me", "didnt like it", "didnt like")),
        Choice("not_yet", "checkin_not_yet", ("not yet", "havent been", "not been", "no not yet")),
        Choice("talk", "checkin_talk", TALK),
        Choice("pause", "checkin_pause", ("pause", "later", "not now")),
        Choice("stop", "checkin_stop", ("stop", "stop messages", "unsubscribe", "leave me alone")),
    )),
    "keep_going": Ask("checkin/keep_going", "would_help", (SKIP_CHOICE,), kind="words"),
    "barrier": Ask("checkin/barrier", "barrier", (
        Choice("getting_there", "barrier_getting_there", ("getting there", "transport", "travel", "bus", "lift")),
        Choice("nerves", "barrier_nerves_checkin", ("nerves", "nervous", "anxious", "scared")),
        Choice("time", "barrier_time", ("time", "no time", "busy", "work")),
        Choice("cost", "barrier_cost_checkin", ("cost", "money", "price", "too expensive")),
        Choice("health", "barrier_health_checkin", ("health", "ill", "poorly", "unwell", "pain")),
        Choice("other", "barrier_other", ("something else", "other")),
    ), kind="barrier"),
    "next_step": Ask("checkin/next_step", "next_step", (
        Choice("talk", "next_talk", TALK),
        Choice("something_else", "next_something_else", ("something else", "different", "another", "other")),
        Choice("try_again", "next_try_again", ("try again", "ill try again", "again", "ill try")),
    )),
    "why_not": Ask("checkin/why_not", "why_not", (SKIP_CHOICE,), kind="words"),
    "other_suggestions": Ask("checkin/other_suggestions", "picked", kind="suggestions"),
    **{state: Ask(f"checkin/{state}", key, kind="scale") for state, key in ONS4.items()},
    "stop_reason": Ask("checkin/stop_reason", "stop_reason", (SKIP_CHOICE,), kind="words"),
}  # fmt: skip


# --- The inputs a check-in needs besides the event ---------------------------------


@dataclass(frozen=True)
class Begin:
    """The dispatcher starts a check-in that is due."""


@dataclass(frozen=True)
class Remind:
    """A check-in went unanswered for CHECKIN_REMINDER: ask once more, gently."""


@dataclass(frozen=True)
class TimedOut:
    """Nobody answered for long enough: end it quietly (no message)."""


CheckInEvent = Event | Begin | Remind | TimedOut


@dataclass(frozen=True)
class CheckInContext:
    label_of: LabelOf
    now: datetime
    directory: Directory
    #: The person's name as they gave it, and what they are asked about.
    name: str | None
    activity: ActivityRef
    #: Days since they were put in touch with the activity.
    days_since: int
    #: What matching needs to find something else (the referral's answers).
    profile: Profile = field(default_factory=Profile)
    #: A link worker's own line, for a check-in they asked for.
    note: str | None = None
    worker: str | None = None
    #: Ask the wellbeing questions again, and their first answers to compare with.
    wellbeing_due: bool = False
    baseline: dict[str, int | None] = field(default_factory=dict)
    #: When a link worker will be in touch, honest about working hours.
    contact_by: date | None = None
    working_hours: str = ""


class CheckInControl(Record):
    """What the check-in keeps besides the answers: the other activities it showed."""

    shown: tuple[ActivityRef, ...] = ()


@dataclass
class CheckInState:
    state: str = "new"
    step: int = 0
    answers: dict[str, Any] = field(default_factory=dict)
    control: CheckInControl = field(default_factory=CheckInControl)


class CheckIn:
    """The model a Machine drives for one event (`send_event=True`)."""

    begin: Callable[[], bool]
    remind: Callable[[], bool]
    answer: Callable[[], bool]
    stop: Callable[[], bool]
    time_out: Callable[[], bool]

    def __init__(self, current: CheckInState, ctx: CheckInContext) -> None:
        self.state = current.state
        self.step = current.step
        self.answers = dict(current.answers)
        self.control = current.control
        self.ctx = ctx
        self.replies: list[Reply | CloseQuestion] = []
        self.effects: list[Effect] = []
        self.tap_notice: str | None = None
        self.chosen: Any = None
        self.words: str | None = None  # their own words with this answer
        self.others: list[Suggestion] = []
        self.opening_template = "checkin/opening_again"  # asked again after other words

    # Conditions (named in TRANSITIONS): they only look --------------------------------
    def went_and_liked_it(self, _: EventData) -> bool:
        return self.chosen == "liked"

    def not_for_them(self, _: EventData) -> bool:
        return self.chosen == "not_for_me"

    def not_been_yet(self, _: EventData) -> bool:
        return self.chosen == "not_yet"

    def wants_to_talk(self, _: EventData) -> bool:
        return self.chosen == "talk"

    def pauses(self, _: EventData) -> bool:
        return self.chosen == "pause"

    def stops(self, _: EventData) -> bool:
        return self.chosen == "stop"

    def wants_something_else(self, _: EventData) -> bool:
        return self.chosen == "something_else"

    def picked_one(self, _: EventData) -> bool:
        return isinstance(self.chosen, str) and self.chosen.startswith("pick_")

    def wellbeing_due(self, _: EventData) -> bool:
        return self.ctx.wellbeing_due

    # Looking things up first (named as "prepare") -------------------------------------
    def find_others(self, _: EventData) -> None:
        profile = self.ctx.profile
        leave_out = (*profile.declined, self.ctx.activity.id)
        found = self.ctx.directory.suggest(
            Profile(**{**profile.__dict__, "declined": leave_out}), OTHERS_SHOWN, 0
        )
        self.others = found
        self.control = self.control.model_copy(
            update={"shown": tuple(ActivityRef(id=s.activity_id, name=s.name,
                                               organisation=s.organisation) for s in found)}
        )  # fmt: skip

    # What moves record (named in TRANSITIONS) -----------------------------------------
    def greet(self, _: EventData) -> None:
        self._opening("checkin/opening")

    def remind_gently(self, _: EventData) -> None:
        self._opening("checkin/reminder")

    def record_attended(self, _: EventData) -> None:
        self.effects.append(RecordAttendance(WENT["liked"]))

    def record_not_for_them(self, _: EventData) -> None:
        self.effects.append(RecordAttendance(WENT["not_for_me"]))

    def record_not_yet(self, _: EventData) -> None:
        self.effects.append(RecordAttendance(WENT["not_yet"]))

    def record_words(self, event: EventData) -> None:
        assert event.transition is not None
        if self.words:
            self.effects.append(CheckInAnswer(event.transition.source, "words", self.words))

    def record_barrier(self, _: EventData) -> None:
        self.effects.append(CheckInAnswer("barrier", str(self.chosen), self.words))

    def ask_for_link_worker(self, _: EventData) -> None:
        self.effects.append(AskForLinkWorker("talk"))
        self.effects.append(FinishCheckIn("talk"))
        self._say("checkin/link_worker_asked", by=self.ctx.contact_by, hours=self.ctx.working_hours)

    def ask_about_pick(self, _: EventData) -> None:
        picked = self.control.shown[int(str(self.chosen).removeprefix("pick_"))]
        self.answers["interested"] = picked.model_dump()
        self.effects.append(CheckInAnswer("other_suggestions", "interested", picked.name))
        self.effects.append(AskForLinkWorker("interested", picked))
        self.effects.append(FinishCheckIn("interested"))
        self._say(
            "checkin/pick_passed_on",
            activity=picked,
            by=self.ctx.contact_by,
            hours=self.ctx.working_hours,
        )

    def pause_check_ins(self, _: EventData) -> None:
        self.effects.append(PauseCheckIns(PAUSE_DAYS))
        self.effects.append(FinishCheckIn("paused"))
        self._say("checkin/paused", weeks=PAUSE_DAYS // 7)

    def stop_check_ins(self, _: EventData) -> None:
        self.effects.append(StopCheckIns(self.words))
        self.effects.append(FinishCheckIn("stopped"))
        self._say("checkin/stopped")

    def try_again(self, _: EventData) -> None:
        self.effects.append(CheckInSooner(SOONER_DAYS))
        self._say("checkin/try_again", days=SOONER_DAYS)

    def thank(self, _: EventData) -> None:
        self.effects.append(FinishCheckIn(self._went()))
        self._say("checkin/thanks", went=self._went())

    def finish_quietly(self, _: EventData) -> None:
        self.effects.append(FinishCheckIn(self._went()))

    def compare_wellbeing(self, _: EventData) -> None:
        scores = {key: self.answers.get(key) for key in ONS4.values()}
        self.effects.append(RecordWellbeing("check_in", scores))
        self.effects.append(FinishCheckIn(self._went()))
        self._say(
            "checkin/wellbeing_compared",
            changes=compare(self.ctx.baseline, scores),
            compared=any(v is not None for v in self.ctx.baseline.values()),
        )

    # Handling one event ---------------------------------------------------------------
    def handle(self, event: CheckInEvent) -> FlowResult[CheckInControl]:
        if isinstance(event, Begin):
            self.begin()
            self._ask(first=True)
        elif isinstance(event, Remind):
            if self.state == "opening":
                self.remind()
                self._ask(first=True)
        elif isinstance(event, TimedOut):
            if self.state in ASKING:
                self.time_out()
        elif isinstance(event, WorkerTookOver) or self.state in ("new", "done"):
            pass
        elif isinstance(event, Crisis):
            self.effects.append(RaiseSafetyAlert(event.category, event.text, event.reasons))
            self.effects.append(AddToCase(event.text, kept_already=True))
            self._say(f"safety/{event.category}", with_team=True, young=False)
            self._ask()
        elif isinstance(event, Command):
            if event.name == "stop" and self.state != "stop_reason":
                self.stop()
            self._ask()
        elif isinstance(event, Unsupported):
            self._say("referral/unsupported", kind=event.kind)
            self._ask()
        elif isinstance(event, Edited):
            self.effects.append(AddToCase(event.text, edited=True))
        elif isinstance(event, Button) and event.step != self.step:
            self.tap_notice = "stale"
        else:
            assert isinstance(event, Text | Button)
            if isinstance(event, Text) and event.concern:
                self._concern(event)
            self._answer(event)
        return FlowResult(self.state, self.step, self.answers, self.control,
                          self.replies, self.effects, self.tap_notice)  # fmt: skip

    def _answer(self, event: Text | Button) -> None:
        ask = QUESTIONS[self.state]
        outcome = READERS[ask.kind](self, ask, event)
        if outcome is None:  # their words, kept for their link worker: ask again
            self._ask()
            return
        if isinstance(outcome, Invalid):
            self._say(outcome.template, **outcome.context)
            self._ask()
            return
        self.chosen = outcome.value
        self.answers[ask.key] = outcome.value
        self.replies.append(CloseQuestion(outcome.chosen_label, outcome.chosen_context))
        if self.state == "opening":
            self.effects.append(CheckInAnswer("opening", str(outcome.value)))
        elif ask.kind == "scale":
            self.effects.append(CheckInAnswer(self.state, str(outcome.value)))
        self.answer()
        self._ask()

    def _concern(self, event: Text) -> None:
        """A sign short of a crisis. A health worry: where to get it looked at. A
        weaker sign of thoughts of harm: where to get help now, and their words go
        to their link worker at once (the answer is still taken as an answer)."""
        if event.concern == "health_worry":
            self._say("safety/health_worry")
        elif event.concern == "weak_sign":
            self._say("checkin/weak_sign")
            if QUESTIONS[self.state].kind != "choice":  # (a choice passes its words on itself)
                self.effects.append(AddToCase(event.text, kept_already=True))

    def _went(self) -> str | None:
        """Whether they went, as the referral records it."""
        return WENT.get(str(self.answers.get("went")))

    # Saying things --------------------------------------------------------------------
    def _say(self, template: str, **context: Any) -> None:
        self.replies.append(Reply(template, {**self._common(), **context}))

    def _common(self) -> dict[str, Any]:
        return {"name": self.ctx.name, "activity": self.ctx.activity}

    def _opening(self, template: str) -> None:
        """How the first question is put: `_ask` sends it, with its buttons."""
        self.opening_template = template

    def _ask(self, *, first: bool = False) -> None:
        ask = QUESTIONS.get(self.state)
        if ask is None:
            return
        self.step += 1
        template = ask.template
        context: dict[str, Any] = {**self._common()}
        if self.state == "opening":
            template = self.opening_template
            context.update(days=self.ctx.days_since, weeks=round(self.ctx.days_since / 7),
                           note=self.ctx.note, worker=self.ctx.worker,
                           first=first)  # fmt: skip
        options = [c.option() for c in ask.choices]
        if ask.kind == "scale":
            options = [Choice(str(n), "number", label_context={"n": n}).option() for n in range(11)]
            options.append(SKIP_CHOICE.option())
        elif ask.kind == "suggestions":
            shown = self.others or []
            context["suggestions"] = shown
            context["shown"] = list(self.control.shown)
            options = [
                Choice(f"pick_{i}", "interested", label_context={"n": i + 1}).option()
                for i in range(len(self.control.shown))
            ]
            options += [Choice("talk", "next_talk").option(), Choice("none", "no_thanks").option()]
        columns = {"scale": 6, "barrier": 2}.get(ask.kind, 1)
        self.replies.append(Reply(template, context, tuple(options), step=self.step,
                                  columns=columns))  # fmt: skip


# --- How each kind of question reads an answer ---------------------------------------

Outcome = Answer | Invalid | None


def _read_choice(flow: CheckIn, ask: Ask, event: Text | Button) -> Outcome:
    choice = match_choice(event, ask.choices, flow.ctx.label_of)
    if choice is not None:
        return Answer(choice.value, choice.label, dict(choice.label_context))
    if isinstance(event, Button):
        return Invalid("referral/errors/choose", {"count": len(ask.choices)})
    # Not one of ours: their words are for their link worker (nothing is lost), and
    # the question stays.
    text = read_text(event, LIMIT_TEXT * 8)
    if isinstance(text, Invalid):
        return text
    flow.effects.append(AddToCase(text))
    flow._say("checkin/passed_on")
    return None


def _read_words(flow: CheckIn, ask: Ask, event: Text | Button) -> Outcome:
    """Optional words: typed, or the button that says there is nothing to add."""
    choice = match_choice(event, ask.choices, flow.ctx.label_of)
    if choice is not None:
        return Answer(None, choice.label)
    text = read_text(event, LIMIT_TEXT)
    if isinstance(text, Invalid):
        return text
    flow.words = text
    return Answer(text, "typed", {"text": text})


def _read_barrier(flow: CheckIn, ask: Ask, event: Text | Button) -> Outcome:
    """A button, or their own words (kept as "something else", word for word)."""
    choice = match_choice(event, ask.choices, flow.ctx.label_of)
    if choice is not None:
        return Answer(choice.value, choice.label, dict(choice.label_context))
    text = read_text(event, LIMIT_TEXT)
    if isinstance(text, Invalid):
        return text
    flow.words = text
    return Answer("other", "typed", {"text": text})


def _read_scale(flow: CheckIn, ask: Ask, event: Text | Button) -> Outcome:
    value = read_scale(event, 0, 10)
    if isinstance(value, Invalid):
        return value
    if value is None:
        return Answer(None, "skip")
    return Answer(value, "number", {"n": value})


def _read_suggestion(flow: CheckIn, ask: Ask, event: Text | Button) -> Outcome:
    shown = flow.control.shown
    choices = [Choice(f"pick_{i}", "interested", (str(i + 1),), {"n": i + 1})
               for i in range(len(shown))]  # fmt: skip
    choices += [Choice("talk", "next_talk", TALK),
                Choice("none", "no_thanks", NO + ("none", "none of these"))]  # fmt: skip
    choice = match_choice(event, choices, flow.ctx.label_of)
    if choice is None:
        return Invalid("referral/errors/choose", {"count": len(choices)})
    return Answer(choice.value, choice.label, dict(choice.label_context))


READERS: dict[str, Callable[[CheckIn, Ask, Text | Button], Outcome]] = {
    "choice": _read_choice,
    "words": _read_words,
    "barrier": _read_barrier,
    "scale": _read_scale,
    "suggestions": _read_suggestion,
}

MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="new",
    auto_transitions=False,
    send_event=True,
)
bind_triggers(CheckIn, MACHINE)


def handle(
    current: CheckInState, event: CheckInEvent, ctx: CheckInContext
) -> FlowResult[CheckInControl]:
    """Run one event through a check-in. Pure: no I/O."""
    return CheckIn(current, ctx).handle(event)


# --- Wellbeing, compared ---------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One wellbeing question, then and now. `better`: True, False, or None (the same,
    or not answered both times). Never a score of the person: what they said, twice."""

    key: str
    before: int | None
    after: int | None
    better: bool | None


def compare(baseline: dict[str, int | None], now: dict[str, int | None]) -> list[Change]:
    changes = []
    for key in MEASURES:
        before, after = baseline.get(key), now.get(key)
        better = None
        if before is not None and after is not None and before != after:
            # Anxiety: lower is better.
            better = after < before if key == "anxiety" else after > before
        changes.append(Change(key, before, after, better))
    return changes


def wellbeing_due(*, last: bool, days_since_baseline: int | None) -> bool:
    """The wellbeing questions come again at the last check-in, or 8 weeks or more
    after the first time."""
    return last or (days_since_baseline is not None
                    and days_since_baseline >= WELLBEING_AFTER_DAYS)  # fmt: skip
