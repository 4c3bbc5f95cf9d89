"""What needs a link worker's attention in the directory (`spbot directory check`).

Out-of-date entries are the first complaint about directories, so this lists
what a person should ring round about: what the last import of each feed warned
of (a value left out or mended), entries nobody has confirmed for
STALE_AFTER_DAYS (180 by default), activities with no way to join (no phone,
email or website, and no "how to join"), activities that say neither when they
run nor that they are by appointment, closed ones (inactive: closed, or gone from
their feed), and places the bot has no coordinates for (placed by their
postcode, roughly by their district, or not at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.directory.postcodes import district_of
from bot.store import Database
from bot.store.directory import (
    Activity,
    active_activities,
    known_postcodes,
    last_import_warnings,
    listed_activities,
)

#: Entries not confirmed for this many days need checking (STALE_AFTER_DAYS).
STALE_AFTER_DAYS = 180


@dataclass(frozen=True)
class Entry:
    id: int
    name: str
    organisation: str
    detail: str = ""

    def line(self) -> str:
        text = f"[{self.id}] {self.name} ({self.organisation})"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True)
class DirectoryCheck:
    active: int
    stale_after_days: int
    warnings: list[str]  # from the last import of each feed, as the import said them
    not_checked: list[Entry]
    no_schedule: list[Entry]
    no_contact: list[Entry]  # no way to join: no phone, email, website or "how to join"
    closed: list[Entry]
    unplaced: list[Entry]  # locations without coordinates, and how they are placed instead

    @property
    def all_well(self) -> bool:
        return not (
            self.warnings
            or self.not_checked
            or self.no_schedule
            or self.no_contact
            or self.closed
            or self.unplaced
        )


async def check_directory(
    db: Database, *, today: date | None = None, stale_after_days: int = STALE_AFTER_DAYS
) -> DirectoryCheck:
    today = today or date.today()
    stale_after = timedelta(days=stale_after_days)
    async with db.reading(one_snapshot=True) as session:
        activities = await active_activities(session)
        everything = await listed_activities(session, include_inactive=True)
        known = await known_postcodes(session)
        warnings = await last_import_warnings(session)
    not_checked, no_schedule, no_contact, unplaced = [], [], [], []
    closed = [Entry(a.id, a.name, a.organisation.name) for a in everything if not a.active]
    for activity in activities:

        def entry(detail: str = "", a: Activity = activity) -> Entry:
            return Entry(a.id, a.name, a.organisation.name, detail)

        if activity.checked_on is None:
            not_checked.append(entry("never confirmed"))
        elif today - activity.checked_on > stale_after:
            not_checked.append(entry(f"last confirmed {activity.checked_on:%d %B %Y}"))
        if not activity.schedules and not activity.by_appointment:
            no_schedule.append(entry())
        if not (activity.phone or activity.email or activity.url or activity.how_to_join):
            no_contact.append(entry("no phone, email, website or how to join"))
        for place in activity.locations:
            if place.latitude is None:
                unplaced.append(
                    entry(_placed_by(place.postcode, place.address or place.name, known))
                )
    said = [
        f"{w.feed}: {w.record}: {w.field}" + (f" {w.value!r}" if w.value else "") + f": {w.done}"
        for w in warnings
    ]
    return DirectoryCheck(
        len(activities), stale_after_days, said, not_checked, no_schedule, no_contact, closed,
        unplaced,
    )  # fmt: skip


def _placed_by(postcode: str | None, where: str | None, known: set[str]) -> str:
    label = postcode or where or "a place"
    if postcode and postcode in known:
        return f"{label} has no coordinates; placed by its postcode"
    if postcode and district_of(postcode) in known:
        return f"{label} has no coordinates; placed roughly by district {district_of(postcode)}"
    return f"{label} has no coordinates and cannot be placed: distances to it are unknown"
