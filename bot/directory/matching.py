"""The rules for choosing activities for one person, and saying why — deterministically.

1. **Hard filters** leave out what the person could not or would not do: inactive
   entries (never loaded), activities they already said no to, activities for
   another age (children's activities when their age is not known), activities
   offered only in ways they can't take part (`Profile.modes`), activities that
   cost money when they asked for free ones, in-person-only activities further
   than they can travel, and activities whose every session falls outside the
   times they are free. Suggesting something a person can't get to is worse than
   suggesting fewer things.
2. **Relevance**: when the person named areas of need or said what matters in
   their own words, only activities that match at least one of them are kept.
3. **Score** = need areas matched + their words found (directly or through a
   synonym) + preferences met (group or one-to-one, free times, free) + nearness.
   The weights are the constants below. Ties are broken by distance, then name,
   then id, so the same profile always gives the same list.
4. **Variety**: a page of `n` takes at most two activities from one organisation
   while others have something left, so three from one organisation only come
   when nothing else fits.

`sieve.Sieve` applies rules 1 to 3 to every activity at once, with numpy: it is
the one scorer. This module holds what it reads (the weights below, each activity
prepared once by `index_activity`, each person worked out once as `Person`), says
why for the few activities shown (`explain`, `reasons`, `suggestion`), and makes
the pages (`vary`). tests/directory/reference_scorer.py writes rules 1 to 3 out
for one activity at a time, and the sieve is checked against it.

Every suggestion carries reasons. The words for each code are in
messages/en/directory/reasons.html.j2; the codes and their params:

==============  ===========================================  ==========================
code            params                                       said as
==============  ===========================================  ==========================
``need``        need_area: a key of NEED_AREAS               "you said you'd like to
                                                             meet people"
``words``       word: what the person said; matched: the     "you mentioned “walking”" /
                same word, or what its synonym group is      "It's about money and
                about; synonym: bool                         debt, and you said “skint”"
``near``        miles: float, from their postcode            "0.8 miles from you"
``district``    district: "L20" (same district, no           "in L20, near you"
                coordinates to measure with)
``online``      (none)                                       "online"
``phone``       (none)                                       "over the phone"
``group``       (none)                                       "a friendly group"
``one_to_one``  (none)                                       "one-to-one help"
``time``        day: 0 = Monday; part: "morning" |           "on Tuesday mornings"
                "afternoon" | "evening" | None; weekly: bool
``free``        (none)                                       "It's free."
==============  ===========================================  ==========================

Reasons come in that order: why it may help (at most one of ``words``/``need``),
then what it is, where, when and whether it is free. The template makes one or
two sentences of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from bot.directory.postcodes import (
    Centroids,
    Point,
    area_of,
    district_of,
    normalise_postcode,
)
from bot.directory.records import ActivityRecord
from bot.directory.words import PersonWord, Synonyms, activity_terms
from flows.directory import FREE_TIMES, MODES, Profile, Reason, Session, Suggestion

# --- Weights -------------------------------------------------------------------------
NEED = 30.0  # per area of need the activity helps with (at most MAX_NEEDS count)
MAX_NEEDS = 3
WORD = 12.0  # per word of theirs found in the activity's name or description
WORD_IN_NAME = 4.0  # extra when it is in the name
SYNONYM = 8.0  # per word of theirs found through a synonym
MAX_WORDS = 3
FORMAT = 8.0  # group / one-to-one as they prefer (taken off when the opposite)
TIME = 5.0  # runs at a time they said they're free (when they limited times)
FREE = 3.0
NEAR = 10.0  # at their door; falls to 0 at NEAR_SCALE_MILES (or their limit)
NEAR_SCALE_MILES = 5.0
SAME_DISTRICT = 6.0  # without coordinates: same postcode district...
SAME_AREA = 2.0  # ...or at least the same postcode area
MAX_PER_ORGANISATION = 2  # on one page, while other organisations have something

ADULT_AGE = 18
MORNING_ENDS, AFTERNOON_ENDS = "12:00", "17:00"
ALL_FREE_TIMES = frozenset(FREE_TIMES)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Place:
    point: Point | None
    district: str | None
    area: str | None
    address: str | None


@dataclass(frozen=True, slots=True)
class IndexedActivity:
    """An activity prepared for fast matching: everything the sieve and
    `explain` read is worked out once, when the directory is loaded."""

    id: str
    position: int  # in the index, for the per-person distance table
    sort_name: str  # the last tie-break: name, then id
    base: Suggestion  # without distance and reasons
    organisation_key: str
    need_areas: frozenset[str]
    terms: frozenset[str]
    name_terms: frozenset[str]
    modes: frozenset[str]
    format: str | None
    free: bool | None
    minimum_age: int | None
    maximum_age: int | None
    slots: frozenset[str]  # the FREE_TIMES its sessions fall in; empty = no fixed times
    timed_sessions: tuple[tuple[str, int, str | None, bool], ...]  # (slot, day, part, weekly)
    places: tuple[Place, ...]


def index_activity(
    position: int,
    activity_id: str,
    organisation_key: str,
    record: ActivityRecord,
    centroids: Centroids,
) -> IndexedActivity:
    sessions = tuple(Session(s.day, s.starts, s.ends, s.note) for s in record.schedules)
    timed = sorted(
        (
            (slot, s.day, part_of_day(s.starts), s.weekly)
            for s in record.schedules
            if s.day is not None
            for slot in slots_of(s.day, s.starts, s.ends)
        ),
        key=lambda t: (t[1], t[2] or "", t[0]),
    )
    places = tuple(
        Place(
            point=(place.latitude, place.longitude)
            if place.latitude is not None and place.longitude is not None
            else centroids.locate(place.postcode),
            district=district_of(place.postcode) if place.postcode else None,
            area=area_of(place.postcode) if place.postcode else None,
            address=", ".join(p for p in (place.name, place.address, place.postcode) if p) or None,
        )
        for place in record.locations
    )
    base = Suggestion(
        activity_id=activity_id,
        name=record.name,
        organisation=record.organisation.name,
        description=record.description,
        sessions=sessions,
        by_appointment=record.by_appointment,
        modes=record.modes,
        address=places[0].address if places else None,
        free=record.free,
        cost=record.cost,
        phone=record.phone,
        email=record.email,
        url=record.url,
        how_to_join=record.how_to_join,
        accessibility=record.accessibility,
    )
    words = " ".join([record.name, record.description, *record.taxonomy_terms])
    return IndexedActivity(
        id=activity_id,
        position=position,
        sort_name=f"{record.name.lower()}\0{activity_id}",
        base=base,
        organisation_key=organisation_key,
        need_areas=frozenset(record.need_areas),
        terms=activity_terms(words),
        name_terms=activity_terms(record.name),
        modes=frozenset(record.modes),
        format=record.format,
        free=record.free,
        minimum_age=record.minimum_age,
        maximum_age=record.maximum_age,
        slots=frozenset(t[0] for t in timed),
        timed_sessions=tuple(timed),
        places=places,
    )


def part_of_day(starts: str | None) -> str | None:
    if starts is None:
        return None
    if starts < MORNING_ENDS:
        return "morning"
    return "afternoon" if starts < AFTERNOON_ENDS else "evening"


def slots_of(day: int, starts: str | None, ends: str | None) -> list[str]:
    """The FREE_TIMES a session on `day` from `starts` to `ends` falls in."""
    if day >= 5:
        return ["weekend"]
    if starts is None:
        return ["weekday_morning", "weekday_afternoon", "weekday_evening"]
    end = ends if ends and ends > starts else starts
    slots = []
    if starts < MORNING_ENDS:
        slots.append("weekday_morning")
    if starts < AFTERNOON_ENDS and end > MORNING_ENDS:
        slots.append("weekday_afternoon")
    if end > AFTERNOON_ENDS or starts >= AFTERNOON_ENDS:
        slots.append("weekday_evening")
    return slots


# --- One person ---------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A profile worked out once per search: where they are, their words."""

    profile: Profile
    point: Point | None
    district: str | None
    area: str | None
    words: tuple[PersonWord, ...]
    modes: frozenset[str]
    free_times: frozenset[str]
    declined: frozenset[str]
    wants_something: bool  # named a need area or said something we can look for
    limits_times: bool  # said they are free only at some times
    all_modes: bool  # can take part in every way

    @classmethod
    def of(cls, profile: Profile, centroids: Centroids, synonyms: Synonyms) -> Person:
        postcode = normalise_postcode(profile.postcode)
        words = tuple(synonyms.person_words(profile.what_matters or ""))
        return cls(
            profile=profile,
            point=centroids.locate(postcode),
            district=district_of(postcode) if postcode else None,
            area=area_of(postcode) if postcode else None,
            words=words,
            modes=frozenset(profile.modes),
            free_times=frozenset(profile.free_times),
            declined=frozenset(profile.declined),
            wants_something=bool(profile.need_areas or words),
            limits_times=not frozenset(profile.free_times) >= ALL_FREE_TIMES,
            all_modes=set(MODES) <= set(profile.modes),
        )


