"""The life of a case in the link worker queue, and who may move it.

Read TRANSITIONS like the diagram (`spbot diagram` draws it): a case waits in the
queue until a link worker claims it; replying to the patient puts it in contact;
recording a referral to an activity makes it referred; it is closed with an
outcome. The worker holding a case can release it back to the queue or hand it to a
named colleague (an admin can do either to anyone's), and a closed case can be reopened by whoever closed it or an
admin, who then holds it.

Pure: `decide` answers "may this worker do this to a case in this state, and what
does it become?" with no database. The staff service applies the answer with a
conditional UPDATE on the status and holder it decided from, so that when two
workers act at once exactly one wins (the other is told who has it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from transitions import Machine, MachineError

from flows.core import bind_triggers

STATES = ["waiting", "claimed", "in_contact", "referred", "closed"]
#: A worker holds the case and is working on it.
OPEN = ["claimed", "in_contact", "referred"]

# trigger, source, dest (None: stays where it is), conditions (all must hold).
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "claim", "source": "waiting", "dest": "claimed", "after": "take"},
    # The colleague covering for an away holder may reply and refer too.
    {"trigger": "reply", "source": "claimed", "dest": "in_contact", "conditions": "holds_or_covers"},
    {"trigger": "reply", "source": ["in_contact", "referred"], "dest": None, "conditions": "holds_or_covers"},
    {"trigger": "refer", "source": OPEN, "dest": "referred", "conditions": "holds_or_covers"},
    {"trigger": "close", "source": OPEN, "dest": "closed", "conditions": "holds"},
    {"trigger": "release", "source": OPEN, "dest": "waiting", "conditions": "holds_or_admin", "after": "let_go"},
    {"trigger": "reopen", "source": "closed", "dest": "claimed", "conditions": "holds_or_admin", "after": "take"},
    # Handed to a named colleague, with a note: it stays where it is, theirs now.
    {"trigger": "assign", "source": OPEN, "dest": None, "conditions": "holds_or_admin"},
    # Crisis words from someone whose case is closed: it opens again, with the worker
    # who knows them if they are still on the team, else in the queue.
    {"trigger": "reopen_for_safety", "source": "closed", "dest": "claimed", "conditions": ["by_the_bot", "holder_still_here"]},
    {"trigger": "reopen_for_safety", "source": "closed", "dest": "waiting", "conditions": "by_the_bot", "after": "let_go"},
    # The patient asked at a check-in to talk to someone: a closed case opens again
    # the same way; an open one stays with whoever has it (who is told).
    {"trigger": "ask_for_contact", "source": "closed", "dest": "claimed", "conditions": ["by_the_bot", "holder_still_here"]},
    {"trigger": "ask_for_contact", "source": "closed", "dest": "waiting", "conditions": "by_the_bot", "after": "let_go"},
    {"trigger": "ask_for_contact", "source": ["waiting", *OPEN], "dest": None, "conditions": "by_the_bot"},
    {"trigger": "note", "source": STATES, "dest": None, "conditions": "can_note"},
]  # fmt: skip

Action = Literal[
    "claim", "reply", "refer", "close", "release", "reopen", "note", "reopen_for_safety",
    "ask_for_contact", "assign",
]  # fmt: skip
ACTIONS: tuple[Action, ...] = ("claim", "reply", "refer", "close", "release", "reopen", "note",
                               "reopen_for_safety", "ask_for_contact", "assign")  # fmt: skip
Refusal = Literal["taken", "not_yours", "not_claimed", "closed", "not_closed"]

#: How a case can end (`close`). "other" needs a note saying what happened.
OUTCOMES = (
    "referred_to_activity",
    "signposted",
    "declined",
    "could_not_contact",
    "not_eligible",
    "other",
)


@dataclass(frozen=True)
class Actor:
    """The link worker acting, as the database says they are now."""

    worker_id: int
    role: str = "link_worker"  # "link_worker" | "admin" | "system"
    #: The away colleagues (worker ids) whose cases this worker covers today.
    covers: frozenset[int] = frozenset()


#: The bot itself, acting on what a patient wrote (a case reopened for safety).
SYSTEM = Actor(worker_id=0, role="system")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: str  # what the case becomes (unchanged when refused or internal)
    holder_id: int | None  # who holds it afterwards
    refusal: Refusal | None = None


class CaseLife:
    """The model the machine drives for one decision."""

    def __init__(
        self, status: str, holder_id: int | None, actor: Actor, holder_active: bool = False
    ) -> None:
        self.state = status
        self.holder_id = holder_id
        self.actor = actor
        self.holder_active = holder_active

    # Conditions (named in TRANSITIONS)
    def holds(self) -> bool:
        return self.holder_id == self.actor.worker_id

    def holds_or_covers(self) -> bool:
        return self.holds() or (self.holder_id is not None and self.holder_id in self.actor.covers)

    def holds_or_admin(self) -> bool:
        return self.holds() or self.actor.role == "admin"

    def by_the_bot(self) -> bool:
        return self.actor.role == "system"

    def holder_still_here(self) -> bool:
        return self.holder_id is not None and self.holder_active

    def can_note(self) -> bool:
        # Anyone may add what they know to a case nobody holds yet; after that,
        # the holder (or an admin).
        return self.holder_id is None or self.holds_or_admin() or self.holds_or_covers()

    # What transitions do (named in TRANSITIONS)
    def take(self) -> None:
        self.holder_id = self.actor.worker_id

    def let_go(self) -> None:
        self.holder_id = None


MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="waiting",
    auto_transitions=False,
    send_event=False,
)
bind_triggers(CaseLife, MACHINE)


def decide(
    status: str, holder_id: int | None, actor: Actor, action: Action, *, holder_active: bool = False
) -> Decision:
    """May `actor` do `action` to a case in `status` held by `holder_id`? Pure.
    `holder_active`: the holder is still on the team (for reopening for safety)."""
    model = CaseLife(status, holder_id, actor, holder_active)
    trigger: Callable[[], bool] = getattr(model, action)
    try:
        done = trigger()
    except MachineError:
        return Decision(False, status, holder_id, _wrong_state(status, holder_id, action))
    if not done:
        return Decision(False, status, holder_id, "not_yours")
    return Decision(True, model.state, model.holder_id)


def _wrong_state(status: str, holder_id: int | None, action: Action) -> Refusal:
    if action == "claim":
        return "closed" if status == "closed" else "taken"
    if action == "reopen":
        return "not_closed"
    if status == "closed":
        return "closed"
    return "not_claimed"


def is_open(status: str) -> bool:
    """Not closed: still someone's job (or the queue's)."""
    return status != "closed"
