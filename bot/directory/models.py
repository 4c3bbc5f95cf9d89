"""The activity directory's tables: who runs what, where and when, and what it
helps with.

An `Activity` is an Open Referral UK *service*. Entries are keyed by the feed they
came from and the id that feed gives them, so re-importing a feed updates its own
entries and never another feed's (two councils may both have a service "1").
Child rows (schedules, locations, need areas) are replaced whole when their
activity changes: they have no identity of their own worth keeping.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store.models import Base, utcnow


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
