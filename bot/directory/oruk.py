"""Open Referral UK services, as live feeds publish them, into `ActivityRecord`s.

One reader serves both versions in use, because most of a service reads the same
and real feeds mix them:

- ORUK 3.0 (HSDS 3.0): `service_at_locations[].location.addresses[]`,
  `schedules[]` with iCal `byday`, `attributes[].taxonomy_term`, `cost_options[]`,
  `contacts[]`, `organization`.
- ORUK 1.0: `service_at_locations[].location.physical_addresses[]`,
  `regular_schedules[]` with `weekday` (1 = Monday), `service_taxonomys[].taxonomy`,
  `eligibilitys[]`, `attending_type` (phone | online | venue | home visit).

Messiness that is accepted rather than rejected: integer ids, amounts and ages as
strings, HTML in descriptions, `organisation` spelt the British way, locations
listed straight on the service, coordinates as GeoJSON `[longitude, latitude]`,
postcodes without a space or only a district, and services with no location at
all (online or phone). What rejects the whole file — each with the record, the
field and the problem — is structural: a record that is not an object, has no id
or no name, or shares its id with another. A value that cannot be used (a
postcode that is not a postcode, a day that is not a day, an unreadable time,
amount, phone, website or email, an unknown status or taxonomy term, an address
outside the UK) is left out, or mended when the mistake is obvious
(`bot.directory.mending`), and the record imported with a warning saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from bot.directory import taxonomy
from bot.directory.mending import (
    Mended,
    mend_email,
    mend_phone,
    mend_postcode,
    mend_url,
    outside_uk,
)
from bot.directory.postcodes import valid_point
from bot.directory.records import (
    ActivityRecord,
    LocationRecord,
    OrganisationRecord,
    Problems,
    ScheduleRecord,
    Warnings,
)
from bot.directory.values import (
    DAY_CODES,
    ORDINALS,
    BadValue,
    clean_text,
    parse_age,
    parse_byday,
    parse_date,
    parse_day,
    parse_number,
    parse_time,
    plain_text,
)

ACTIVE_STATUSES = {"active"}
INACTIVE_STATUSES = {"inactive", "defunct", "temporarily closed", "closed"}

#: ORUK 1.0 `attending_access`, said the way a patient would hear it.
ATTENDING_ACCESS = {
    "drop-in": "Just turn up: no need to book.",
    "appointment": "By appointment: get in touch to book.",
    "referral": "You need to be referred: a link worker can do this.",
    "membership": "You need to become a member first.",
}

T = TypeVar("T")

#: Who runs a service whose feed does not say (imported with a warning).
NO_ORGANISATION = OrganisationRecord(source_id="unknown", name="")


class ServiceReader:
    """Reads a list of services, collecting problems (structural: the file is
    rejected) and warnings (a value left out or mended) for the report.

    `organisations` resolves `organization_id` when services only reference their
    organisation (HSDS data packages, summary API listings).
    """

    def __init__(
        self,
        problems: Problems,
        *,
        organisations: Mapping[str, Mapping[str, Any]] | None = None,
        today: date | None = None,
    ) -> None:
        self.problems = problems
        self.organisations = organisations or {}
        self.warnings = Warnings()
        self.today = today or date.today()
        self.records_with_problems = 0

    def read_all(self, services: Iterable[Any]) -> list[ActivityRecord]:
        records: list[ActivityRecord] = []
        seen: dict[str, int] = {}
        for position, raw in enumerate(services, start=1):
            before = len(self.problems)
            record = self.read(raw, position)
            if record is not None and record.source_id in seen:
                self.problems.add(
                    _label(raw, position),
                    "id",
                    f"{record.source_id!r} is also used by service {seen[record.source_id]}",
                )
            elif record is not None:
                seen[record.source_id] = position
                records.append(record)
            if len(self.problems) > before:
                self.records_with_problems += 1
        return records

    def read(self, raw: Any, position: int) -> ActivityRecord | None:
        """One service, or None (with problems recorded) when it cannot be used."""
        if not isinstance(raw, dict):
            self.problems.add(f"service {position}", "record", "is not a JSON object")
            return None
        service = _ServiceFields(self, raw, _label(raw, position))
        return service.record()


class _ServiceFields:
    """The reading of one service; `record()` returns it or None."""

    def __init__(self, reader: ServiceReader, raw: dict[str, Any], label: str) -> None:
        self.reader = reader
        self.raw = raw
        self.label = label
        self.ok = True
        self.abroad = False  # a place was left out for being outside the UK

    # --- bookkeeping ----------------------------------------------------------------

    def problem(self, field: str, message: str) -> None:
        self.reader.problems.add(self.label, field, message)
        self.ok = False

    def value(
        self, field: str, parse: Callable[[Any], T], raw_value: Any, kind: str = "value"
    ) -> T | None:
        """A value read with `parse`; one that cannot be read is left out, with a warning."""
        try:
            return parse(raw_value)
        except BadValue as exc:
            self.warn(field, raw_value, kind, f"left out: it {exc}")
            return None

    def warn(self, field: str, value: Any, kind: str, done: str) -> None:
        source_id = clean_text(self.raw.get("id"))
        self.reader.warnings.add(self.label, field, value, kind, done, source_id)

    def mended(
        self, field: str, text: str | None, mend: Callable[[str], Mended], kind: str, what: str
    ) -> str | None:
        """A postcode, phone, website or email as mended, or None (both reported)."""
        if not text:
            return None
        result = mend(text)
        if result.value is None:
            self.warn(field, text, kind, f"left out: it is not {what}")
        elif result.mended:
            self.warn(field, text, f"{kind} mended", f"mended to {result.value!r}")
        return result.value

    # --- the record -----------------------------------------------------------------

    def record(self) -> ActivityRecord | None:
        raw = self.raw
        source_id = clean_text(raw.get("id"))
        if not source_id:
            self.problem("id", "is missing")
        elif len(source_id) > 200:
            self.problem("id", "is longer than 200 characters")
        name = plain_text(raw.get("name"))
        if not name:
            self.problem("name", "is missing")
        description = plain_text(raw.get("description")) or ""
        organisation = self.organisation()
        active = self.active()
        places, virtual, accessibility, location_schedules = self.locations()
        schedules = self.schedules(
            [
                ("schedules", raw.get("schedules")),
                ("regular_schedules", raw.get("regular_schedules")),
                *location_schedules,
            ]
        )
        terms = self.taxonomy_terms()
        free, cost = self.cost()
        minimum_age, maximum_age = self.ages()
        phone = self.phone(organisation)
        attend_texts = self.attending_texts()
        modes = self.modes(places, virtual, attend_texts, name or "", description, phone)
        how_to_join = self.how_to_join(attend_texts)
        by_appointment = not any(s.day is not None for s in schedules) and (
            clean_text(raw.get("attending_access")) == "appointment"
            or any(
                "appointment" in text.lower()
                for text in [*attend_texts, how_to_join or "", description]
                + [s.note or "" for s in schedules]
            )
        )
        checked_on = self.value("assured_date", parse_date, raw.get("assured_date"), "date")
        if checked_on is None and raw.get("assured_date") is None:
            checked_on = self.value("last_modified", parse_date, raw.get("last_modified"), "date")
        url = self.mended("url", clean_text(raw.get("url")), mend_url, "website", "a website")
        email = self.mended(
            "email", clean_text(raw.get("email")), mend_email, "email", "an email address"
        )
        if not (self.ok and source_id and name):
            return None
        return ActivityRecord(
            source_id=source_id,
            organisation=organisation,
            name=name,
            description=description,
            url=url or organisation.url,
            email=email or self.contact_email() or organisation.email,
            phone=phone,
            how_to_join=how_to_join,
            modes=modes,
            format=taxonomy.format_for(" ".join([name, description, *terms])),
            free=free,
            cost=cost,
            minimum_age=minimum_age,
            maximum_age=maximum_age,
            accessibility="\n".join(accessibility) or None,
            languages=self.languages(),
            taxonomy_terms=terms,
            need_areas=taxonomy.need_areas_for(terms)
            or taxonomy.need_areas_for([name, description]),
            by_appointment=by_appointment,
            checked_on=checked_on,
            active=active,
            schedules=tuple(schedules),
            locations=tuple(places),
        )

    def organisation(self) -> OrganisationRecord:
        """Who runs it. A service whose organisation is not given (or not in the
        file) is still imported, under no organisation's name, with a warning."""
        raw = self.raw
        org = raw.get("organization") or raw.get("organisation")
        field = "organization" if "organization" in raw else "organisation"
        missing = "missing: imported without an organisation's name"
        if not isinstance(org, dict):
            org_id = clean_text(raw.get("organization_id") or raw.get("organisation_id"))
            org = dict(self.reader.organisations.get(org_id, {})) if org_id else None
            if org_id and not org:
                self.warn(
                    "organization_id", org_id, "organisation",
                    "not in the file: imported without an organisation's name",
                )  # fmt: skip
                return NO_ORGANISATION
        if not org:
            self.warn("organization", None, "organisation", missing)
            return NO_ORGANISATION
        name = plain_text(org.get("name"))
        if not name:
            self.warn(f"{field}.name", None, "organisation", missing)
        website = clean_text(org.get("website") or org.get("url"))
        email = clean_text(org.get("email"))
        return OrganisationRecord(
            source_id=clean_text(org.get("id")) or (_slug(name) if name else "unknown"),
            name=name or "",
            description=plain_text(org.get("description")) or "",
            url=self.mended(f"{field}.website", website, mend_url, "website", "a website"),
            email=self.mended(f"{field}.email", email, mend_email, "email", "an email address"),
            phone=self.first_phone([org], f"{field}.phones"),
        )

    def active(self) -> bool:
        status = (clean_text(self.raw.get("status")) or "active").lower()
        if status in ACTIVE_STATUSES:
            return True
        if status in INACTIVE_STATUSES:
            return False
        self.warn(
            "status", status, "status",
            "not known (use active, inactive, defunct or temporarily closed): "
            "imported but hidden from patients until it is put right",
        )  # fmt: skip
        return False

    def locations(
        self,
    ) -> tuple[list[LocationRecord], bool, list[str], list[tuple[str, Any]]]:
        """Physical places, whether any location is virtual, accessibility notes,
        and schedules attached to a location."""
        places: list[LocationRecord] = []
        accessibility: list[str] = []
        schedules: list[tuple[str, Any]] = []
        virtual = False
        for path, location, link in self._raw_locations():
            kind = (clean_text(location.get("location_type")) or "physical").lower()
            if kind == "virtual":
                virtual = True
                continue
            place = self.location(path, location)
            if place is not None:
                places.append(place)
            for note in _accessibility_notes(location):
                if note not in accessibility:
                    accessibility.append(note)
            for key in ("schedules", "regular_schedules"):
                for owner, owner_path in ((link, path.removesuffix(".location")), (location, path)):
                    if isinstance(owner, dict) and owner.get(key):
                        schedules.append((f"{owner_path}.{key}", owner[key]))
        return places, virtual, accessibility, schedules

    def _raw_locations(self) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
        found: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for i, link in enumerate(_list(self.raw.get("service_at_locations"))):
            if isinstance(link, dict) and isinstance(link.get("location"), dict):
                found.append((f"service_at_locations[{i}].location", link["location"], link))
        for i, location in enumerate(_list(self.raw.get("locations"))):
            if isinstance(location, dict):
                found.append((f"locations[{i}]", location, None))
        return found

    def location(self, path: str, raw: dict[str, Any]) -> LocationRecord | None:
        address_raw = _first_address(raw)
        postcode_text = clean_text(
            (address_raw or {}).get("postal_code")
            or (address_raw or {}).get("postcode")
            or raw.get("postal_code")
            or raw.get("postcode")
        )
        address = _address_text(address_raw or raw)
        country = clean_text((address_raw or {}).get("country") or raw.get("country"))
        if outside_uk(country):
            self.abroad = True
            self.warn(
                _address_field(raw, address_raw, path, "country"),
                ", ".join(filter(None, [address, postcode_text, country])),
                "outside the UK",
                "place left out: the address is outside the UK, so the service is "
                "offered online or by phone only",
            )  # fmt: skip
            return None
        postcode = self.mended(
            _address_field(raw, address_raw, path), postcode_text, mend_postcode,
            "postcode", "a UK postcode",
        )  # fmt: skip
        latitude, longitude = self.coordinates(path, raw)
        name = plain_text(raw.get("name"))
        if not (postcode or latitude is not None or address):
            self.warn(path, name, "place", "left out: it has no address, postcode or coordinates")
            return None
        return LocationRecord(name, address, postcode, latitude, longitude)

    def coordinates(self, path: str, raw: dict[str, Any]) -> tuple[float | None, float | None]:
        latitude = self.value(f"{path}.latitude", parse_number, raw.get("latitude"), "coordinates")
        longitude = self.value(
            f"{path}.longitude", parse_number, raw.get("longitude"), "coordinates"
        )
        if latitude is None and longitude is None:
            latitude, longitude = _geojson_point(raw)
        if latitude is None or longitude is None:
            return None, None
        if not valid_point(latitude, longitude):
            self.warn(
                f"{path}.latitude", f"{latitude}, {longitude}", "coordinates",
                "left out: not a place on Earth; its postcode is used instead",
            )  # fmt: skip
            return None, None
        return latitude, longitude

    def schedules(self, groups: list[tuple[str, Any]]) -> list[ScheduleRecord]:
        found: list[ScheduleRecord] = []
        for path, schedules in groups:
            for i, raw in enumerate(_list(schedules)):
                if isinstance(raw, dict):
                    for schedule in self.schedule(f"{path}[{i}]", raw):
                        if schedule not in found:
                            found.append(schedule)
        return found

    def schedule(self, path: str, raw: dict[str, Any]) -> list[ScheduleRecord]:
        valid_to = self.value(f"{path}.valid_to", parse_date, raw.get("valid_to"), "date")
        if valid_to is not None and valid_to < self.reader.today:
            self.warn(f"{path}.valid_to", raw.get("valid_to"), "ended", "left out: it has ended")
            return []
        starts = self.value(f"{path}.opens_at", parse_time, raw.get("opens_at"), "time")
        ends = self.value(f"{path}.closes_at", parse_time, raw.get("closes_at"), "time")
        description = plain_text(raw.get("description"))
        freq = (clean_text(raw.get("freq")) or "WEEKLY").upper()
        interval = self.value(f"{path}.interval", parse_number, raw.get("interval")) or 1
        days: list[tuple[int, int | None]] = []
        day_given = False
        if clean_text(raw.get("byday")):
            day_given = True
            days = self.value(f"{path}.byday", parse_byday, raw.get("byday"), "day") or []
        elif raw.get("weekday") not in (None, ""):
            day_given = True
            day = self.value(f"{path}.weekday", parse_day, raw.get("weekday"), "day")
            days = [(day, None)] if day is not None else []
        if day_given and not days:
            return []  # a session on a day nobody can read: left out (the warning says so)
        if not days:
            note = description or _month_days(raw.get("bymonthday"))
            if not (starts or note):
                return []
            return [ScheduleRecord(None, starts, ends, weekly=False, note=note)]
        sessions = []
        for day, ordinal in days:
            weekly = freq == "WEEKLY" and interval == 1 and ordinal is None
            note = None
            if ordinal is not None:
                note = f"{ORDINALS[ordinal]} {_DAY_WORDS[day]} of the month"
            elif freq == "WEEKLY" and interval == 2:
                note = "every other week"
            elif not weekly:
                note = description or "not every week"
            sessions.append(ScheduleRecord(day, starts, ends, weekly=weekly, note=note))
        return sessions

    def taxonomy_terms(self) -> tuple[str, ...]:
        terms: list[str] = []
        unknown = "left out: no such taxonomy term in the feed"
        for i, attribute in enumerate(_list(self.raw.get("attributes"))):
            term = attribute.get("taxonomy_term") if isinstance(attribute, dict) else None
            if isinstance(term, dict):
                terms.append(plain_text(term.get("name") or term.get("term")) or "")
            elif isinstance(attribute, dict) and clean_text(attribute.get("taxonomy_term_id")):
                term_id = attribute["taxonomy_term_id"]
                field = f"attributes[{i}].taxonomy_term_id"
                self.warn(field, term_id, "taxonomy term", unknown)
        for i, link in enumerate(_list(self.raw.get("service_taxonomys"))):
            if (
                isinstance(link, dict)
                and not isinstance(link.get("taxonomy"), dict)
                and clean_text(link.get("taxonomy_id"))
            ):
                field = f"service_taxonomys[{i}].taxonomy_id"
                self.warn(field, link["taxonomy_id"], "taxonomy term", unknown)
        for key in ("service_taxonomys", "service_taxonomies"):
            for link in _list(self.raw.get(key)):
                term = link.get("taxonomy") if isinstance(link, dict) else None
                if isinstance(term, dict):
                    terms.append(plain_text(term.get("name")) or "")
        return tuple(dict.fromkeys(term for term in terms if term))

    def cost(self) -> tuple[bool | None, str | None]:
        """Free (True), costs something (False, with what it costs), or not said (None)."""
        priced: list[str] = []
        free_seen = False
        for i, option in enumerate(_list(self.raw.get("cost_options"))):
            if not isinstance(option, dict):
                continue
            amount = self.value(
                f"cost_options[{i}].amount", parse_number, option.get("amount"), "cost"
            )
            described = clean_text(option.get("amount_description"))
            who = clean_text(option.get("option"))  # "Under 18s and Over 60s"
            if amount is None and not _says_free(f"{described} {who}"):
                continue
            if amount is None or amount == 0:
                free_seen = True
            else:
                price = " ".join(filter(None, [_pounds(amount), described]))
                priced.append(f"{price} ({who})" if who else price)
        if priced:
            return False, "; ".join(priced)
        if free_seen:
            return True, None
        fees = plain_text(self.raw.get("fees")) or plain_text(self.raw.get("fees_description"))
        if fees is None:
            return None, None
        if re.search(r"£\s*\d", fees):
            return False, fees
        if _says_free(fees):
            return True, None
        return None, fees

    def ages(self) -> tuple[int | None, int | None]:
        minimum = self.value("minimum_age", parse_age, self.raw.get("minimum_age"), "age")
        maximum = self.value("maximum_age", parse_age, self.raw.get("maximum_age"), "age")
        for key in ("eligibilitys", "eligibilities"):
            for i, rule in enumerate(_list(self.raw.get(key))):
                if not isinstance(rule, dict):
                    continue
                low = self.value(
                    f"{key}[{i}].minimum_age", parse_age, rule.get("minimum_age"), "age"
                )
                high = self.value(
                    f"{key}[{i}].maximum_age", parse_age, rule.get("maximum_age"), "age"
                )
                if low is not None:
                    minimum = low if minimum is None else min(minimum, low)
                if high is not None:
                    maximum = high if maximum is None else max(maximum, high)
        return minimum, maximum

    def phone(self, organisation: OrganisationRecord | None) -> str | None:
        owners: list[Any] = [self.raw, *_list(self.raw.get("contacts"))]
        for _, location, link in self._raw_locations():
            owners += [link, location, *_list(location.get("contacts"))]
        return self.first_phone(owners, "phones") or (organisation.phone if organisation else None)

    def first_phone(self, owners: list[Any], field: str) -> str | None:
        """The first usable phone number the owners give; each unusable one on the
        way is reported (and one that had to be mended)."""
        for number in _phone_numbers(owners):
            found = self.mended(field, number, mend_phone, "phone", "a UK phone number")
            if found:
                return found
        return None

    def contact_email(self) -> str | None:
        for i, contact in enumerate(_list(self.raw.get("contacts"))):
            text = clean_text(contact.get("email")) if isinstance(contact, dict) else None
            found = self.mended(
                f"contacts[{i}].email", text, mend_email, "email", "an email address"
            )
            if found:
                return found
        return None

    def languages(self) -> tuple[str, ...]:
        names = []
        for language in _list(self.raw.get("languages")):
            if isinstance(language, dict):
                name = clean_text(
                    language.get("name") or language.get("language") or language.get("code")
                )
            else:
                name = clean_text(language)
            if name:
                names.append(name)
        return tuple(dict.fromkeys(names))

    def attending_texts(self) -> list[str]:
        """The free-text "how to attend" words, from the service and its schedules."""
        texts = [clean_text(self.raw.get("attending_type"))]
        for key in ("schedules", "regular_schedules"):
            texts += [
                clean_text(s.get("attending_type"))
                for s in _list(self.raw.get(key))
                if isinstance(s, dict)
            ]
        return list(dict.fromkeys(text for text in texts if text))

    def modes(
        self,
        places: list[LocationRecord],
        virtual: bool,
        attend_texts: list[str],
        name: str,
        description: str,
        phone: str | None,
    ) -> tuple[str, ...]:
        """How people take part. A place means in person; a virtual location or
        "online"/"Zoom" in how-to-attend means online; "by phone" means phone.
        A service with no place and no such words is read from its description,
        and failing that is taken to be by phone if it has a number."""
        kinds = {text.lower() for text in attend_texts}
        in_person = bool(places) or bool(kinds & {"venue", "home visit", "in person"})
        if self.abroad and not places:
            in_person = False  # its only places are outside the UK: online or phone, if at all
        online = virtual or "online" in kinds or any(map(taxonomy.mentions_online, attend_texts))
        by_phone = "phone" in kinds or any(map(taxonomy.mentions_phone, attend_texts))
        if not (in_person or online or by_phone):
            words = f"{name}\n{description}"
            online = taxonomy.mentions_online(words)
            by_phone = taxonomy.mentions_phone(words)
            if not (online or by_phone):
                by_phone = phone is not None
                in_person = not by_phone and not self.abroad
        modes = (("in_person", in_person), ("online", online), ("phone", by_phone))
        return tuple(mode for mode, offered in modes if offered)

    def how_to_join(self, attend_texts: list[str]) -> str | None:
        process = plain_text(self.raw.get("application_process"))
        if process:
            return process
        access = clean_text(self.raw.get("attending_access"))
        if access and access.lower() in ATTENDING_ACCESS:
            return ATTENDING_ACCESS[access.lower()]
        sentences = [text for text in attend_texts if " " in text]
        return sentences[0] if sentences else None


