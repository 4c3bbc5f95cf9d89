"""Matching one activity at a time, in plain Python: the readable definition the
numpy sieve (`bot.directory.sieve.Sieve`) is checked against.

The bot ranks with the sieve only; it is fast because it is written as vector
operations, and that makes its rules hard to read. This is the same rules written
out for one activity and one person, as `matching.py` describes them, so
tests/directory/test_sieve.py can show on random directories and profiles that
the sieve keeps, scores and orders exactly as this does, and that the pages and
reasons the bot shows are the ones this gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.directory.matching import (
    ADULT_AGE,
    FORMAT,
    FREE,
    MAX_NEEDS,
    MAX_WORDS,
    NEAR,
    NEAR_SCALE_MILES,
    NEED,
    SAME_AREA,
    SAME_DISTRICT,
    SYNONYM,
    TIME,
    WORD,
    WORD_IN_NAME,
    Distances,
    Fit,
    IndexedActivity,
    Person,
    Place,
    WordHit,
)
from bot.directory.postcodes import distance_miles
from bot.directory.words import PersonWord


@dataclass(slots=True)  # not frozen: frozen ones are slower to make
class Match(Fit):
    """Why an activity suits a person (as the bot explains it), with its score
    and its place in the order."""

    score: float
    order: tuple[float, float, str]  # best first: score, then nearest, then name


def match(
    activity: IndexedActivity, person: Person, distances: Distances | None = None
) -> Match | None:
    """The activity's score for this person, or None when a hard filter leaves it out."""
    profile = person.profile
    if activity.id in person.declined or not _age_fits(activity, profile.age):
        return None
    ways = activity.modes if person.all_modes else activity.modes & person.modes
    if not ways:
        return None
    if profile.free_only and activity.free is False:
        return None
    if person.limits_times and activity.slots and activity.slots.isdisjoint(person.free_times):
        return None

    place, distance, same_district = _where(activity, person, ways, distances or Distances.none())
    if "in_person" in ways and not reachable_in_person(distance, same_district, place, person):
        ways = ways - {"in_person"}
        if not ways:
            return None
        place, distance, same_district = None, None, False

    needs = (
        tuple(need for need in profile.need_areas if need in activity.need_areas)
        if profile.need_areas
        else ()
    )
    word_score, word = score_words(activity, person.words)
    relevance = NEED * min(len(needs), MAX_NEEDS) + word_score
    if person.wants_something and relevance == 0:
        return None

    score = relevance
    if activity.format and profile.group in ("group", "one_to_one"):
        score += FORMAT if activity.format == profile.group else -FORMAT
    if person.limits_times and not activity.slots.isdisjoint(person.free_times):
        score += TIME
    if activity.free:
        score += FREE
    if distance is not None:
        score += NEAR * max(0.0, 1.0 - distance / (profile.max_miles or NEAR_SCALE_MILES))
    elif same_district:
        score += SAME_DISTRICT
    elif place is not None and person.area and place.area == person.area:
        score += SAME_AREA
    order = (-score, math.inf if distance is None else distance, activity.sort_name)
    return Match(
        activity=activity,
        distance=distance,
        needs=needs,
        word=word,
        ways=ways,
        place=place,
        same_district=same_district,
        score=score,
        order=order,
    )


def _age_fits(activity: IndexedActivity, age: int | None) -> bool:
    if age is None:  # the bot is for adults: leave out what is only for children
        return activity.maximum_age is None or activity.maximum_age >= ADULT_AGE
    if activity.minimum_age is not None and age < activity.minimum_age:
        return False
    return activity.maximum_age is None or age <= activity.maximum_age


def _where(
    activity: IndexedActivity, person: Person, ways: frozenset[str], distances: Distances
) -> tuple[Place | None, float | None, bool]:
    """The activity's place nearest to them, how far, and whether it is in
    their postcode district."""
    if "in_person" not in ways or not activity.places:
        return None, None, False
    best: Place | None = None
    best_distance: float | None = None
    if person.point is not None and len(distances.miles):
        miles = float(distances.miles[activity.position])
        if miles != math.inf:
            best, best_distance = activity.places[int(distances.place[activity.position])], miles
    elif person.point is not None:
        for place in activity.places:
            if place.point is not None:
                miles = distance_miles(person.point, place.point)
                if best_distance is None or miles < best_distance:
                    best, best_distance = place, miles
    if best is None:
        best = next(
            (p for p in activity.places if person.district and p.district == person.district),
            activity.places[0],
        )
    return best, best_distance, bool(person.district and best.district == person.district)


def reachable_in_person(
    distance: float | None, same_district: bool, place: Place | None, person: Person
) -> bool:
    """Within the distance they can travel; without coordinates to measure with,
    in their postcode area (the district fallback)."""
    limit = person.profile.max_miles
    if limit is None or place is None:
        return True
    if distance is not None:
        return distance <= limit
    if person.point is not None and place.point is None and place.area is None:
        return True  # the activity gave no postcode: we cannot tell, so we don't guess
    if person.area is None:
        return True
    return same_district or place.area == person.area


#: (score for all their words found, the first of them)
WordScore = tuple[float, WordHit | None]


def score_words(activity: IndexedActivity, words: Sequence[PersonWord]) -> WordScore:
    """How much of what they said the activity uses, and the first word of
    theirs it uses.

    A word of theirs in an activity counts most, a synonym of it less, and
    either counts a little more in the activity's name; at most MAX_WORDS of
    their words count. Synonyms in the name are preferred as the word to
    mention: they say best what the activity is."""
    score, first, counted = 0.0, None, 0
    for word in words:
        if counted >= MAX_WORDS:
            break
        own_key = word.terms[0][0]
        hit: tuple[str, str] | None = None
        if own_key in activity.terms:
            hit = (own_key, word.said)  # their own word wins
        else:
            for key, about in word.terms[1:]:
                if key in activity.terms and (hit is None or key in activity.name_terms):
                    hit = (key, about)
                    if key in activity.name_terms:
                        break
        if hit is None:
            continue
        key, about = hit
        direct = key == own_key
        in_name = key in activity.name_terms
        score += (WORD if direct else SYNONYM) + (WORD_IN_NAME if in_name else 0.0)
        if first is None:
            first = (word.said, word.said if direct else about, not direct, word.told)
        counted += 1
    return score, first
