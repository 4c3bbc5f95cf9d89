"""The plain interface a flow uses to ask the activity directory for suggestions.

The flow only knows this protocol; `bot.directory` implements it over the database,
and tests pass a small in-memory directory. Everything here is data: the words a
patient reads about *why* something was suggested are in messages/, keyed by
`Reason.code`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: The areas of need a "what matters to you" conversation covers (DOMAIN.md).
#: Keys are stored; labels live in messages/en/buttons.yaml as "need_<key>".
NEED_AREAS: tuple[str, ...] = (
    "loneliness",
    "mood",
    "activity",
    "long_term_condition",
    "money",
    "housing",
    "work",
    "caring",
    "alcohol_smoking",
    "confidence",
)

MODES: tuple[str, ...] = ("in_person", "online", "phone")
FREE_TIMES: tuple[str, ...] = ("weekday_morning", "weekday_afternoon", "weekday_evening", "weekend")


@dataclass(frozen=True)
class Profile:
    """What the patient told us that matters for matching."""

    need_areas: tuple[str, ...] = ()
    what_matters: str = ""
    postcode: str | None = None  # normalised: "L20 3AB", or a district: "L20"
    modes: tuple[str, ...] = MODES  # how they'd take part
    max_miles: float | None = None  # how far they can travel in person; None = no limit given
    group: str = "either"  # "group" | "one_to_one" | "either"
    free_times: tuple[str, ...] = FREE_TIMES
    free_only: bool = False
    declined: tuple[str, ...] = ()  # activity ids they said no to
    age: int | None = None  # when known: activities for other ages are left out


@dataclass(frozen=True)
class Reason:
    """One plain reason for a suggestion. `code` picks the sentence in messages/
    (need, words, near, time, online, phone, group, one_to_one, free)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    """When an activity happens. day: 0 = Monday; None = by appointment/any day."""

    day: int | None = None
    starts: str | None = None  # "10:00"
    ends: str | None = None
    note: str | None = None  # as published: "first Tuesday of the month"


@dataclass(frozen=True)
class Suggestion:
    activity_id: str
    name: str
    organisation: str
    description: str
    sessions: tuple[Session, ...] = ()
    by_appointment: bool = False
    modes: tuple[str, ...] = ("in_person",)
    address: str | None = None
    distance_miles: float | None = None
    free: bool | None = None
    cost: str | None = None  # as published, when not free
    phone: str | None = None
    email: str | None = None
    url: str | None = None
    how_to_join: str | None = None
    reasons: tuple[Reason, ...] = ()
    accessibility: str | None = None
    #: Offered although it is outside a limit they gave, because nothing within
    #: their limits helps with `for_need`, one of the need areas they named. The
    #: limits it is outside: "in_person", "online", "phone" (it is offered only
    #: that way, and they did not choose it), "far", "cost", "time".
    outside: tuple[str, ...] = ()
    for_need: str | None = None


class Directory(Protocol):
    def suggest(self, profile: Profile, n: int = 3, offset: int = 0) -> list[Suggestion]:
        """The page of suggestions starting `offset` in (0, then the total shown so
        far, for "Show me others"); empty past the last. Deterministic: the same
        profile gives the same pages, and pages never repeat. The first page
        answers every need area named: it holds at least one activity for each
        that has any within their limits, and for a need with fits only outside
        a limit, the best of those (`Suggestion.outside` says which limit), so
        the first page may hold more than `n`."""
        ...

    def activity(self, activity_id: str) -> Suggestion | None:
        """One activity as the directory holds it now (no distance, no reasons),
        by its id; None when it is no longer listed."""
        ...

    def named(self, words: str, n: int = 5) -> list[Suggestion]:
        """Activities whose name (with its organisation's) holds every one of
        `words`, an exact name first; at most `n`. Empty when none does."""
        ...


def name_words(text: str) -> list[str]:
    """The words of a name, for finding an activity by name ("Knit & Natter" ->
    ["knit", "natter"])."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def named_in(activities: Iterable[Suggestion], words: str, n: int = 5) -> list[Suggestion]:
    """`Directory.named` over a list: exact names first, then names holding every word."""
    wanted = name_words(words)
    if not wanted:
        return []
    exact: list[Suggestion] = []
    holding: list[Suggestion] = []
    for activity in activities:
        name = name_words(activity.name)
        if name == wanted:
            exact.append(activity)
        elif set(wanted) <= set(name + name_words(activity.organisation)):
            holding.append(activity)
    return (exact or holding)[:n]
