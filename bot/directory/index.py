"""The directory in memory: what `Directory.suggest` runs on.

Matching reads only memory, so a suggestion costs no database round trip and
stays well under 20 ms over 10,000 activities: each activity is prepared once
(`matching.index_activity`), and inverted indexes from need areas and words to
activities mean a search only scores activities that could be relevant.

The bot calls `load_directory` at start and after each import. `directory_version`
is a single cheap query: when it differs from `DirectoryIndex.version`, the
index is stale and should be loaded again.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from haversine import Unit, haversine_vector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.directory.matching import (
    Distances,
    IndexedActivity,
    Match,
    Person,
    index_activity,
    ranked,
    score_words,
    suggestion,
    vary,
)
from bot.directory.models import Activity, ImportRun
from bot.directory.postcodes import Centroids, Point, area_of, load_centroids
from bot.directory.records import ActivityRecord, LocationRecord, OrganisationRecord, ScheduleRecord
from bot.directory.sieve import Sieve
from bot.directory.words import Synonyms, default_synonyms
from bot.store import Database
from flows.directory import Profile, Suggestion


class DirectoryIndex:
    """Implements `flows.directory.Directory` over activities held in memory."""

    #: Searches remembered, so "Show me others" pages without searching again.
    CACHE_SIZE = 64

    def __init__(
        self,
        activities: Sequence[IndexedActivity],
        centroids: Centroids,
        *,
        synonyms: Synonyms | None = None,
        version: int = 0,
    ) -> None:
        self.activities = [
            replace(activity, position=position)
            for position, activity in enumerate(sorted(activities, key=lambda a: a.id))
        ]
        self.centroids = centroids
        self.synonyms = synonyms or default_synonyms()
        self.version = version
        self._by_term: dict[str, list[int]] = defaultdict(list)
        for position, activity in enumerate(self.activities):
            for term in activity.terms:
                self._by_term[term].append(position)
        self._places = _PlaceTable(self.activities)
        self._sieve = Sieve(self.activities)
        self._searches: OrderedDict[
            tuple[Profile, int], tuple[Person, list[Match], list[list[Match]]]
        ]
        self._searches = OrderedDict()

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[str, str, ActivityRecord]],
        centroids: Centroids,
        *,
        synonyms: Synonyms | None = None,
        version: int = 0,
    ) -> DirectoryIndex:
        """From (activity id, organisation key, record) triples: active ones only."""
        activities = [
            index_activity(position, activity_id, organisation_key, record, centroids)
            for position, (activity_id, organisation_key, record) in enumerate(records)
            if record.active
        ]
        return cls(activities, centroids, synonyms=synonyms, version=version)

    def forget_searches(self) -> None:
        """Drop remembered searches (benchmarks measure a search from scratch)."""
        self._searches.clear()

    def __len__(self) -> int:
        return len(self.activities)

    def suggest(self, profile: Profile, n: int = 3, offset: int = 0) -> list[Suggestion]:
        """The best `n` activities for this profile after the first `offset`.
        The same profile always gives the same list, and pages never repeat."""
        if n <= 0 or offset < 0:
            return []
        person, remaining, pages = self._search(profile, n)
        vary(remaining, n, pages, offset + n)
        shown = [m for page in pages for m in page][offset : offset + n]
        return [suggestion(m, person) for m in shown]

    def _search(self, profile: Profile, n: int) -> tuple[Person, list[Match], list[list[Match]]]:
        key = (profile, n)
        if key in self._searches:
            self._searches.move_to_end(key)
            return self._searches[key]
        person = Person.of(profile, self.centroids, self.synonyms)
        miles = self._places.miles_from(person.point)
        distances = self._places.nearest(miles)
        words = score_words(self.activities, person.words, self._by_term)
        candidates = [self.activities[p] for p in self._sieve.survivors(person, miles, words)]
        found: tuple[Person, list[Match], list[list[Match]]] = (
            person,
            ranked(candidates, person, distances, words),
            [],
        )
        self._searches[key] = found
        if len(self._searches) > self.CACHE_SIZE:
            self._searches.popitem(last=False)
        return found


class _PlaceTable:
    """Every place with coordinates, as arrays, so the distances from one person
    to all of them are one vectorised haversine call rather than thousands."""

    def __init__(self, activities: Sequence[IndexedActivity]) -> None:
        rows = [
            (place.point, activity.position, number)
            for activity in activities
            for number, place in enumerate(activity.places)
            if place.point is not None
        ]
        self.size = len(activities)
        self.points = np.array([row[0] for row in rows], dtype=float).reshape(-1, 2)
        self.owners = np.array([row[1] for row in rows], dtype=int)
        self.numbers = np.array([row[2] for row in rows], dtype=int)
        self._nearest_place: npt.NDArray[np.int_] | None = None

    def miles_from(self, point: Point | None) -> npt.NDArray[np.float64] | None:
        """Miles from `point` to each activity's nearest place (inf: none on the map)."""
        self._nearest_place = None
        if point is None or not len(self.points):
            return None
        miles = haversine_vector(
            np.broadcast_to(np.array(point, dtype=float), self.points.shape),
            self.points,
            Unit.MILES,
            check=False,
        )
        # The nearest place of each activity: sort by activity, then distance,
        # and keep the first row of each activity.
        order = np.lexsort((miles, self.owners))
        first = np.unique(self.owners[order], return_index=True)[1]
        nearest = order[first]
        best = np.full(self.size, math.inf)
        best[self.owners[nearest]] = miles[nearest]
        place = np.zeros(self.size, dtype=int)
        place[self.owners[nearest]] = self.numbers[nearest]
        self._nearest_place = place
        return best

    def nearest(self, miles: npt.NDArray[np.float64] | None) -> Distances:
        """`miles_from`'s answer as plain lists, for `matching`."""
        if miles is None or self._nearest_place is None:
            return Distances([], [])
        return Distances(miles.tolist(), self._nearest_place.tolist())


