"""The activity directory's tables, and every query `bot.directory` makes of them.

An `Activity` is an Open Referral UK *service*. Entries are keyed by the feed they
came from and the id that feed gives them, so re-importing a feed updates its own
entries and never another feed's (two councils may both have a service "1").
Child rows (schedules, locations, need areas) are replaced whole when their
activity changes: they have no identity of their own worth keeping.

The queries are here, each named for what the directory needs, so that importing,
matching and checking the directory never build SQL themselves, and what the
directory asks of the database can be read in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TypedDict

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from bot.store.base import Base, utcnow


class Organisation(Base):
    """The charity, council team or group that runs activities."""

    __tablename__ = "directory_organisation"
    __table_args__ = (UniqueConstraint("feed", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(200))
    source_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text, default=None)
    email: Mapped[str | None] = mapped_column(Text, default=None)
    phone: Mapped[str | None] = mapped_column(Text, default=None)

    activities: Mapped[list[Activity]] = relationship(back_populates="organisation")


class Activity(Base):
    """Something a person can go to or call: a group, a class, an advice service."""

    __tablename__ = "directory_activity"
    __table_args__ = (UniqueConstraint("feed", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed: Mapped[str] = mapped_column(String(200))
    source_id: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("directory_organisation.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text, default=None)
    email: Mapped[str | None] = mapped_column(Text, default=None)
    phone: Mapped[str | None] = mapped_column(Text, default=None)
    how_to_join: Mapped[str | None] = mapped_column(Text, default=None)

    # How it is delivered: any combination of the three.
    in_person: Mapped[bool] = mapped_column(default=True)
    online: Mapped[bool] = mapped_column(default=False)
    by_phone: Mapped[bool] = mapped_column(default=False)
    #: "group", "one_to_one", or None when the entry does not say.
    format: Mapped[str | None] = mapped_column(String(16), default=None)

    #: True free, False costs something (see `cost`), None not published.
    free: Mapped[bool | None] = mapped_column(default=None)
    cost: Mapped[str | None] = mapped_column(Text, default=None)
    minimum_age: Mapped[int | None] = mapped_column(default=None)
    maximum_age: Mapped[int | None] = mapped_column(default=None)
    accessibility: Mapped[str | None] = mapped_column(Text, default=None)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Taxonomy term names as published, kept for display and word matching.
    taxonomy_terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: No regular sessions: you ring or book first.
    by_appointment: Mapped[bool] = mapped_column(default=False)

    #: When the provider last confirmed the entry (ORUK `assured_date`).
    checked_on: Mapped[date | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    #: A hash of everything imported, so a re-import can tell "updated" from "unchanged".
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    first_imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="activities")
    schedules: Mapped[list[Schedule]] = relationship(
        cascade="all, delete-orphan", order_by="Schedule.id"
    )
    locations: Mapped[list[Location]] = relationship(
        cascade="all, delete-orphan", order_by="Location.id"
    )
    needs: Mapped[list[ActivityNeed]] = relationship(cascade="all, delete-orphan")


class Schedule(Base):
    """One regular session: a day and times, or (day None) a note such as
    "by appointment" when the feed gives no day."""

    __tablename__ = "directory_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("directory_activity.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[int | None] = mapped_column(default=None)  # 0 = Monday
    starts: Mapped[str | None] = mapped_column(String(5), default=None)  # "10:00"
    ends: Mapped[str | None] = mapped_column(String(5), default=None)
    #: Every week (True), or less often: fortnightly, "first Tuesday of the month".
    weekly: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class Location(Base):
    """Where an activity happens. Coordinates come from the feed or, failing
    that, from the postcode table when the directory is loaded."""

    __tablename__ = "directory_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("directory_activity.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(Text, default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    #: Normalised: a full postcode "L20 3AB" or, when that is all the feed gave, "L20".
    postcode: Mapped[str | None] = mapped_column(String(8), default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)


class ActivityNeed(Base):
    """An area of need (flows.directory.NEED_AREAS) an activity helps with."""

    __tablename__ = "directory_activity_need"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("directory_activity.id", ondelete="CASCADE"), primary_key=True
    )
    need_area: Mapped[str] = mapped_column(String(32), primary_key=True)


class PostcodeCentroid(Base):
    """Where a postcode or a postcode district is: its centre, WGS84."""

    __tablename__ = "postcode_centroid"
    __table_args__ = (Index("ix_postcode_centroid_area_district", "area", "is_district"),)

    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)  # "L20 3AB" or "L20"
    area: Mapped[str] = mapped_column(String(2))  # "L"
    is_district: Mapped[bool] = mapped_column(default=False)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class ImportRun(Base):
    """One successful import of activities or postcodes. Its id is the
    directory's version: a bot holding an older index knows to reload."""

    __tablename__ = "directory_import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "activities" | "postcodes"
    source: Mapped[str] = mapped_column(Text)
    feed: Mapped[str | None] = mapped_column(String(200), default=None)
    format: Mapped[str | None] = mapped_column(String(32), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    deactivated: Mapped[int] = mapped_column(default=0)


class ImportWarningRow(Base):
    """A value an import left out or mended (`bot.directory.records.ImportWarning`),
    kept so `spbot directory check` can list what the last import of each feed
    said needs fixing."""

    __tablename__ = "directory_import_warning"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(
        ForeignKey("directory_import_run.id", ondelete="CASCADE"), index=True
    )
    feed: Mapped[str] = mapped_column(String(200), index=True)
    source_id: Mapped[str | None] = mapped_column(String(200), default=None)
    record: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))
    done: Mapped[str] = mapped_column(Text)