@dataclass(frozen=True)
class Distances:
    """How far each activity's nearest place is from one person, worked out for
    every activity at once (`sieve.Places.distances`): by activity position,
    `miles` is math.inf when the activity has no place on the map, and `place`
    is the index of the nearest of its places. Empty when there is nothing to
    measure with."""

    miles: npt.NDArray[np.float64]
    place: npt.NDArray[np.int64]

    @classmethod
    def none(cls) -> Distances:
        return cls(np.zeros(0), np.zeros(0, dtype=np.int64))


#: (what they said, what it matched, whether through a synonym, how to speak of
#: it with care when it is sensitive: "losing your wife", else None)
WordHit = tuple[str, str, bool, str | None]


@dataclass(slots=True)
class Fit:
    """Why an activity the sieve kept suits one person: what its reasons and
    the distance and address on its card are made of."""

    activity: IndexedActivity
    distance: float | None  # to `place`, when both ends are on the map
    needs: tuple[str, ...]  # their need areas it helps with, in their order
    word: WordHit | None  # the first of their words it matched
    ways: frozenset[str]  # the modes both offered and possible for them
    place: Place | None  # where they would go, when they would go in person
    same_district: bool


def explain(
    activity: IndexedActivity, person: Person, ways: frozenset[str], distances: Distances
) -> Fit:
    """Why an activity suits this person, given the ways the sieve left them to
    take part in it (in person only when it is within reach).

    The sieve decides what is kept and in what order; this reads one activity in
    plain Python, so it runs only for the few activities a person is shown."""
    needs = tuple(need for need in person.profile.need_areas if need in activity.need_areas)
    place, distance = _place(activity, person, ways, distances)
    same_district = bool(place and person.district and place.district == person.district)
    word = first_word(activity, person.words)
    return Fit(activity, distance, needs, word, ways, place, same_district)


