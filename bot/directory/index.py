"""The directory in memory: what `Directory.suggest` runs on.

Matching reads only memory, so a suggestion costs no database round trip and
stays well under 20 ms over 10,000 activities: each activity is prepared once
(`matching.index_activity`), `sieve.Sieve` holds them as arrays and ranks all of
them for a person with numpy, and `matching.explain` says why for only the few shown.

The bot calls `load_directory` at start and after each import. `directory_version`
is a single cheap query: when it differs from `DirectoryIndex.version`, the
index is stale and should be loaded again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.directory.matching import (
    Distances,
    IndexedActivity,
    Person,
    explain,
    index_activity,
    suggestion,
    vary,
)
from bot.directory.postcodes import Centroids, area_of, load_centroids
from bot.directory.records import ActivityRecord, LocationRecord, OrganisationRecord, ScheduleRecord
from bot.directory.sieve import Ints, Sieve
from bot.directory.words import Synonyms, default_synonyms
from bot.store import Database
from bot.store import directory as store
from bot.store.directory import Activity
from flows.directory import FREE_TIMES, MODES, Profile, Suggestion, named_in


@dataclass
class _Search:
    """One profile's search, remembered for its "Show me others" pages."""

    person: Person
    distances: Distances
    ways: Ints  # by position: the sieve's `Sifted.ways`
    remaining: list[int]  # positions of the activities not yet on a page, best first
    pages: list[list[int]] = field(default_factory=list)
    #: Activities on the first page although outside a limit they gave:
    #: position -> (the need area it answers, the limits it is outside).
    outside: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


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
        self._organisations = [activity.organisation_key for activity in self.activities]
        self._by_id = {activity.id: activity for activity in self.activities}
        self._sieve = Sieve(self.activities)
        self._searches: OrderedDict[tuple[Profile, int], _Search] = OrderedDict()

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
        """The page of suggestions `offset` in (see `flows.directory.Directory`).
        The same profile always gives the same pages, and pages never repeat."""
        if n <= 0 or offset < 0:
            return []
        search = self._search(profile, n)
        if not search.pages:
            vary(search.remaining, n, search.pages, n, self._organisations.__getitem__)
            self._answer_every_need(search, n)
        vary(search.remaining, n, search.pages, offset + n, self._organisations.__getitem__)
        start = 0
        for page in search.pages:
            if start == offset:
                return [self._suggestion(position, search) for position in page]
            start += len(page)
        shown = [p for page in search.pages for p in page][offset : offset + n]
        return [self._suggestion(position, search) for position in shown]

    def activity(self, activity_id: str) -> Suggestion | None:
        """One activity by its id (a link worker's /refer names it), as listed now."""
        found = self._by_id.get(activity_id)
        return found.base if found is not None else None

    def named(self, words: str, n: int = 5) -> list[Suggestion]:
        """Activities by name (a link worker's /refer), exact names first."""
        return named_in((a.base for a in self.activities), words, n)

    def _answer_every_need(self, search: _Search, n: int) -> None:
        """Make the first page answer every need area they named: the best
        activity for a need it leaves out takes the place of the last one that
        is not the only answer to another; a need with nothing within their
        limits gets the best fit outside them, marked as such."""
        needs = search.person.profile.need_areas
        if not needs:
            return
        first = search.pages[0] if search.pages else []
        if not search.pages:
            search.pages.append(first)

        def answers(position: int, need: str) -> bool:
            return need in self.activities[position].need_areas

        for need in needs:
            if any(answers(p, need) for p in first):
                continue
            best = next((p for p in search.remaining if answers(p, need)), None)
            if best is None:
                continue
            search.remaining.remove(best)
            replaceable = [
                i
                for i, p in enumerate(first)
                if not any(
                    answers(p, other) and sum(answers(q, other) for q in first) == 1
                    for other in needs
                )
            ]
            if replaceable and len(first) >= n:
                swapped = first.pop(replaceable[-1])
                search.remaining.insert(0, swapped)
            first.append(best)
        for need in needs:
            if any(answers(p, need) for p in first):
                continue
            stretch = self._outside_limits(search, need)
            if stretch is not None:
                position, limits = stretch
                search.outside[position] = (need, limits)
                first.append(position)

    def _outside_limits(self, search: _Search, need: str) -> tuple[int, tuple[str, ...]] | None:
        """The best activity for `need` once the limits they gave (how they take
        part, how far, cost, times) are lifted, and which of them it is outside.
        Their age and what they said no to still hold."""
        profile = search.person.profile
        lifted = replace(
            profile,
            need_areas=(need,),
            what_matters="",
            modes=MODES,
            max_miles=None,
            free_only=False,
            free_times=FREE_TIMES,
        )
        person = Person.of(lifted, self.centroids, self.synonyms)
        ranked = self._sieve.rank(person, search.distances)
        best: tuple[int, tuple[str, ...]] | None = None
        for position in ranked.tolist():
            activity = self.activities[position]
            if need not in activity.need_areas:
                continue
            limits = self._limits_outside(activity, search)
            if limits and (best is None or len(limits) < len(best[1])):
                best = (position, limits)  # the fewest limits lifted, then the best ranked
                if len(limits) == 1:
                    break
        return best

    def _limits_outside(self, activity: IndexedActivity, search: _Search) -> tuple[str, ...]:
        profile = search.person.profile
        limits: list[str] = []
        ways = activity.modes & frozenset(profile.modes)
        if not ways:
            limits += [mode for mode in MODES if mode in activity.modes][:1]
        elif ways == {"in_person"} and profile.max_miles is not None:
            miles = (
                float(search.distances.miles[activity.position])
                if len(search.distances.miles)
                else math.inf
            )
            if miles > profile.max_miles:
                limits.append("far")
        if profile.free_only and activity.free is False:
            limits.append("cost")
        if (
            search.person.limits_times
            and activity.slots
            and not (activity.slots & search.person.free_times)
        ):
            limits.append("time")
        return tuple(limits)

    def _search(self, profile: Profile, n: int) -> _Search:
        key = (profile, n)
        if key in self._searches:
            self._searches.move_to_end(key)
            return self._searches[key]
        person = Person.of(profile, self.centroids, self.synonyms)
        distances = self._sieve.places.distances(person.point)
        sifted = self._sieve.sift(person, distances)
        ranked = self._sieve.ranked(sifted).tolist()
        search = self._searches[key] = _Search(person, distances, sifted.ways, ranked)
        if len(self._searches) > self.CACHE_SIZE:
            self._searches.popitem(last=False)
        return search

    def _suggestion(self, position: int, search: _Search) -> Suggestion:
        """A suggestion the sieve ranked, with `explain` saying why."""
        activity = self.activities[position]
        if position in search.outside:
            need, limits = search.outside[position]
            fit = explain(activity, search.person, activity.modes, search.distances)
            return replace(suggestion(fit, search.person), outside=limits, for_need=need)
        ways = self._sieve.modes_of(int(search.ways[position]))
        fit = explain(activity, search.person, ways, search.distances)
        return suggestion(fit, search.person)


async def load_directory(db: Database, *, synonyms: Synonyms | None = None) -> DirectoryIndex:
    """Build the in-memory index from the active activities in the database."""
    async with db.reading(one_snapshot=True) as session:
        version = await store.directory_version(session) or 0
        activities = await store.active_activities(session)
        areas = {
            area_of(place.postcode) for a in activities for place in a.locations if place.postcode
        }
        centroids = await load_centroids(session, areas)
    records = [(str(a.id), str(a.organisation_id), record_of(a)) for a in activities]
    return DirectoryIndex.from_records(records, centroids, synonyms=synonyms, version=version)


async def directory_version(db: Database) -> int:
    """The id of the latest import (of activities or postcodes); 0 before any."""
    async with db.reading() as session:
        return await store.directory_version(session) or 0


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
