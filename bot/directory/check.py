"""What needs a link worker's attention in the directory (`spbot directory check`).

Out-of-date entries are the first complaint about directories, so this lists
what a person should ring round about: entries nobody has confirmed for a year,
activities that say neither when they run nor how to get in touch, and places
the bot has no coordinates for (placed by their postcode, roughly by their
district, or not at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.directory.postcodes import district_of
from bot.store import Database
from bot.store.directory import Activity, active_activities, known_postcodes

STALE_AFTER = timedelta(days=365)


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
    not_checked: list[Entry]
    no_schedule: list[Entry]
    no_contact: list[Entry]
    unplaced: list[Entry]  # locations without coordinates, and how they are placed instead

    @property
    def all_well(self) -> bool:
        return not (self.not_checked or self.no_schedule or self.no_contact or self.unplaced)


async def check_directory(db: Database, *, today: date | None = None) -> DirectoryCheck:
    today = today or date.today()
    async with db.sessions() as session:
        activities = await active_activities(session)
        known = await known_postcodes(session)
    not_checked, no_schedule, no_contact, unplaced = [], [], [], []
    for activity in activities:

        def entry(detail: str = "", a: Activity = activity) -> Entry:
            return Entry(a.id, a.name, a.organisation.name, detail)

        if activity.checked_on is None:
            not_checked.append(entry("never confirmed"))
        elif today - activity.checked_on > STALE_AFTER:
            not_checked.append(entry(f"last confirmed {activity.checked_on:%d %B %Y}"))
        if not activity.schedules and not activity.by_appointment:
            no_schedule.append(entry())
        if not (activity.phone or activity.email or activity.url):
            no_contact.append(entry())
        for place in activity.locations:
            if place.latitude is None:
                unplaced.append(
                    entry(_placed_by(place.postcode, place.address or place.name, known))
                )
    return DirectoryCheck(len(activities), not_checked, no_schedule, no_contact, unplaced)


def _placed_by(postcode: str | None, where: str | None, known: set[str]) -> str:
    label = postcode or where or "a place"
    if postcode and postcode in known:
        return f"{label} has no coordinates; placed by its postcode"
    if postcode and district_of(postcode) in known:
        return f"{label} has no coordinates; placed roughly by district {district_of(postcode)}"
    return f"{label} has no coordinates and cannot be placed: distances to it are unknown"
