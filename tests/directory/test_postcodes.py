from pathlib import Path

import pytest

from bot.directory import import_postcodes, normalise_postcode
from bot.directory.postcodes import (
    Centroids,
    PostcodeFileError,
    area_of,
    distance_miles,
    district_of,
    load_centroids,
)
from bot.store import Database


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("L20 3AB", "L20 3AB"),  # a full postcode, as it should be
        ("l20 3ab", "L20 3AB"),  # lower case
        ("L203AB", "L20 3AB"),  # no space
        ("  L20   3AB ", "L20 3AB"),  # extra spaces
        ("l203ab.", "L20 3AB"),  # a full stop at the end of a sentence
        ("PR8 1ET", "PR8 1ET"),
        ("pr81et", "PR8 1ET"),
        ("L1 8JQ", "L1 8JQ"),
        ("SW1A 1AA", "SW1A 1AA"),  # letter at the end of the district
        ("EC1A1BB", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("gir0aa", "GIR 0AA"),
        ("L20", "L20"),  # a district
        ("l20", "L20"),
        (" pr9 ", "PR9"),
        ("WA10", "WA10"),
        ("", None),  # invalid from here on
        ("   ", None),
        ("hello", None),
        ("L20 3", None),
        ("L20 3A", None),
        ("QQ1 1AA", None),  # Q never starts a postcode
        ("L20 3CI", None),  # C and I are not used in the inward code
        ("12345", None),
        ("L20 3AB 4CD", None),
        ("L", None),
    ],
)
def test_normalise_postcode(typed: str, expected: str | None) -> None:
    assert normalise_postcode(typed) == expected


def test_normalise_postcode_of_nothing() -> None:
    assert normalise_postcode(None) is None


def test_parts_of_a_postcode() -> None:
    assert district_of("L20 3AB") == "L20"
    assert district_of("L20") == "L20"
    assert area_of("L20 3AB") == "L"
    assert area_of("PR8") == "PR"


def test_distance_in_miles() -> None:
    bootle, crosby = (53.4500, -2.9950), (53.4900, -3.0250)
    assert distance_miles(bootle, crosby) == pytest.approx(3.0, abs=0.2)
    assert distance_miles(bootle, bootle) == 0


def test_locate_falls_back_to_the_district() -> None:
    centroids = Centroids({"L20": (53.45, -2.995), "L20 3AB": (53.447, -2.992)})
    assert centroids.locate("L20 3AB") == (53.447, -2.992)
    assert centroids.locate("L20 9ZZ") == (53.45, -2.995)
    assert centroids.locate("L20") == (53.45, -2.995)
    assert centroids.locate("PR8 1ET") is None
    assert centroids.locate(None) is None


async def test_import_ons_style_csv_and_derive_districts(
    database: Database, tmp_path: Path
) -> None:
    csv_file = tmp_path / "onspd.csv"
    csv_file.write_text(
        "pcd,pcds,lat,long,doterm\n"
        "L20 3AB,L20 3AB,53.4470,-2.9920,\n"
        "L203EF,L20 3EF,53.4490,-2.9940,\n"
        "PR8 1ET,PR8 1ET,53.6456,-3.0046,\n"
        "ZZ99 3WZ,ZZ99 3WZ,99.999999,0.000000,\n"  # ONSPD's "no location"
        "nonsense,nonsense,1,1,\n",
        encoding="utf-8",
    )
    summary = await import_postcodes(database, csv_file)
    assert (summary.imported, summary.districts_derived, summary.skipped) == (3, 2, 2)
    async with database.sessions() as session:
        centroids = await load_centroids(session, ["L"])
    assert centroids.locate("L20 3AB") == pytest.approx((53.4470, -2.9920))
    assert centroids.locate("L20") == pytest.approx((53.4480, -2.9930))
    assert "PR8 1ET" not in centroids.points  # only the areas asked for, and every district
    assert centroids.locate("PR8") == pytest.approx((53.6456, -3.0046))

    # Importing again replaces, it does not duplicate.
    csv_file.write_text("postcode,latitude,longitude\nL20 3AB,53.5,-2.9\n", encoding="utf-8")
    await import_postcodes(database, csv_file)
    async with database.sessions() as session:
        centroids = await load_centroids(session, ["L"])
    assert centroids.locate("L20 3AB") == pytest.approx((53.5, -2.9))


async def test_postcode_file_without_the_columns_is_refused(
    database: Database, tmp_path: Path
) -> None:
    csv_file = tmp_path / "wrong.csv"
    csv_file.write_text("code,x,y\nL20 3AB,1,2\n", encoding="utf-8")
    with pytest.raises(PostcodeFileError, match="postcode, latitude and longitude"):
        await import_postcodes(database, csv_file)