class FeedSchedule(Base):
    """A feed re-imported on a schedule (`spbot directory import URL --every 1d`):
    the running bot's housekeeping imports it when it falls due. The database is
    the truth: whichever instance moves `next_due_at` first does the import."""

    __tablename__ = "directory_feed_schedule"

    feed: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    every_seconds: Mapped[int] = mapped_column()
    deactivate_missing: Mapped[bool] = mapped_column(default=False)
    next_due_at: Mapped[datetime] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    #: What the last scheduled import said: its summary line, or why it failed.
    last_result: Mapped[str | None] = mapped_column(Text, default=None)


# --- Reading the directory -----------------------------------------------------------


async def active_activities(session: AsyncSession) -> list[Activity]:
    """Every active activity, in id order, with everything describing or matching
    it reads (organisation, sessions, places, need areas) loaded up front: a few
    queries in all, rather than several for each of thousands of activities."""
    query = (
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
    return list((await session.scalars(query)).all())


async def listed_activities(
    session: AsyncSession, *, include_inactive: bool = False
) -> list[Activity]:
    """The activities `spbot directory list` prints, in id order, with the
    organisation it names; inactive ones only when asked for, as they are hidden
    from patients but kept for a feed that brings them back."""
    query = select(Activity).options(selectinload(Activity.organisation)).order_by(Activity.id)
    if not include_inactive:
        query = query.where(Activity.active.is_(True))
    return list((await session.scalars(query)).all())


async def last_import_warnings(session: AsyncSession) -> list[ImportWarningRow]:
    """The warnings of the latest import of each feed, feed by feed in the order
    they were found: what `spbot directory check` says still needs fixing."""
    latest = (
        select(func.max(ImportRun.id))
        .where(ImportRun.kind == "activities")
        .group_by(ImportRun.feed)
        .scalar_subquery()
    )
    query = (
        select(ImportWarningRow)
        .where(ImportWarningRow.import_run_id.in_(latest))
        .order_by(ImportWarningRow.feed, ImportWarningRow.id)
    )
    return list((await session.scalars(query)).all())


async def directory_version(session: AsyncSession) -> int | None:
    """The id of the latest import of activities or postcodes (None before any):
    one cheap query tells a bot whether the index it holds is stale."""
    return await session.scalar(select(func.max(ImportRun.id)))


# --- Writing a feed ------------------------------------------------------------------


async def feed_activities(session: AsyncSession, feed: str) -> dict[str, Activity]:
    """A feed's activities, active or not, by the id the feed gives them: what a
    re-import of that feed updates, brings back or deactivates, and all it may touch."""
    found = await session.scalars(select(Activity).where(Activity.feed == feed))
    return {activity.source_id: activity for activity in found}


async def feed_organisations(session: AsyncSession, feed: str) -> dict[str, Organisation]:
    """A feed's organisations by the id the feed gives them, so a re-import
    updates them rather than adding them again."""
    found = await session.scalars(select(Organisation).where(Organisation.feed == feed))
    return {organisation.source_id: organisation for organisation in found}


async def replace_activity_details(
    session: AsyncSession,
    activity: Activity,
    schedules: Sequence[Schedule],
    locations: Sequence[Location],
    needs: Sequence[ActivityNeed],
) -> None:
    """Replace a changed activity's sessions, places and need areas whole: they
    have no identity worth keeping, and deleting by statement avoids loading them."""
    for child in (Schedule, Location, ActivityNeed):
        await session.execute(delete(child).where(child.activity_id == activity.id))
    rows: list[Schedule | Location | ActivityNeed] = [*schedules, *locations, *needs]
    for row in rows:
        row.activity_id = activity.id
    session.add_all(rows)


# --- Postcodes -----------------------------------------------------------------------


class CentroidRow(TypedDict):
    """One row of `postcode_centroid`, as `upsert_centroids` writes it."""

    postcode: str
    area: str
    is_district: bool
    latitude: float
    longitude: float


async def centroid_points(
    session: AsyncSession, areas: Iterable[str] = ()
) -> dict[str, tuple[float, float]]:
    """(latitude, longitude) of every district, and of the full postcodes of the
    given areas only.

    Loading all 2.6 million UK postcodes would cost hundreds of megabytes; the
    areas the directory's activities are in (for Sefton, "L" and "PR") are the
    ones whose patients can reach them, and anyone further away is placed by
    their district.
    """
    wanted = sorted(set(areas))
    conditions = [PostcodeCentroid.is_district.is_(True)]
    if wanted:
        conditions.append(PostcodeCentroid.area.in_(wanted))
    rows = await session.execute(
        select(
            PostcodeCentroid.postcode, PostcodeCentroid.latitude, PostcodeCentroid.longitude
        ).where(or_(*conditions))
    )
    return {postcode: (latitude, longitude) for postcode, latitude, longitude in rows}


async def known_postcodes(session: AsyncSession) -> set[str]:
    """Every postcode and district the centroid table can place, so a check can
    say how a location without coordinates will be placed, if at all."""
    return set(await session.scalars(select(PostcodeCentroid.postcode)))


async def upsert_centroids(session: AsyncSession, rows: Sequence[CentroidRow]) -> None:
    """Insert centroids, moving any postcode already there, in one statement:
    importing a postcode file again corrects it rather than failing on
    duplicates. Callers pass a batch at a time (the ONS file has millions of rows)."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    if dialect == "postgresql":
        pg = postgresql.insert(PostcodeCentroid).values(list(rows))
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=["postcode"],
                set_={"latitude": pg.excluded.latitude, "longitude": pg.excluded.longitude},
            )
        )
    elif dialect == "sqlite":
        lite = sqlite.insert(PostcodeCentroid).values(list(rows))
        await session.execute(
            lite.on_conflict_do_update(
                index_elements=["postcode"],
                set_={"latitude": lite.excluded.latitude, "longitude": lite.excluded.longitude},
            )
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        keys = [row["postcode"] for row in rows]
        await session.execute(delete(PostcodeCentroid).where(PostcodeCentroid.postcode.in_(keys)))
        session.add_all(PostcodeCentroid(**row) for row in rows)


# --- Feeds on a schedule ---------------------------------------------------------------


async def schedule_feed(
    session: AsyncSession,
    feed: str,
    source: str,
    every_seconds: int,
    deactivate_missing: bool,
    next_due_at: datetime,
) -> None:
    """Add or change a feed's schedule."""
    found = await session.get(FeedSchedule, feed)
    if found is None:
        found = FeedSchedule(feed=feed)
        session.add(found)
    found.source = source
    found.every_seconds = every_seconds
    found.deactivate_missing = deactivate_missing
    found.next_due_at = next_due_at


async def unschedule_feed(session: AsyncSession, feed: str) -> None:
    await session.execute(delete(FeedSchedule).where(FeedSchedule.feed == feed))


async def feed_schedules(session: AsyncSession) -> list[FeedSchedule]:
    return list((await session.scalars(select(FeedSchedule).order_by(FeedSchedule.feed))).all())


async def due_feeds(session: AsyncSession, now: datetime) -> list[FeedSchedule]:
    """Feeds whose next import is due, soonest first."""
    query = (
        select(FeedSchedule)
        .where(FeedSchedule.next_due_at <= now)
        .order_by(FeedSchedule.next_due_at, FeedSchedule.feed)
    )
    return list((await session.scalars(query)).all())


async def claim_feed(
    session: AsyncSession, feed: str, due_at: datetime, next_due_at: datetime
) -> bool:
    """Move a due feed's next import on, if nobody else has (compare-and-set on
    the time read): the one instance that does, imports it."""
    result = await session.execute(
        update(FeedSchedule)
        .where(FeedSchedule.feed == feed, FeedSchedule.next_due_at == due_at)
        .values(next_due_at=next_due_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def record_feed_result(session: AsyncSession, feed: str, at: datetime, result: str) -> None:
    await session.execute(
        update(FeedSchedule)
        .where(FeedSchedule.feed == feed)
        .values(last_run_at=at, last_result=result[:2000])
        .execution_options(synchronize_session=False)
    )