def _place(
    activity: IndexedActivity, person: Person, ways: frozenset[str], distances: Distances
) -> tuple[Place | None, float | None]:
    """Where they would go, and how far it is: the nearest of the activity's
    places on the map; failing that, the first in their postcode district, or
    the first. None when they would not go in person."""
    if "in_person" not in ways or not activity.places:
        return None, None
    if len(distances.miles):
        miles = float(distances.miles[activity.position])
        if miles != math.inf:
            return activity.places[int(distances.place[activity.position])], miles
    in_district = (p for p in activity.places if person.district and p.district == person.district)
    return next(in_district, activity.places[0]), None


def first_word(activity: IndexedActivity, words: Sequence[PersonWord]) -> WordHit | None:
    """The first of their words the activity uses, as a reason mentions it:
    their own word when the activity uses it, otherwise a synonym, preferring
    one in the activity's name (it says best what the activity is)."""
    for word in words:
        own_key = word.terms[0][0]
        if own_key in activity.terms:
            return (word.said, word.said, False, word.told)
        about: str | None = None
        for key, group_about in word.terms[1:]:
            if key in activity.terms and (about is None or key in activity.name_terms):
                about = group_about
                if key in activity.name_terms:
                    break
        if about is not None:
            return (word.said, about, True, word.told)
    return None


