"""UK postcodes: telling a real one from a typo, writing it one way, and finding
where it is.

A patient may type "l203ab", "L20 3AB" or just "L20"; a feed may publish "L203AB"
or only a district. Everything that compares postcodes goes through
`normalise_postcode` first, so "L20 3AB" is the only spelling stored or looked up.

Postcode parts, from the Royal Mail's format (as in the ONS Postcode Directory):

    L20 3AB  ->  area "L", district (outward code) "L20", inward code "3AB"

Where a postcode is comes from the `postcode_centroid` table: district centroids
ship with the sample area, and `spbot postcodes import FILE` loads any
`postcode,latitude,longitude` CSV (such as the ONS Postcode Directory) for full
coverage. Without coordinates, matching falls back to the district, then the area.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from haversine import Unit, haversine
from sqlalchemy.ext.asyncio import AsyncSession
from tqdm import tqdm

from bot.store import Database
from bot.store.directory import CentroidRow, ImportRun, centroid_points, upsert_centroids
from flows.validate import normalise_postcode

__all__ = ["normalise_postcode"]  # re-exported: the one postcode check lives in flows

#: Coordinates the ONS Postcode Directory gives postcodes it cannot place.
_NO_LOCATION_LATITUDE = 99.999999


def is_full_postcode(postcode: str) -> bool:
    """Whether a *normalised* postcode is a full one (rather than a district)."""
    return " " in postcode


def district_of(postcode: str) -> str:
    """ "L20 3AB" -> "L20"; a district is its own district."""
    return postcode.split(" ", 1)[0]


def area_of(postcode: str) -> str:
    """ "L20 3AB" -> "L"; "PR8" -> "PR"."""
    return re.match(r"[A-Z]+", postcode)[0]  # type: ignore[index]


Point = tuple[float, float]  # (latitude, longitude) in decimal degrees, WGS84


def distance_miles(a: Point, b: Point) -> float:
    """Great-circle distance in miles: close enough to how far it feels, for
    the few miles people travel to a group."""
    # Coordinates are checked once when they are stored, not on every comparison.
    return haversine(a, b, unit=Unit.MILES, check=False)


def valid_point(latitude: float | None, longitude: float | None) -> bool:
    """Whether a latitude/longitude pair is a place on Earth (feeds publish 0,0,
    99.999999 or swapped pairs when they don't know)."""
    if latitude is None or longitude is None:
        return False
    if latitude == 0 and longitude == 0:
        return False
    return -90 <= latitude <= 90 and -180 <= longitude <= 180 and latitude != _NO_LOCATION_LATITUDE


@dataclass
class Centroids:
    """Postcode and district centroids held in memory for matching.

    `locate` prefers the full postcode and falls back to its district, so a
    patient who only gave "L20" (or whose full postcode is not in the table) is
    still placed, a little less exactly.
    """

    points: dict[str, Point]

    def locate(self, postcode: str | None) -> Point | None:
        if not postcode:
            return None
        point = self.points.get(postcode)
        if point is None and is_full_postcode(postcode):
            point = self.points.get(district_of(postcode))
        return point


async def load_centroids(session: AsyncSession, areas: Iterable[str] = ()) -> Centroids:
    """Every district centroid, and the full postcodes of the given areas (those
    the directory's activities are in): see `centroid_points` for why not all."""
    return Centroids(await centroid_points(session, areas))


# --- Importing a postcode,latitude,longitude CSV ------------------------------------

#: Column names accepted for each value: ours first, then the ONS Postcode
#: Directory's (pcds is the postcode written with one space).
_POSTCODE_COLUMNS = ("postcode", "pcds", "pcd", "pcd2", "postcode district", "district")
_LATITUDE_COLUMNS = ("latitude", "lat")
_LONGITUDE_COLUMNS = ("longitude", "long", "lon", "lng")


class PostcodeFileError(Exception):
    """The postcode file cannot be read. The message is for the person importing."""


@dataclass(frozen=True)
class PostcodeImportSummary:
    imported: int  # postcodes and districts written
    districts_derived: int  # district centroids worked out from full postcodes
    skipped: int  # rows without a usable postcode or location

    def describe(self) -> str:
        return (
            f"Imported {self.imported} postcodes, worked out {self.districts_derived} "
            f"district centres, skipped {self.skipped} rows without a usable postcode "
            "or location."
        )


def read_postcode_csv(path: Path, *, progress: bool = False) -> tuple[dict[str, Point], int]:
    """The usable rows of a postcode CSV, and how many rows were skipped.

    Rows are skipped rather than rejected: reference files like the ONS
    directory list terminated and unplaceable postcodes on purpose.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise PostcodeFileError(f"Cannot open {path}: {exc.strerror}.") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
        postcode_col = _pick(columns, _POSTCODE_COLUMNS)
        lat_col = _pick(columns, _LATITUDE_COLUMNS)
        lon_col = _pick(columns, _LONGITUDE_COLUMNS)
        if not (postcode_col and lat_col and lon_col):
            raise PostcodeFileError(
                f"{path.name} needs a header row with the columns postcode, latitude and "
                f"longitude (it has: {', '.join(columns) or 'no header'})."
            )
        points: dict[str, Point] = {}
        skipped = 0
        for row in tqdm(reader, desc="Postcodes", unit=" rows", disable=not progress):
            postcode = normalise_postcode(row.get(postcode_col))
            try:
                lat, lon = float(row[lat_col]), float(row[lon_col])
            except (TypeError, ValueError):
                postcode = None
            if postcode is None or not valid_point(lat, lon):
                skipped += 1
                continue
            points[postcode] = (lat, lon)
    return points, skipped


def _pick(columns: dict[str, str], candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        if candidate in columns:
            return columns[candidate]
    return None


def derive_district_centroids(points: dict[str, Point]) -> dict[str, Point]:
    """The mean position of each district's full postcodes: a good enough centre
    for placing someone who only gave their district."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for postcode, (lat, lon) in points.items():
        if is_full_postcode(postcode):
            total = sums[district_of(postcode)]
            total[0] += lat
            total[1] += lon
            total[2] += 1
    return {district: (t[0] / t[2], t[1] / t[2]) for district, t in sums.items()}


async def import_postcodes(
    db: Database, path: Path, *, progress: bool = False
) -> PostcodeImportSummary:
    """Load a `postcode,latitude,longitude` CSV into the centroid table, in one
    transaction. Districts given in the file win over ones worked out from it."""
    points, skipped = read_postcode_csv(Path(path), progress=progress)
    derived = {d: p for d, p in derive_district_centroids(points).items() if d not in points}
    rows = [_centroid_row(postcode, point) for postcode, point in {**derived, **points}.items()]
    async with db.transaction() as session:
        for batch in tqdm(
            list(_batches(rows, 2000)), desc="Saving", unit=" batches", disable=not progress
        ):
            await upsert_centroids(session, batch)
        session.add(ImportRun(kind="postcodes", source=Path(path).name, added=len(rows)))
    return PostcodeImportSummary(len(points), len(derived), skipped)


def _centroid_row(postcode: str, point: Point) -> CentroidRow:
    return {
        "postcode": postcode,
        "area": area_of(postcode),
        "is_district": not is_full_postcode(postcode),
        "latitude": point[0],
        "longitude": point[1],
    }


def _batches(rows: list[CentroidRow], size: int) -> Iterator[list[CentroidRow]]:
    """The centroid table is written a batch at a time: the ONS file has millions
    of rows, too many for one statement."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
