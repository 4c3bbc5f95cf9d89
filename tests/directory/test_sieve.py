"""The sieve ranks a whole directory with numpy; `reference_scorer.match` is the
definition, one activity at a time. They must agree exactly: the same
activities kept, the same scores and distances to the last bit, the same order,
and so the same pages and reasons."""

from __future__ import annotations

import math
from dataclasses import replace
from operator import attrgetter

import numpy as np
import pytest

from bot.directory import DirectoryIndex
from bot.directory.matching import Person, suggestion, vary
from bot.directory.records import ActivityRecord, LocationRecord, OrganisationRecord
from flows.directory import Profile, Suggestion
from tests.directory import random_directory
from tests.directory.reference_scorer import Match, match, score_words

ACTIVITIES = 2_000
PROFILES = 300


@pytest.fixture(scope="module")
def index() -> DirectoryIndex:
    return DirectoryIndex.from_records(
        random_directory.directory(ACTIVITIES, seed=11), random_directory.centroids()
    )


def reference(index: DirectoryIndex, profile: Profile) -> tuple[Person, list[Match]]:
    """Every activity `match` keeps, best first, as the index did before the sieve."""
    person = Person.of(profile, index.centroids, index.synonyms)
    distances = index._sieve.places.distances(person.point)
    found = [m for a in index.activities if (m := match(a, person, distances)) is not None]
    return person, sorted(found, key=attrgetter("order"))


def reference_pages(
    index: DirectoryIndex, profile: Profile, n: int, pages: int
) -> list[Suggestion]:
    person, ranked = reference(index, profile)
    done: list[list[Match]] = []
    vary(ranked, n, done, n * pages, lambda m: m.activity.organisation_key)
    return [suggestion(m, person) for page in done for m in page]


def test_the_random_directory_reaches_every_case(index: DirectoryIndex) -> None:
    activities = index.activities
    assert any(len(a.places) > 1 for a in activities)
    assert any(a.places and all(p.point is None for p in a.places) for a in activities)
    assert any(p.area is None for a in activities for p in a.places)
    assert any(a.format == "drop_in" for a in activities)
    assert len({a.sort_name.split("\0")[0] for a in activities}) < len(activities)  # same names


@pytest.mark.parametrize("chunk", range(3))
def test_the_sieve_ranks_as_match_does(index: DirectoryIndex, chunk: int) -> None:
    ids = [a.id for a in index.activities]
    profiles = random_directory.profiles(PROFILES, seed=5, ids=ids)
    kept_some = 0
    for profile in profiles[chunk::3]:
        person, expected = reference(index, profile)
        distances = index._sieve.places.distances(person.point)
        keep, score, miles = index._sieve.scores(person, distances)
        assert np.flatnonzero(keep).tolist() == sorted(m.activity.position for m in expected)
        for m in expected:
            position = m.activity.position
            assert score[position] == m.score, (profile, m.activity.id)
            assert miles[position] == (math.inf if m.distance is None else m.distance)
        ranked = index._sieve.rank(person, distances).tolist()
        assert ranked == [m.activity.position for m in expected], profile
        kept_some += bool(expected)
    assert kept_some > len(profiles) // 6


@pytest.mark.parametrize("n", [1, 3])
def test_pages_and_reasons_are_as_match_says(index: DirectoryIndex, n: int) -> None:
    """Pages in the sieve's order (need areas, which may bring an activity forward
    to the first page, are tested in test_matching.py)."""
    ids = [a.id for a in index.activities]
    for profile in random_directory.profiles(40, seed=6 + n, ids=ids):
        profile = replace(profile, need_areas=())
        index.forget_searches()
        shown = [s for page in range(4) for s in index.suggest(profile, n=n, offset=page * n)]
        assert shown == reference_pages(index, profile, n, 4)


def test_score_words_for_one_activity(index: DirectoryIndex) -> None:
    """The word scores the sieve adds up are `score_words`' for each activity."""
    ids = [a.id for a in index.activities]
    for profile in random_directory.profiles(60, seed=9, ids=ids):
        person = Person.of(profile, index.centroids, index.synonyms)
        if not person.words:
            continue
        scores = index._sieve.word_scores(person.words)
        for activity in index.activities:
            assert scores[activity.position] == score_words(activity, person.words)[0]


def test_nearest_place_is_the_first_of_equally_near_ones() -> None:
    def at(*points: tuple[float, float] | None) -> ActivityRecord:
        return ActivityRecord(
            source_id="x",
            organisation=OrganisationRecord("o", "O"),
            name="Place",
            locations=tuple(
                LocationRecord(
                    None, None, "WA1 1AA", *(point or (None, None))
                )  # WA: not on the map
                for point in points
            ),
        )

    near, far = (53.45, -2.99), (53.50, -2.99)
    index = DirectoryIndex.from_records(
        [
            ("a", "o", at(far, near, near)),
            ("b", "o", at(None, near, far)),
            ("c", "o", at(None)),
            ("d", "o", at()),
            ("e", "o", at(near)),
        ],
        random_directory.centroids(),
    )
    distances = index._sieve.places.distances((53.46, -2.99))
    assert distances.place.tolist() == [1, 1, 0, 0, 0]
    assert distances.miles[0] == distances.miles[1] == distances.miles[4] < distances.miles[0] + 1
    assert distances.miles[2] == distances.miles[3] == math.inf
    assert index._sieve.places.distances(None).miles.size == 0