# --- small helpers ------------------------------------------------------------------

_DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
assert len(_DAY_WORDS) == len(DAY_CODES)


def _label(raw: Any, position: int) -> str:
    """How the report names a record: its position, id and name, as far as known."""
    if not isinstance(raw, dict):
        return f"service {position}"
    parts = []
    if clean_text(raw.get("id")):
        parts.append(f"id {clean_text(raw.get('id'))!r}")
    if clean_text(raw.get("name")):
        parts.append(f"“{clean_text(raw.get('name'))}”")
    return f"service {position}" + (f" ({', '.join(parts)})" if parts else "")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _first_address(location: dict[str, Any]) -> dict[str, Any] | None:
    addresses = [
        a
        for key in ("addresses", "physical_addresses", "postal_addresses")
        for a in _list(location.get(key))
        if isinstance(a, dict)
    ]
    physical = [
        a for a in addresses if (clean_text(a.get("address_type")) or "physical") == "physical"
    ]
    chosen = physical or addresses
    return chosen[0] if chosen else None


def _address_field(
    location: dict[str, Any], address: dict[str, Any] | None, path: str, inner: str = ""
) -> str:
    if address is None:
        if inner:
            return f"{path}.{inner}"
        return f"{path}.postal_code" if "postal_code" in location else f"{path}.postcode"
    for key in ("addresses", "physical_addresses", "postal_addresses"):
        for i, candidate in enumerate(_list(location.get(key))):
            if candidate is address:
                inner = inner or ("postal_code" if "postal_code" in address else "postcode")
                return f"{path}.{key}[{i}].{inner}"
    return f"{path}.postal_code"  # pragma: no cover


