"""Random directories and profiles that reach every corner of matching: several
places or none, places without coordinates or postcodes, ages, unknown formats,
sessions without times, words shared with the synonym groups, ties on distance
and name, and organisations with many activities. Used to check the fast
ranking against `reference_scorer.match` one activity at a time."""

from __future__ import annotations

import random

from bot.directory.postcodes import Centroids
from bot.directory.records import ActivityRecord, LocationRecord, OrganisationRecord, ScheduleRecord
from flows.directory import FREE_TIMES, MODES, NEED_AREAS, Profile

TOWNS = {
    "L20": (53.45, -2.995),
    "L21": (53.47, -2.998),
    "L23": (53.49, -3.025),
    "L30": (53.478, -2.97),
    "PR8": (53.625, -3.02),
    "L20 3AB": (53.452, -2.99),
}
#: Postcodes for places: with a full-postcode centroid, a district centroid, or
#: none at all (L99, WA1: nowhere on the map, but an area and a district).
PLACE_POSTCODES = ["L20 3AB", "L20 1AA", "L21 5XY", "L23", "PR8 2AA", "L99 9ZZ", "WA1 1AA", None]
PERSON_POSTCODES = [None, "L20 3AB", "l203ab", "L20", "L21 9ZZ", "L99 1AA", "WA1 2BB", "PR8", "ZZ"]

WORDS = (  # noqa: SIM905 (a list of words reads better as words)
    "chat natter walk walking group debt advice money bills skint lonely company friends meet "
    "people knit knitting art painting carers cuppa tea coffee shed woodwork job cv interview "
    "garden gardening allotment bereavement widow wife grief housing rent eviction food bank "
    "football fitness yoga swim singing choir computer digital course anxiety stress low mood "
    "confidence smoking quit volunteer café"
).split()
FILLER = "the a and for with to I my really would like since some help".split()  # noqa: SIM905


def directory(count: int, seed: int) -> list[tuple[str, str, ActivityRecord]]:
    rng = random.Random(seed)
    organisations = [f"org-{i}" for i in range(max(1, count // 8))]
    records = []
    for i in range(count):
        # One organisation runs many activities.
        organisation = organisations[0] if rng.random() < 0.1 else rng.choice(organisations)
        name = " ".join(rng.choices(WORDS, k=rng.randint(1, 3))).title()
        modes = tuple(m for m in MODES if rng.random() < 0.5) or (rng.choice(MODES),)
        records.append(
            (
                f"a{i:05d}",
                organisation,
                ActivityRecord(
                    source_id=f"a{i}",
                    organisation=OrganisationRecord(organisation, f"Organisation {organisation}"),
                    name=name,
                    description=" ".join(rng.choices(WORDS + FILLER, k=rng.randint(0, 12))),
                    taxonomy_terms=tuple(rng.choices(WORDS, k=rng.randint(0, 2))),
                    modes=modes,
                    format=rng.choice(("group", "one_to_one", None, None, "drop_in")),
                    free=rng.choice((True, True, False, None)),
                    minimum_age=rng.choice((None, None, None, 11, 18, 50)),
                    maximum_age=rng.choice((None, None, None, None, 16, 25, 64)),
                    need_areas=tuple(rng.sample(NEED_AREAS, rng.randint(0, 3))),
                    schedules=tuple(_schedule(rng) for _ in range(rng.choice((0, 1, 1, 1, 2, 3)))),
                    locations=tuple(
                        _location(rng)
                        for _ in range(
                            rng.choice((0, 1, 1, 1, 2, 3)) if "in_person" in modes else 0
                        )
                    ),
                ),
            )
        )
    return records


def _schedule(rng: random.Random) -> ScheduleRecord:
    day = rng.choice((None, 0, 1, 2, 3, 4, 5, 6))
    starts = rng.choice((None, "09:30", "11:00", "12:00", "13:00", "16:30", "17:00", "19:00"))
    ends = rng.choice((None, "10:00", "12:30", "14:00", "18:00", "21:00"))
    return ScheduleRecord(day, starts, ends, weekly=rng.random() < 0.8)


def _location(rng: random.Random) -> LocationRecord:
    postcode = rng.choice(PLACE_POSTCODES)
    if rng.random() < 0.5:
        lat, lon = rng.choice(list(TOWNS.values()))
        if rng.random() < 0.7:  # otherwise exactly on the centroid: distances tie
            lat, lon = lat + rng.uniform(-0.04, 0.04), lon + rng.uniform(-0.04, 0.04)
        return LocationRecord(rng.choice((None, "Hall")), None, postcode, lat, lon)
    return LocationRecord(rng.choice((None, "Church")), rng.choice((None, "1 High St")), postcode)


def profiles(count: int, seed: int, ids: list[str]) -> list[Profile]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        said = rng.choices(WORDS + FILLER + ["xylophone", "4", "meet people", "fed up"], k=6)
        found.append(
            Profile(
                need_areas=tuple(rng.sample(NEED_AREAS, rng.choice((0, 0, 1, 1, 2, 3)))),
                what_matters=rng.choice((None, "", " ".join(said[: rng.randint(1, 6)]))),
                postcode=rng.choice(PERSON_POSTCODES),
                modes=tuple(m for m in MODES if rng.random() < 0.7) or MODES,
                max_miles=rng.choice((None, None, 0, 0.5, 1, 2, 3.7, 5)),
                group=rng.choice(("either", "group", "one_to_one")),
                free_times=rng.choice(
                    (FREE_TIMES, tuple(t for t in FREE_TIMES if rng.random() < 0.5))
                ),
                free_only=rng.random() < 0.2,
                declined=tuple(rng.sample(ids, rng.choice((0, 0, 2, 20)))),
                age=rng.choice((None, None, 12, 17, 30, 70)),
            )
        )
    return found


def centroids() -> Centroids:
    return Centroids(dict(TOWNS))
