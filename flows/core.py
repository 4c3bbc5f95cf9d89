"""What goes into a flow and what comes out of it.

A flow never does I/O. It gets one `Event` and the patient's stored conversation,
and returns a `FlowResult`: the new state, the answers, the replies to send
(template names, never finished text) and the effects for the service to record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from transitions import Event as MachineEvent
from transitions import Machine

from flows.summary import ActivityRef, BeforeYouPhone, CaseSummary

# --- Events: what the person did -------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Typed text (already screened for crisis language by the service).
    `concern`: what the screen saw short of a crisis: "weak_sign" (ask directly
    about thoughts of harm) or "health_worry" (worth NHS 111 or a GP, not 999)."""

    text: str
    concern: str | None = None


@dataclass(frozen=True)
class Button:
    """A tap on an option. `step` says which question the button belonged to."""

    step: int
    value: str


@dataclass(frozen=True)
class Command:
    name: str  # without the slash: "start", "help", "restart", "status", "mydata", "delete", "stop"
    args: str = ""


@dataclass(frozen=True)
class Edited:
    """The person changed a message they had already sent."""

    text: str


@dataclass(frozen=True)
class Crisis:
    """Free text in which the safety screening found crisis language. It is answered
    at once, whatever the state, and the state does not change."""

    category: str  # suicide | self_harm | harm_to_others | unsafe_at_home | medical_emergency
    text: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unsupported:
    """Something we cannot read: a sticker, photo, voice note, location, file...
    `text` is its caption, if it has one (screened like any other words)."""

    kind: str
    text: str = ""


@dataclass(frozen=True)
class WorkerTookOver:
    """A link worker is now talking with the patient (they claimed the case and told
    the patient, or replied): whatever the patient writes next is for the worker,
    even if the bot's questions were not finished."""


Event = Text | Button | Command | Edited | Crisis | Unsupported | WorkerTookOver


# --- Replies: what we say back ------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One button. `label` is a key into messages/<lang>/buttons.yaml."""

    value: str
    label: str
    label_context: dict[str, Any] = field(default_factory=dict)
    ticked: bool = False


@dataclass(frozen=True)
class Reply:
    """A message to send: a template under messages/<lang>/ and its context."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    step: int | None = None  # the question these buttons answer; None if no buttons
    columns: int = 1
    #: "new" sends a new message. "update" edits the question the person is answering
    #: in place (used for ticking boxes in a multi-select).
    mode: Literal["new", "update"] = "new"


@dataclass(frozen=True)
class CloseQuestion:
    """Remove the buttons from the question just answered and show what was chosen,
    so that an old keyboard never misleads."""

    chosen_label: str
    chosen_context: dict[str, Any] = field(default_factory=dict)


# --- Effects: what the service records ----------------------------------------------


@dataclass(frozen=True)
class RecordConsent:
    notice_version: str


@dataclass(frozen=True)
class ForgetPatient:
    """Delete everything we hold about this person (declined consent, under 18,
    or asked to start again before handing off)."""

    reason: Literal["declined", "under_18", "restart"]


@dataclass(frozen=True)
class RecordWellbeing:
    context: Literal["baseline", "check_in"]
    scores: dict[str, int | None]


@dataclass(frozen=True)
class RecordBeforeYouPhone:
    """What helps a link worker get in touch (asked after the handoff): filed on
    their case's summary, as the wellbeing baseline is."""

    details: BeforeYouPhone


@dataclass(frozen=True)
class OpenCase:
    """Hand the referral to the link worker queue, with its summary."""

    summary: CaseSummary


@dataclass(frozen=True)
class AddToCase:
    """Keep something the patient wrote after handoff on their case.
    `kept_already`: the words are on the case as a crisis message: only pass them on."""

    text: str
    edited: bool = False
    kept_already: bool = False


@dataclass(frozen=True)
class RaiseSafetyAlert:
    """Flag the case urgent (opening one if needed: vital interests) and tell the team."""

    category: str
    text: str
    reasons: tuple[str, ...] = ()


