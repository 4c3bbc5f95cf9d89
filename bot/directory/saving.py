"""Writing clean records into the directory, all or nothing.

Everything one import changes happens in one transaction: if anything fails,
the directory people are being matched against is exactly what it was. A
re-import matches activities by feed and id; an activity whose fingerprint is
unchanged is not touched, so "updated" in the summary means something changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from tqdm import tqdm

from bot.directory.records import (
    ActivityRecord,
    ImportSummary,
    ImportWarning,
    OrganisationRecord,
)
from bot.store import Database
from bot.store.base import utcnow
from bot.store.directory import (
    Activity,
    ActivityNeed,
    ImportRun,
    ImportWarningRow,
    Location,
    Organisation,
    Schedule,
    feed_activities,
    feed_organisations,
    replace_activity_details,
)


async def save_records(
    db: Database,
    records: Sequence[ActivityRecord],
    *,
    feed: str,
    source: str,
    format: str,
    deactivate_missing: bool = False,
    progress: bool = False,
    warnings: Sequence[ImportWarning] = (),
) -> ImportSummary:
    """Add new activities, update changed ones, and (if asked) deactivate the
    feed's activities that are no longer in it."""
    added = updated = unchanged = deactivated = 0
    async with db.transaction() as session:
        organisations = await _organisations(session, feed, records)
        existing = await feed_activities(session, feed)
        for record in tqdm(records, desc="Importing", unit=" activities", disable=not progress):
            organisation = organisations[record.organisation.source_id]
            activity = existing.get(record.source_id)
            if activity is None:
                session.add(_new_activity(feed, record, organisation))
                added += 1
            elif activity.fingerprint != record.fingerprint() or activity.active != record.active:
                await _update_activity(session, activity, record, organisation)
                updated += 1
            else:
                unchanged += 1
        if deactivate_missing:
            present = {record.source_id for record in records}
            for source_id, activity in existing.items():
                if source_id not in present and activity.active:
                    activity.active = False
                    activity.updated_at = utcnow()
                    deactivated += 1
        run = ImportRun(
            kind="activities",
            source=source[:500],
            feed=feed,
            format=format,
            added=added,
            updated=updated,
            unchanged=unchanged,
            deactivated=deactivated,
        )
        session.add(run)
        await session.flush()
        session.add_all(
            ImportWarningRow(
                import_run_id=run.id,
                feed=feed,
                source_id=(w.source_id or "")[:200] or None,
                record=w.record,
                field=w.field,
                value=w.value,
                kind=w.kind,
                done=w.done,
            )
            for w in warnings
        )
    return ImportSummary(
        source=source,
        feed=feed,
        format=format,
        added=added,
        updated=updated,
        unchanged=unchanged,
        deactivated=deactivated,
        warnings=tuple(warnings),
    )


async def _organisations(
    session: AsyncSession, feed: str, records: Sequence[ActivityRecord]
) -> dict[str, Organisation]:
    """The feed's organisations, created or brought up to date, with ids assigned."""
    found = await feed_organisations(session, feed)
    latest: dict[str, OrganisationRecord] = {}
    for record in records:
        latest.setdefault(record.organisation.source_id, record.organisation)
    for source_id, incoming in latest.items():
        organisation = found.get(source_id)
        if organisation is None:
            organisation = Organisation(feed=feed, source_id=source_id, name=incoming.name)
            session.add(organisation)
            found[source_id] = organisation
        organisation.name = incoming.name
        organisation.description = incoming.description
        organisation.url = incoming.url
        organisation.email = incoming.email
        organisation.phone = incoming.phone
    await session.flush()
    return found


def _new_activity(feed: str, record: ActivityRecord, organisation: Organisation) -> Activity:
    activity = Activity(feed=feed, source_id=record.source_id, organisation_id=organisation.id)
    _copy_fields(activity, record)
    activity.schedules = _schedules(record)
    activity.locations = _locations(record)
    activity.needs = _needs(record)
    return activity


async def _update_activity(
    session: AsyncSession, activity: Activity, record: ActivityRecord, organisation: Organisation
) -> None:
    await replace_activity_details(
        session, activity, _schedules(record), _locations(record), _needs(record)
    )
    activity.organisation_id = organisation.id
    _copy_fields(activity, record)
    activity.updated_at = utcnow()


def _copy_fields(activity: Activity, record: ActivityRecord) -> None:
    activity.name = record.name
    activity.description = record.description
    activity.url = record.url
    activity.email = record.email
    activity.phone = record.phone
    activity.how_to_join = record.how_to_join
    activity.in_person = "in_person" in record.modes
    activity.online = "online" in record.modes
    activity.by_phone = "phone" in record.modes
    activity.format = record.format
    activity.free = record.free
    activity.cost = record.cost
    activity.minimum_age = record.minimum_age
    activity.maximum_age = record.maximum_age
    activity.accessibility = record.accessibility
    activity.languages = list(record.languages)
    activity.taxonomy_terms = list(record.taxonomy_terms)
    activity.by_appointment = record.by_appointment
    activity.checked_on = record.checked_on
    activity.active = record.active
    activity.fingerprint = record.fingerprint()


def _schedules(record: ActivityRecord) -> list[Schedule]:
    return [
        Schedule(day=s.day, starts=s.starts, ends=s.ends, weekly=s.weekly, note=s.note)
        for s in record.schedules
    ]


def _needs(record: ActivityRecord) -> list[ActivityNeed]:
    return [ActivityNeed(need_area=need) for need in record.need_areas]


def _locations(record: ActivityRecord) -> list[Location]:
    return [
        Location(
            name=place.name,
            address=place.address,
            postcode=place.postcode,
            latitude=place.latitude,
            longitude=place.longitude,
        )
        for place in record.locations
    ]
