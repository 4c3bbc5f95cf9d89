"""A fast first pass over every activity, before `matching.match` looks closely.

`match` runs once per candidate in Python; over 10,000 activities that alone
would cost more than the 20 ms a suggestion may take. The sieve applies the hard
filters and the relevance rule to all activities at once with numpy and hands
`match` only the survivors. It may keep too much (`match` checks everything
again) but never too little: each rule here is one of `match`'s, and a rule that
depends on things the sieve doesn't hold (postcode districts, for instance) is
left to `match`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from bot.directory.matching import ADULT_AGE, IndexedActivity, Person
from flows.directory import FREE_TIMES, MODES, NEED_AREAS

IN_PERSON = 1 << MODES.index("in_person")


def _bits(values: Collection[str], names: Sequence[str]) -> int:
    return sum(1 << names.index(value) for value in values if value in names)


class Sieve:
    def __init__(self, activities: Sequence[IndexedActivity]) -> None:
        size = len(activities)
        self.needs = np.zeros((size, len(NEED_AREAS)), dtype=bool)
        self.modes = np.zeros(size, dtype=np.int8)
        self.costs_money = np.zeros(size, dtype=bool)
        self.slots = np.zeros(size, dtype=np.int8)
        self.minimum_age = np.full(size, -np.inf)
        self.maximum_age = np.full(size, np.inf)
        for a in activities:
            row = a.position
            self.needs[row] = [need in a.need_areas for need in NEED_AREAS]
            self.modes[row] = _bits(a.modes, MODES)
            self.costs_money[row] = a.free is False
            self.slots[row] = _bits(a.slots, FREE_TIMES)
            if a.minimum_age is not None:
                self.minimum_age[row] = a.minimum_age
            if a.maximum_age is not None:
                self.maximum_age[row] = a.maximum_age

    def survivors(
        self,
        person: Person,
        miles: npt.NDArray[np.float64] | None,
        word_positions: Collection[int],
    ) -> list[int]:
        """Positions of the activities `match` should look at, in order."""
        profile = person.profile
        if profile.age is None:
            keep = self.maximum_age >= ADULT_AGE
        else:
            keep = (self.minimum_age <= profile.age) & (profile.age <= self.maximum_age)
        ways = self.modes & _bits(person.modes, MODES)
        keep &= ways != 0
        if profile.free_only:
            keep &= ~self.costs_money
        if person.limits_times:
            keep &= (self.slots == 0) | ((self.slots & _bits(person.free_times, FREE_TIMES)) != 0)
        if profile.max_miles is not None and miles is not None:
            only_in_person = ways == IN_PERSON
            keep &= ~(only_in_person & np.isfinite(miles) & (miles > profile.max_miles))
        if person.wants_something:
            wanted = [NEED_AREAS.index(n) for n in profile.need_areas if n in NEED_AREAS]
            relevant: npt.NDArray[np.bool_] = np.zeros(len(self.modes), dtype=bool)
            if wanted:
                relevant |= self.needs[:, wanted].any(axis=1)
            relevant[list(word_positions)] = True
            keep &= relevant
        survivors: list[int] = np.flatnonzero(keep).tolist()
        return survivors
