"""Our directory as Open Referral UK 3.0 records, for the read-only API
(`bot.directory.serve`) and for another scheme to import.

Each activity becomes a full ORUK 3.0 service (`compiled/service.json`): its
organisation, places (`service_at_locations[].location.addresses[]`), sessions
(`schedules[]` with iCal `byday`), taxonomy terms (`attributes[].taxonomy_term`),
cost (`cost_options[]`, or `fees` as written), ages, contacts and when it was last
confirmed. Ids are UUIDs derived from the feed and the feed's own id, so they stay
the same from one day to the next. Nothing about any patient is ever here: only
the directory's own tables are read.

What reading it back gives is what we hold (tests/directory/test_serve.py: export,
import into an empty database, the same activities).
"""

from __future__ import annotations

import uuid
from typing import Any

from bot.directory.values import DAY_CODES
from bot.store.directory import Activity, Location

_NAMESPACE = uuid.UUID("6f1c1f3a-8a3e-4d0e-9d3c-0b6c5a1e5f15")


def uid(*parts: object) -> str:
    """A stable UUID for one of our records."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def service_id(activity: Activity) -> str:
    return uid("service", activity.feed, activity.source_id)


def organisation_record(activity: Activity) -> dict[str, Any]:
    organisation = activity.organisation
    record: dict[str, Any] = {
        "id": uid("organization", organisation.feed, organisation.source_id),
        "name": organisation.name or "Not given",
        "description": organisation.description or organisation.name or "Not given",
    }
    if organisation.url:
        record["website"] = organisation.url
    if organisation.email:
        record["email"] = organisation.email
    return record


def service_summary(activity: Activity) -> dict[str, Any]:
    """The one-to-one fields of a service (`compiled/service_list.json`)."""
    record: dict[str, Any] = {
        "id": service_id(activity),
        "organization_id": uid("organization", activity.feed, activity.organisation.source_id),
        "name": activity.name,
        "description": activity.description,
        "status": "active" if activity.active else "inactive",
        "last_modified": activity.updated_at.isoformat(),
    }
    optional = {
        "url": activity.url,
        "email": activity.email,
        "minimum_age": activity.minimum_age,
        "maximum_age": activity.maximum_age,
        "assured_date": activity.checked_on.isoformat() if activity.checked_on else None,
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    if activity.cost and activity.free is not True:
        record["fees"] = activity.cost
    record["organization"] = organisation_record(activity)
    return record


def service_record(activity: Activity) -> dict[str, Any]:
    """A fully nested ORUK 3.0 service."""
    sid = service_id(activity)
    record = service_summary(activity)
    # Places say "in person" and a virtual location "online"; only "by phone" has
    # no other field to say it in (ORUK 1.0's word for it).
    attending = "phone" if activity.by_phone else ""
    record["schedules"] = [
        _schedule(sid, n, s.day, s.starts, s.ends, s.weekly, s.note, attending)
        for n, s in enumerate(activity.schedules)
    ]
    record["service_at_locations"] = [
        _service_at_location(sid, n, place, activity) for n, place in enumerate(activity.locations)
    ]
    if activity.online:
        record["service_at_locations"].append(_virtual(sid))
    record["attributes"] = [
        {
            "id": uid("attribute", sid, term),
            "link_id": sid,
            "link_type": "service_type",
            "link_entity": "service",
            "taxonomy_term_id": term_id(term),
            "taxonomy_term": term_record(term),
        }
        for term in activity.taxonomy_terms
    ]
    record["cost_options"] = (
        [{"id": uid("cost", sid), "service_id": sid, "amount": 0, "option": "Free"}]
        if activity.free
        else []
    )
    record["contacts"] = (
        [
            {
                "id": uid("contact", sid),
                "service_id": sid,
                "phones": [{"id": uid("phone", sid), "number": activity.phone}],
            }
        ]
        if activity.phone
        else []
    )
    record["languages"] = [
        {"id": uid("language", sid, name), "service_id": sid, "name": name}
        for name in activity.languages
    ]
    if activity.how_to_join:
        record["application_process"] = activity.how_to_join
    return record


def term_id(name: str) -> str:
    return uid("taxonomy_term", name.lower())


TAXONOMY_ID = uid("taxonomy", "spbot")


def term_record(name: str) -> dict[str, Any]:
    return {
        "id": term_id(name),
        "name": name,
        "description": name,
        "taxonomy_id": TAXONOMY_ID,
        "vocabulary": "spbot",
    }


def taxonomy_record() -> dict[str, Any]:
    return {
        "id": TAXONOMY_ID,
        "name": "Activity types",
        "description": "The taxonomy terms the directory's activities were published with.",
        "uri": "https://github.com/openreferral/uk-profile",
        "version": "1",
    }


def _schedule(
    sid: str,
    n: int,
    day: int | None,
    starts: str | None,
    ends: str | None,
    weekly: bool,
    note: str | None,
    attending: str,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {"id": uid("schedule", sid, n), "service_id": sid}
    if day is not None:
        schedule["freq"] = "WEEKLY" if weekly else "MONTHLY"
        schedule["byday"] = DAY_CODES[day]
        if weekly:
            schedule["interval"] = 1
    if starts:
        schedule["opens_at"] = starts
    if ends:
        schedule["closes_at"] = ends
    if note:
        schedule["description"] = note
    elif day is not None and not weekly:
        schedule["description"] = "not every week"
    if attending:
        schedule["attending_type"] = attending
    return schedule


def _service_at_location(sid: str, n: int, place: Location, activity: Activity) -> dict[str, Any]:
    lid = uid("location", sid, n)
    location: dict[str, Any] = {"id": lid, "location_type": "physical"}
    if place.name:
        location["name"] = place.name
    if place.latitude is not None and place.longitude is not None:
        location["latitude"] = place.latitude
        location["longitude"] = place.longitude
    if place.address or place.postcode:
        location["addresses"] = [
            {
                "id": uid("address", lid),
                "location_id": lid,
                "address_1": place.address or "",
                "city": "",
                "state_province": "",
                "postal_code": place.postcode or "",
                "country": "GB",
                "address_type": "physical",
            }
        ]
    if activity.accessibility and n == 0:
        location["accessibility"] = [
            {"id": uid("accessibility", lid), "location_id": lid,
             "description": activity.accessibility}
        ]  # fmt: skip
    return {"id": uid("service_at_location", sid, n), "service_id": sid, "location_id": lid,
            "location": location}  # fmt: skip


def _virtual(sid: str) -> dict[str, Any]:
    lid = uid("location", sid, "virtual")
    return {
        "id": uid("service_at_location", sid, "virtual"),
        "service_id": sid,
        "location_id": lid,
        "location": {"id": lid, "location_type": "virtual", "name": "Online"},
    }
