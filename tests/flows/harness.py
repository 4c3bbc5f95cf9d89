"""Drives the referral flow with no database and no Telegram."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.messages import Messages, html_to_text
from flows import referral
from flows.core import Button, Command, Event, FlowResult, Option, Reply, Text
from tests.fakes import FakeDirectory

MESSAGES = Messages(
    defaults={
        "organisation_name": "Test Team",
        "response_time_text": "soon",
        "working_hours_words": "Monday to Friday, 9am to 5pm",
        "local_crisis_lines": [],
        "retention_words": "2 years",
    }
)


def label_of(option: Option) -> str:
    return MESSAGES.label(option.label, **option.label_context)


class Patient:
    """One patient talking to the flow; keeps the stored conversation between events."""

    def __init__(
        self, directory: FakeDirectory | None = None, first_name: str | None = "Alex"
    ) -> None:
        self.conversation = referral.Conversation()
        self.directory = directory or FakeDirectory()
        self.first_name = first_name
        self.now = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
        self.last: FlowResult | None = None
        self.effects: list[Any] = []
        #: What the service tells the flow about their case (for /status).
        self.case: referral.CaseView | None = None
        self.service_area: tuple[str, ...] = ()

    def send(self, event: Event | str, **seen: Any) -> FlowResult:
        """`seen`: what the service knows of timing (`written_at`,
        `question_shown_at`, `question_unsent`)."""
        if isinstance(event, str):
            event = Command(event[1:]) if event.startswith("/") else Text(event)
        ctx = referral.FlowContext(self.directory, label_of, self.now, self.first_name,
                                   case=self.case, last_seen=self.now - timedelta(minutes=1),
                                   service_area=self.service_area, **seen)  # fmt: skip
        result = referral.handle(self.conversation, event, ctx)
        self.conversation = referral.Conversation(
            result.state, result.step, result.answers, result.control
        )
        self.last = result
        self.effects += result.effects
        return result

    def tap(self, value: str) -> FlowResult:
        return self.send(Button(self.conversation.step, value))

    @property
    def state(self) -> str:
        return self.conversation.state

    @property
    def answers(self) -> dict[str, Any]:
        return self.conversation.answers

    @property
    def control(self) -> referral.ReferralControl:
        return self.conversation.control

    def case_opened(self, reference: str) -> None:
        """What the service records when it opens their case."""
        control = self.control.model_copy(update={"case_reference": reference})
        self.conversation = replace(self.conversation, control=control)

    def question(self) -> Reply:
        assert self.last is not None
        asked = [r for r in self.last.replies if isinstance(r, Reply) and r.options]
        return asked[-1]

    def templates(self) -> list[str]:
        assert self.last is not None
        return [r.template for r in self.last.replies if isinstance(r, Reply)]

    def render_all(self) -> list[str]:
        assert self.last is not None
        reference = self.control.case_reference or "SP-TEST"
        return [html_to_text(MESSAGES.render(r.template, reference=reference, **r.context))
                for r in self.last.replies if isinstance(r, Reply)]  # fmt: skip


#: A whole referral, as taps: what a patient who goes straight through does.
HAPPY_PATH: list[tuple[str, str]] = [
    # (Typed "yes" at consent asks the age next; "I agree, and I'm 18 or over" is
    # one tap: tests/flows/test_referral.py.)
    ("consent", "I agree"), ("age", "yes"), ("name", "first_name"),
    ("what_matters", "I'd like to meet people, I've been lonely since my wife died"),
    # "lonely" in what matters to them ticks Feeling lonely for them (issue 13).
    ("need_areas", "activity"), ("need_areas", "done"),
    ("postcode", "L20 3AB"), ("mode", "near_home"),
    ("free_times", "weekday_morning"), ("free_times", "done"),
    ("suggestions", "pick_0"), ("contact_wanted", "phone_morning"),
    ("phone", "07911 123456"),
    # Handed off. While they wait, the wellbeing questions (issue 13):
    ("wait_life", "4"), ("wait_worthwhile", "5"), ("wait_happy", "3"), ("wait_anxious", "7"),
    ("wait_safety", "no"),  # low scores: asked directly, once
    # Before you phone (issue 14): nothing to add.
    ("wait_needs", "skip"), ("wait_gp", "none"),
]  # fmt: skip

TYPED = {"consent", "what_matters", "postcode", "phone"}


def walk_to(patient: Patient, state: str) -> None:
    """Answer every question before `state` along the happy path."""
    if patient.state == "new":
        patient.send("/start")
    for at, value in HAPPY_PATH:
        if patient.state == state:
            return
        assert patient.state == at, f"expected to be at {at}, at {patient.state}"
        patient.send(value) if at in TYPED else patient.tap(value)
    assert patient.state == state
