"""Ranking every activity for one person at once, with numpy: the one scorer.

Deciding, for each of 10,000 activities, whether a person is offered it and its
score, one activity at a time in Python, would alone cost more than the 20 ms a
suggestion may take. So the `Sieve` holds what the rules in `matching` read as
arrays, built once when the directory is loaded, and applies the filters, the
score and the order to every activity in a few vector operations;
`matching.explain` then says why for only the few activities shown.

Vector operations make the rules hard to read, so
tests/directory/reference_scorer.py writes them out for one activity at a time
(its `match`), and tests/directory/test_sieve.py checks on random directories
and profiles that the sieve keeps, scores and orders exactly as that does. Each
step below names the part of the reference it follows (`match`, `_where`,
`score_words`...), and sums are added up in the same order, so the scores are
the same floating-point numbers and ties fall the same way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from haversine import Unit, haversine_vector

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
    IndexedActivity,
    Person,
)
from bot.directory.postcodes import Point
from bot.directory.words import PersonWord
from flows.directory import FREE_TIMES, MODES

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_NONE = -1  # the code of a missing district, area or format
_UNKNOWN = -2  # the code of a person's district or area that no activity has
_NO_POSITIONS: Ints = np.zeros(0, dtype=np.int64)


def _bits(values: Iterable[str], bit: Mapping[str, int]) -> int:
    return sum(bit[value] for value in set(values) if value in bit)


def _codes(values: Iterable[str | None]) -> dict[str, int]:
    """A number for each distinct value, in sorted order (None has none)."""
    return {value: code for code, value in enumerate(sorted({v for v in values if v}))}


@dataclass(frozen=True)
class Sifted:
    """What the sieve decided about every activity for one person, by position."""

    keep: Bools  # offered to them at all
    score: Floats
    miles: Floats  # to the nearest place they would go to; inf where not measured
    ways: Ints  # mode bits (`Sieve.mode_bit`) they can take part in: in person only within reach


class Sieve:
    """What the rules read about each activity, as arrays indexed by position."""

    def __init__(self, activities: Sequence[IndexedActivity]) -> None:
        assert all(a.position == row for row, a in enumerate(activities))
        size = self.size = len(activities)
        self.positions = {a.id: a.position for a in activities}

        # Modes, as bits: ours first, then any others an activity names.
        others = sorted({m for a in activities for m in a.modes} - set(MODES))
        self.mode_bit = {mode: 1 << i for i, mode in enumerate([*MODES, *others])}
        self.in_person = self.mode_bit["in_person"]
        self.modes = np.array([_bits(a.modes, self.mode_bit) for a in activities], dtype=np.int64)

        self.need_row = _codes(n for a in activities for n in a.need_areas)
        self.needs = np.zeros((len(self.need_row), size), dtype=bool)
        for a in activities:
            for need in a.need_areas:
                self.needs[self.need_row[need], a.position] = True

        self.format_code = _codes(a.format for a in activities)
        self.formats = np.array(
            [self.format_code[a.format] if a.format else _NONE for a in activities], dtype=np.int64
        )
        self.free = np.array([bool(a.free) for a in activities], dtype=bool)
        self.costs_money = np.array([a.free is False for a in activities], dtype=bool)
        self.slot_bit = {slot: 1 << i for i, slot in enumerate(FREE_TIMES)}
        self.slots = np.array([_bits(a.slots, self.slot_bit) for a in activities], dtype=np.int64)
        self.minimum_age = np.array(
            [-math.inf if a.minimum_age is None else a.minimum_age for a in activities]
        )
        self.maximum_age = np.array(
            [math.inf if a.maximum_age is None else a.maximum_age for a in activities]
        )
        # The last tie-break, `sort_name`, as a rank (a stable sort keeps equal
        # names in position order, as sorting the candidates did).
        by_name = sorted(range(size), key=lambda p: activities[p].sort_name)
        self.name_rank = np.empty(size, dtype=np.int64)
        self.name_rank[by_name] = np.arange(size)

        # The word index: term -> positions of the activities using it, and
        # of those using it in their name.
        postings: defaultdict[str, list[int]] = defaultdict(list)
        name_postings: defaultdict[str, list[int]] = defaultdict(list)
        for a in activities:
            for term in a.terms:
                postings[term].append(a.position)
            for term in a.name_terms & a.terms:
                name_postings[term].append(a.position)
        self.postings = {t: np.array(p, dtype=np.int64) for t, p in postings.items()}
        self.name_postings = {t: np.array(p, dtype=np.int64) for t, p in name_postings.items()}

        self.places = Places(activities)

    # --- One person ---------------------------------------------------------------

    def rank(self, person: Person, distances: Distances) -> Ints:
        """Positions of the activities kept for this person, best first."""
        return self.ranked(self.sift(person, distances))

    def ranked(self, sifted: Sifted) -> Ints:
        """Positions of the activities kept, best first: highest score, then
        nearest, then by name and id, so the same person always gets the same list."""
        candidates = np.flatnonzero(sifted.keep)
        order = np.lexsort(
            (self.name_rank[candidates], sifted.miles[candidates], -sifted.score[candidates])
        )
        ranked: Ints = candidates[order]
        return ranked

    def scores(self, person: Person, distances: Distances) -> tuple[Bools, Floats, Floats]:
        """For every activity: whether it is kept, its score, and its distance
        (inf where it is not measured)."""
        sifted = self.sift(person, distances)
        return sifted.keep, sifted.score, sifted.miles

    def modes_of(self, ways: int) -> frozenset[str]:
        """The modes a `Sifted.ways` number holds, as `matching.explain` reads them."""
        return frozenset(mode for mode, bit in self.mode_bit.items() if ways & bit)

    def sift(self, person: Person, distances: Distances) -> Sifted:
        """Every activity judged for this person in one pass: whether it is kept,
        its score and distance (for the order), and the ways left to take part
        in it (for `matching.explain` to say why)."""
        profile = person.profile
        keep = self._fits(person)

        # Ways to take part (`match`: ways).
        if person.all_modes:
            ways = self.modes.copy()
        else:
            ways = self.modes & _bits(person.modes, self.mode_bit)
        keep &= ways != 0

        # Where (`_where`, `reachable_in_person`): an in-person activity with
        # places is either measured (a place on the map) or placed by postcode.
        places = self.places
        in_person = ((ways & self.in_person) != 0) & places.has_places
        if person.point is not None and len(distances.miles):
            miles = distances.miles
            measured = in_person & np.isfinite(miles)
        else:
            miles = np.full(self.size, math.inf)
            measured = np.zeros(self.size, dtype=bool)
        unmeasured = in_person & ~measured
        # Unmeasured, the place is the first in their district, or the first.
        if person.district:
            same_district = unmeasured & places.in_district(person.district)
        else:
            same_district = np.zeros(self.size, dtype=bool)
        area = places.area_code.get(person.area, _UNKNOWN) if person.area else _UNKNOWN
        same_area = unmeasured & ~same_district & (places.first_area == area)
        limit = profile.max_miles
        if limit is not None:
            if person.area is None:
                reachable = np.ones(self.size, dtype=bool)
            else:
                reachable = same_district | same_area
                if person.point is not None:  # a place without a postcode can't be ruled out
                    reachable |= places.first_area == _NONE
            reachable = np.where(measured, miles <= limit, reachable)
            lost = in_person & ~reachable
            ways = np.where(lost, ways & ~self.in_person, ways)
            keep &= ways != 0
            measured &= ~lost
            unmeasured &= ~lost
            same_district &= ~lost
            same_area &= ~lost

        # Relevance (`match`: needs, `score_words`).
        relevance = np.zeros(self.size)
        if profile.need_areas:
            found = np.zeros(self.size, dtype=np.int64)
            for need in profile.need_areas:
                if need in self.need_row:
                    found += self.needs[self.need_row[need]]
            relevance = NEED * np.minimum(found, MAX_NEEDS) + relevance
        if person.words:
            relevance = relevance + self.word_scores(person.words)
        if person.wants_something:
            keep &= relevance != 0

        # The score, added up in `match`'s order (adding 0.0 changes nothing).
        score = relevance
        if profile.group in ("group", "one_to_one"):
            wanted = self.format_code.get(profile.group, _UNKNOWN)
            score = score + np.where(
                self.formats == _NONE, 0.0, np.where(self.formats == wanted, FORMAT, -FORMAT)
            )
        if person.limits_times:
            score = score + np.where(
                (self.slots & _bits(person.free_times, self.slot_bit)) != 0, TIME, 0.0
            )
        score = score + np.where(self.free, FREE, 0.0)
        scale = profile.max_miles or NEAR_SCALE_MILES
        near = NEAR * np.maximum(0.0, 1.0 - miles / scale)  # 0 where miles is inf
        location = np.where(
            measured,
            near,
            np.where(same_district, SAME_DISTRICT, np.where(same_area, SAME_AREA, 0.0)),
        )
        score = score + location
        return Sifted(keep, score, np.where(measured, miles, math.inf), ways)

    def _fits(self, person: Person) -> Bools:
        """The filters that depend only on the activity (`match`, first lines)."""
        profile = person.profile
        if profile.age is None:
            keep: Bools = self.maximum_age >= ADULT_AGE
        else:
            keep = (self.minimum_age <= profile.age) & (profile.age <= self.maximum_age)
        declined = [self.positions[i] for i in person.declined if i in self.positions]
        keep[declined] = False
        if profile.free_only:
            keep &= ~self.costs_money
        if person.limits_times:
            free_times = _bits(person.free_times, self.slot_bit)
            keep &= (self.slots == 0) | ((self.slots & free_times) != 0)
        return keep

    def word_scores(self, words: Sequence[PersonWord]) -> Floats:
        """`score_words` for every activity: their own word counts WORD, a
        synonym SYNONYM, either WORD_IN_NAME more in the name (for a synonym:
        when any of the group's words is in the name, as `score_words` then
        mentions that one); at most MAX_WORDS of their words count."""
        score = np.zeros(self.size)
        counted = np.zeros(self.size, dtype=np.int64)
        for word in words:
            own_key = word.terms[0][0]
            synonyms = [key for key, _ in word.terms[1:]]
            points = np.zeros(self.size)
            if synonyms:
                points[self._positions(self.postings, synonyms)] = SYNONYM
                points[self._positions(self.name_postings, synonyms)] = SYNONYM + WORD_IN_NAME
            points[self._positions(self.postings, [own_key])] = WORD
            points[self._positions(self.name_postings, [own_key])] = WORD + WORD_IN_NAME
            counts = (points != 0) & (counted < MAX_WORDS)
            score += np.where(counts, points, 0.0)
            counted += counts
        return score

    @staticmethod
    def _positions(postings: Mapping[str, Ints], keys: Collection[str]) -> Ints:
        found = [postings[key] for key in keys if key in postings]
        if not found:
            return _NO_POSITIONS
        return found[0] if len(found) == 1 else np.concatenate(found)


class Places:
    """Every place of every activity, as arrays in activity then place order, so
    the distances from one person to all of them are one vectorised haversine
    call rather than thousands."""

    def __init__(self, activities: Sequence[IndexedActivity]) -> None:
        rows = [
            (a.position, number, place) for a in activities for number, place in enumerate(a.places)
        ]
        self.size = len(activities)
        self.has_places = np.array([bool(a.places) for a in activities], dtype=bool)
        self.district_code = _codes(place.district for _, _, place in rows)
        self.area_code = _codes(place.area for _, _, place in rows)
        self.first_area = np.array(
            [self.area_code[a.places[0].area] if a.places and a.places[0].area else _NONE
             for a in activities],
            dtype=np.int64,
        )  # fmt: skip
        owners = np.array([row[0] for row in rows], dtype=np.int64)
        districts = np.array(
            [self.district_code[p.district] if p.district else _NONE for _, _, p in rows],
            dtype=np.int64,
        )
        self._district_owners = {
            district: np.unique(owners[districts == code])
            for district, code in self.district_code.items()
        }
        mapped = [row for row in rows if row[2].point is not None]
        self.points = np.array([p.point for _, _, p in mapped], dtype=float).reshape(-1, 2)
        self.owners = np.array([row[0] for row in mapped], dtype=np.int64)
        self.numbers = np.array([row[1] for row in mapped], dtype=np.int64)
        # Rows are in owner order: where each owner's rows start.
        self._starts = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]])
        self._owner_of_start = self.owners[self._starts] if len(self.owners) else self.owners

    def in_district(self, district: str) -> Bools:
        """Which activities have a place in `district`."""
        found = np.zeros(self.size, dtype=bool)
        found[self._district_owners.get(district, _NO_POSITIONS)] = True
        return found

    def distances(self, point: Point | None) -> Distances:
        """Miles from `point` to each activity's nearest place on the map (inf:
        none), and which of its places that is (the first, on a tie)."""
        if point is None or not len(self.points):
            return Distances.none()
        miles = haversine_vector(
            np.broadcast_to(np.array(point, dtype=float), self.points.shape),
            self.points,
            Unit.MILES,
            check=False,
        )
        nearest = np.minimum.reduceat(miles, self._starts)
        best = np.full(self.size, math.inf)
        best[self._owner_of_start] = nearest
        # The first row of each owner at its nearest distance.
        at_nearest = np.flatnonzero(miles == best[self.owners])
        owners = self.owners[at_nearest]
        first = at_nearest[np.r_[True, owners[1:] != owners[:-1]]]
        place = np.zeros(self.size, dtype=np.int64)
        place[self.owners[first]] = self.numbers[first]
        return Distances(best, place)