# --- Reasons and pages ----------------------------------------------------------------


#: At most this many reasons on a card: why it may help, and the one thing
#: about it that best fits what they asked for.
MAX_REASONS = 2


def reasons(m: Fit, person: Person) -> tuple[Reason, ...]:
    """At most MAX_REASONS: why it may help (their words, or a need area they
    named), then what fits the limits and wishes they gave (when, free, group or
    one-to-one, how or how near), before what merely describes it."""
    why: list[Reason] = []
    if m.word is not None:
        said, matched, synonym, told = m.word
        params = {"word": said, "matched": matched, "synonym": synonym}
        why.append(Reason("words", {**params, "told": told} if told else params))
    elif m.needs:
        why.append(Reason("need", {"need_area": m.needs[0]}))
    profile = person.profile
    fits: list[Reason] = []
    described: list[Reason] = []
    where: Reason | None = None
    if "in_person" in m.ways and m.distance is not None:
        where = Reason("near", {"miles": round(m.distance, 1)})
    elif "in_person" in m.ways and m.same_district:
        where = Reason("district", {"district": person.district})
    elif "in_person" not in m.ways and "online" in m.ways:
        where = Reason("online")
    elif "in_person" not in m.ways and "phone" in m.ways:
        where = Reason("phone")
    session = _session_for(m.activity, person)
    when = None
    if session is not None:
        _, day, part, weekly = session
        when = Reason("time", {"day": day, "part": part, "weekly": weekly})
    what = Reason(m.activity.format) if m.activity.format in ("group", "one_to_one") else None
    free = Reason("free") if m.activity.free else None
    asked = {
        "time": person.limits_times,
        "free": profile.free_only,
        "group": profile.group == "group",
        "one_to_one": profile.group == "one_to_one",
        "near": profile.max_miles is not None,
        "district": profile.max_miles is not None,
        "online": not person.all_modes,
        "phone": not person.all_modes,
    }
    for reason in (when, free, what, where):  # what they asked for, in this order
        if reason is not None and asked[reason.code]:
            fits.append(reason)
    for reason in (where, what, when, free):  # then what says most about it
        if reason is not None and reason not in fits:
            described.append(reason)
    return tuple([*why, *fits, *described][:MAX_REASONS])


def _session_for(
    activity: IndexedActivity, person: Person
) -> tuple[str, int, str | None, bool] | None:
    for session in activity.timed_sessions:
        if session[0] in person.free_times:
            return session
    return None


def suggestion(m: Fit, person: Person) -> Suggestion:
    address = m.place.address if m.place is not None else m.activity.base.address
    return replace(
        m.activity.base,
        distance_miles=round(m.distance, 1) if m.distance is not None else None,
        address=address,
        reasons=reasons(m, person),
    )


def vary(
    ranked: list[T], n: int, pages: list[list[T]], upto: int, organisation: Callable[[T], str]
) -> None:
    """Extend `pages` (taken from the front of `ranked`, which is consumed) until
    they hold at least `upto` suggestions. A page takes the best activities with
    at most MAX_PER_ORGANISATION from one organisation, and only fills up beyond
    that when no other organisation has anything left."""
    while ranked and sum(len(p) for p in pages) < upto:
        page: list[int] = []
        per_organisation: dict[str, int] = {}
        for i, item in enumerate(ranked):
            key = organisation(item)
            if per_organisation.get(key, 0) < MAX_PER_ORGANISATION:
                page.append(i)
                per_organisation[key] = per_organisation.get(key, 0) + 1
                if len(page) == n:
                    break
        for i in range(len(ranked)):
            if len(page) == n:
                break
            if i not in page:
                page.append(i)
        page.sort()
        pages.append([ranked[i] for i in page])
        for i in reversed(page):
            del ranked[i]