def _address_text(raw: dict[str, Any]) -> str | None:
    parts = [clean_text(raw.get(key)) for key in ("address_1", "address_2", "city")]
    text = ", ".join(part.replace("\n", ", ") for part in parts if part)
    if text:
        return text
    flat = raw.get("address")  # some feeds put the whole address in one field
    return clean_text(flat) if isinstance(flat, str) else None


def _geojson_point(raw: dict[str, Any]) -> tuple[float | None, float | None]:
    """GeoJSON puts longitude first: `"coordinates": [-2.99, 53.46]`."""
    for key in ("geometry", "point", "geojson", "geo"):
        if isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    coordinates = raw.get("coordinates")
    if isinstance(coordinates, list) and len(coordinates) >= 2:
        try:
            return parse_number(coordinates[1]), parse_number(coordinates[0])
        except BadValue:
            return None, None
    return None, None


def _accessibility_notes(location: dict[str, Any]) -> list[str]:
    notes = []
    for item in _list(location.get("accessibility")) + _list(
        location.get("accessibility_for_disabilities")
    ):
        if isinstance(item, dict):
            note = plain_text(
                item.get("description") or item.get("accessibility") or item.get("details")
            )
            if note:
                notes.append(note)
    return notes


def _phone_numbers(owners: list[Any]) -> list[str]:
    """Every phone number the owners list, in order."""
    numbers = []
    for owner in owners:
        if not isinstance(owner, dict):
            continue
        for phone in _list(owner.get("phones")):
            number = (
                clean_text(phone.get("number")) if isinstance(phone, dict) else clean_text(phone)
            )
            if number and number.strip("\"' "):
                numbers.append(number.strip("\"' "))
    return numbers


def _month_days(value: Any) -> str | None:
    text = clean_text(value)
    return f"on day {text} of the month" if text else None


def _says_free(text: str) -> bool:
    return bool(re.search(r"\bfree\b|\bno (?:cost|charge)\b", text, re.IGNORECASE))


def _pounds(amount: float) -> str:
    return f"£{amount:.0f}" if amount == int(amount) else f"£{amount:.2f}"