# --- Check-in effects (flows/checkin.py) ---------------------------------------------


@dataclass(frozen=True)
class CheckInAnswer:
    """An answer at a check-in, for the case: which question, the value chosen, and
    their own words if they gave any."""

    question: str
    value: str
    words: str | None = None


@dataclass(frozen=True)
class RecordAttendance:
    """Whether they went, on the referral: attended | not_yet | not_for_them."""

    attendance: str


@dataclass(frozen=True)
class AskForLinkWorker:
    """Back to a link worker: the case reopens (or stays open) marked "asked for
    contact". `why`: "talk", or "interested" in `activity`, another suggestion."""

    why: str
    activity: ActivityRef | None = None


@dataclass(frozen=True)
class PauseCheckIns:
    days: int


@dataclass(frozen=True)
class StopCheckIns:
    """No more check-ins for this referral, ever (not leaving the service)."""

    reason: str | None = None


@dataclass(frozen=True)
class CheckInSooner:
    """After "I'll try again", the next check-in comes in `days`."""

    days: int


@dataclass(frozen=True)
class FinishCheckIn:
    """The check-in is answered; `outcome` is what it found."""

    outcome: str | None


# --- Their rights over their data --------------------------------------------------


@dataclass(frozen=True)
class SendTheirData:
    """/mydata: a short summary of everything held about them, and all of it as a file."""


@dataclass(frozen=True)
class ErasePatient:
    """/delete, confirmed: consent withdrawn and everything about them erased. `later`:
    a safety alert of theirs is not yet seen, so it waits until it is (vital interests)."""

    later: bool = False


@dataclass(frozen=True)
class StopContact:
    """/stop: no more check-ins, reminders or nudges (not leaving, not erasing)."""


Effect = (
    RaiseSafetyAlert | RecordConsent | ForgetPatient | RecordWellbeing | RecordBeforeYouPhone
    | OpenCase | AddToCase
    | CheckInAnswer | RecordAttendance | AskForLinkWorker | PauseCheckIns | StopCheckIns
    | CheckInSooner | FinishCheckIn | SendTheirData | ErasePatient | StopContact
)  # fmt: skip


Control = TypeVar("Control", bound=BaseModel)


@dataclass
class FlowResult(Generic[Control]):
    """The conversation after one event (state, step, answers and the flow's typed
    control fields), and what follows from it."""

    state: str
    step: int
    answers: dict[str, Any]
    control: Control
    replies: list[Reply | CloseQuestion] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    #: A short notice for the tap itself (Telegram shows it as a toast).
    tap_notice: str | None = None


# --- Driving a machine ------------------------------------------------------------------


def bind_triggers(model_class: type, machine: Machine) -> None:
    """Give `model_class` a method for each of `machine`'s events, once, at import.

    A flow makes a model for one event and throws it away. transitions'
    `Machine.add_model` would bind every trigger and an `is_<state>` helper to each
    such model (about a tenth of a millisecond for the referral's 43 states, on
    every message), and `remove_model` let it go again; `Event.trigger` needs only
    the model's `state`. add_model also registers `on_enter_<state>` and
    `on_exit_<state>` methods it finds on a model: a flow names its callbacks in
    its table instead, and a class with such methods is refused here, so that none
    is quietly never called. So is one that already has a method of an event's name."""
    hidden = [n for n in dir(model_class) if n.startswith(("on_enter_", "on_exit_"))]
    taken = [n for n in machine.events if getattr(model_class, n, None) is not None]
    if hidden or taken:
        raise TypeError(
            f"{model_class.__name__}: name callbacks in the flow's table, not as methods "
            f"({', '.join(hidden + taken)})"
        )
    for name, event in machine.events.items():
        setattr(model_class, name, _fires(event))


def _fires(event: MachineEvent) -> Callable[[Any], bool]:
    def fire(model: Any) -> bool:
        return bool(event.trigger(model))

    fire.__name__ = fire.__qualname__ = event.name
    return fire
