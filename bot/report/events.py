"""Events for GP records (`spbot export-events`): one row per social-prescribing
event that has a case reference, with the SNOMED CT code a practice records.

The codes are from docs (DOMAIN.md); "offered" is marked unverified there, so
check it against the practice's clinical system before coding it. A row holds a
date, a case reference, the event and its code: never a name or anything anyone
wrote (the practice finds the patient from the reference in its own records).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.report.figures import Mark

COLUMNS = ("date", "reference", "event", "snomed_code")

#: event: (SNOMED CT code, its preferred term)
SNOMED = {
    "offered": ("871691000000100", "Social prescribing offered"),  # unverified (DOMAIN.md)
    "referred": ("871731000000106", "Referral to social prescribing service"),
    "declined": ("871711000000103", "Social prescribing declined"),
}


@dataclass(frozen=True)
class GPEvent:
    date: str  # YYYY-MM-DD, in the team's time zone
    reference: str
    event: str

    @property
    def snomed_code(self) -> str:
        return SNOMED[self.event][0]


def event_of(mark: Mark) -> str | None:
    """The GP event a milestone is, if it is one."""
    if mark.step == "handed_off":
        return "offered"
    if mark.step == "referred":
        return "referred"
    if mark.step == "closed" and mark.detail.get("outcome") == "declined":
        return "declined"
    return None


def gp_events(marks: Iterable[Mark], zone: ZoneInfo) -> list[GPEvent]:
    """Every event with a reference, oldest first."""
    found = []
    for mark in sorted(marks, key=lambda m: m.at):
        event = event_of(mark)
        if event and mark.reference:
            day = mark.at.astimezone(zone).date().isoformat()
            found.append(GPEvent(day, mark.reference, event))
    return found


def to_csv(events: Iterable[GPEvent]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in events:
        writer.writerow((e.date, e.reference, e.event, e.snomed_code))
    return buffer.getvalue()