async def load_directory(db: Database, *, synonyms: Synonyms | None = None) -> DirectoryIndex:
    """Build the in-memory index from the active activities in the database."""
    async with db.sessions() as session:
        version = await _version(session)
        activities = (
            await session.scalars(
                select(Activity)
                .where(Activity.active.is_(True))
                .options(
                    selectinload(Activity.organisation),
                    selectinload(Activity.schedules),
                    selectinload(Activity.locations),
                    selectinload(Activity.needs),
                )
                .order_by(Activity.id)
            )
        ).all()
        areas = {
            area_of(place.postcode) for a in activities for place in a.locations if place.postcode
        }
        centroids = await load_centroids(session, areas)
    records = [(str(a.id), str(a.organisation_id), record_of(a)) for a in activities]
    return DirectoryIndex.from_records(records, centroids, synonyms=synonyms, version=version)


async def directory_version(db: Database) -> int:
    """The id of the latest import (of activities or postcodes); 0 before any."""
    async with db.sessions() as session:
        return await _version(session)


async def _version(session: AsyncSession) -> int:
    return (await session.scalar(select(func.max(ImportRun.id)))) or 0


def record_of(activity: Activity) -> ActivityRecord:
    """A stored activity as the plain record matching works on."""
    organisation = activity.organisation
    modes = (
        ("in_person", activity.in_person),
        ("online", activity.online),
        ("phone", activity.by_phone),
    )
    return ActivityRecord(
        source_id=activity.source_id,
        organisation=OrganisationRecord(
            source_id=organisation.source_id,
            name=organisation.name,
            description=organisation.description,
            url=organisation.url,
            email=organisation.email,
            phone=organisation.phone,
        ),
        name=activity.name,
        description=activity.description,
        url=activity.url,
        email=activity.email,
        phone=activity.phone,
        how_to_join=activity.how_to_join,
        modes=tuple(mode for mode, offered in modes if offered),
        format=activity.format,
        free=activity.free,
        cost=activity.cost,
        minimum_age=activity.minimum_age,
        maximum_age=activity.maximum_age,
        accessibility=activity.accessibility,
        languages=tuple(activity.languages),
        taxonomy_terms=tuple(activity.taxonomy_terms),
        need_areas=tuple(need.need_area for need in activity.needs),
        by_appointment=activity.by_appointment,
        checked_on=activity.checked_on,
        active=activity.active,
        schedules=tuple(
            ScheduleRecord(s.day, s.starts, s.ends, s.weekly, s.note) for s in activity.schedules
        ),
        locations=tuple(
            LocationRecord(p.name, p.address, p.postcode, p.latitude, p.longitude)
            for p in activity.locations
        ),
    )
