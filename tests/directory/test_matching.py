"""Matching on the sample directory: personas, filters, distance, paging, variety.

The reasons are asserted as the patient reads them, rendered by the template."""

from __future__ import annotations

import dataclasses

import pytest

from bot.directory import DirectoryIndex, import_sample, load_directory
from bot.directory.postcodes import Centroids
from bot.messages import Messages
from bot.store import Database
from flows.directory import Profile, Suggestion

MESSAGES = Messages()


def said(suggestion: Suggestion) -> str:
    return MESSAGES.render("directory/reasons", reasons=suggestion.reasons)


def names(suggestions: list[Suggestion]) -> list[str]:
    return [s.name for s in suggestions]


# --- Personas ------------------------------------------------------------------------

WIDOWER = Profile(
    need_areas=("loneliness",),
    what_matters="Since my wife died the days are long. I'd like to meet people.",
    postcode="L20 3AB",
    modes=("in_person", "phone"),  # doesn't drive, doesn't do computers
    max_miles=1.0,  # walking distance
)


def test_lonely_widower_in_bootle_gets_company_within_walking_distance(
    sample_index: DirectoryIndex,
) -> None:
    top = sample_index.suggest(WIDOWER, n=3)
    assert names(top) == [
        "Bereavement Café, Bootle",
        "Home Visit Befriending",
        "Befriending Phone Calls",
    ]
    for suggestion in top:
        assert suggestion.distance_miles is None or suggestion.distance_miles <= 1.0
        assert "online" not in suggestion.modes or "phone" in suggestion.modes
    # A loss is spoken of with care, never quoted ("you mentioned “wife”").
    assert said(top[0]) == (
        "It's 0.4 miles from you. I thought of it because you told me about losing your wife."
    )
    assert said(top[1]) == (
        "It's 0.2 miles from you. It's about meeting people, and you said “meet people”."
    )
    assert said(top[2]) == (
        "It's over the phone. It's about meeting people, and you said “meet people”."
    )
    more = sample_index.suggest(WIDOWER, n=3, offset=3)
    assert "Walking Football at North Park" in names(more)
    everything = names(sample_index.suggest(WIDOWER, n=50))
    assert "Friday Coffee Morning" not in everything  # Litherland: 1.5 miles, too far to walk
    assert "Online Quiz Night" not in everything  # online only


YOUNG_MAN_IN_DEBT = Profile(
    need_areas=("money",),
    what_matters="I'm skint, the debts keep piling up and I can't sleep",
    postcode="L30 5QT",
    free_times=("weekday_evening", "weekend"),  # works days
    max_miles=5,
    age=24,
)


def test_young_man_in_debt_who_works_days_gets_evenings_and_weekends(
    sample_index: DirectoryIndex,
) -> None:
    top = sample_index.suggest(YOUNG_MAN_IN_DEBT, n=3)
    assert names(top) == [
        "Saturday Money Drop-in, Bootle",
        "Evening Money Helpline",
        "Bootle Community Pantry",
    ]
    # At most two reasons: why, and the time they asked for.
    assert said(top[0]) == (
        "It's on Saturday mornings. It's about money and debt, and you said “skint”."
    )
    assert said(top[1]) == (
        "It's on Monday evenings. It's about money and debt, and you said “skint”."
    )
    everything = names(sample_index.suggest(YOUNG_MAN_IN_DEBT, n=50))
    assert "Debt and Benefits Advice, Bootle" not in everything  # weekdays in the day only
    assert "Walking Football at North Park" not in everything  # over 50s, and not about money


CARER = Profile(
    need_areas=("caring", "mood"),
    what_matters="I look after my mum and I never get a break. I'm worn out.",
    postcode="PR8 2AA",
    modes=("online",),
    free_times=("weekday_evening",),
)


def test_carer_who_can_only_do_online_in_the_evenings(sample_index: DirectoryIndex) -> None:
    top = sample_index.suggest(CARER, n=3)
    # The last two tie on score (a need area, an evening, free) and go by name.
    assert names(top) == [
        "Online Carers' Café",
        "Chair Yoga Online",
        "Mindfulness for Stress, Online",
    ]
    assert all("online" in s.modes for s in top)
    assert said(top[0]) == (
        "It's on Tuesday evenings. It's about caring for someone, and you said “look after”."
    )
    assert said(top[2]) == (
        "It's on Thursday evenings, and you said you'd like help with how you're feeling."
    )


# --- Filters ---------------------------------------------------------------------------


def test_hard_filters(sample_index: DirectoryIndex) -> None:
    base = Profile(need_areas=("activity",), postcode="L20 3AB")
    everything = names(sample_index.suggest(base, n=100))
    assert "Junior Football Sessions" not in everything  # for children
    assert "Over-50s Swimming (closed)" not in everything  # temporarily closed
    assert "Walking Football at North Park" in everything

    young = names(sample_index.suggest(dataclasses.replace(base, age=30), n=100))
    assert "Walking Football at North Park" not in young  # 50 and over

    free = sample_index.suggest(dataclasses.replace(base, free_only=True), n=100)
    assert free and all(s.free for s in free)

    walking = sample_index.suggest(base, n=1)[0]
    declined = dataclasses.replace(base, declined=(walking.activity_id,))
    assert walking.activity_id not in [s.activity_id for s in sample_index.suggest(declined, n=100)]

    phone_only = sample_index.suggest(Profile(need_areas=("money",), modes=("phone",)), n=100)
    assert phone_only and all("phone" in s.modes for s in phone_only)


def test_nothing_said_means_everything_nearest_first(sample_index: DirectoryIndex) -> None:
    nearby = sample_index.suggest(Profile(postcode="L37 3NH", max_miles=1), n=5)
    assert names(nearby)[0] == "Singing for Wellbeing, Formby"


def test_words_alone_find_activities(sample_index: DirectoryIndex) -> None:
    top = sample_index.suggest(Profile(what_matters="I'd love to do some gardening"), n=3)
    assert set(names(top)[:2]) == {"Derby Park Community Garden", "Churchtown Shared Allotment"}
    assert said(top[0]) == "It's a friendly group, and you mentioned “gardening”."


# --- Where -----------------------------------------------------------------------------


def test_distance_uses_the_patients_district_when_the_full_postcode_is_unknown(
    sample_index: DirectoryIndex,
) -> None:
    full = sample_index.suggest(dataclasses.replace(WIDOWER, postcode="L20 9ZZ"), n=3)
    district = sample_index.suggest(dataclasses.replace(WIDOWER, postcode="L20"), n=3)
    assert names(full) == names(district)
    assert full[0].distance_miles == district[0].distance_miles == 0.4


def test_without_coordinates_matching_falls_back_to_the_district(
    sample_index: DirectoryIndex,
) -> None:
    no_map = DirectoryIndex(
        [dataclasses.replace(a, places=tuple(dataclasses.replace(p, point=None) for p in a.places))
         for a in sample_index.activities],
        Centroids({}),
    )  # fmt: skip
    profile = Profile(need_areas=("loneliness",), postcode="L21 9ZZ", max_miles=2)
    top = no_map.suggest(profile, n=3)
    assert top[0].name in {
        "Knit and Natter",
        "Friday Coffee Morning",
        "Confidence Café, Litherland",
    }
    assert top[0].distance_miles is None
    assert said(top[0]) == "It's in L21, near you, and you said you'd like to meet people."
    everything = no_map.suggest(profile, n=100)
    # With a travel limit and nothing to measure with, only the patient's postcode area is kept.
    assert all(
        "in_person" not in s.modes or s.address is None or " L" in s.address or "online" in s.modes
        or "phone" in s.modes
        for s in everything
    )  # fmt: skip
    assert "Seafront Health Walk" not in names(everything)  # PR8, another area


# --- Order, paging and variety -----------------------------------------------------------


@pytest.mark.parametrize("profile", [WIDOWER, YOUNG_MAN_IN_DEBT, CARER, Profile()])
def test_deterministic_and_pages_never_repeat(
    sample_index: DirectoryIndex, profile: Profile
) -> None:
    everything = [s.activity_id for s in sample_index.suggest(profile, n=3, offset=0)]
    offset = 3
    while page := sample_index.suggest(profile, n=3, offset=offset):
        everything += [s.activity_id for s in page]
        offset += 3
    assert len(everything) == len(set(everything))
    fresh = DirectoryIndex(sample_index.activities, sample_index.centroids)
    assert [s.activity_id for s in fresh.suggest(profile, n=3, offset=3)] == everything[3:6]


def test_never_three_from_one_organisation(sample_index: DirectoryIndex) -> None:
    profile = Profile(need_areas=("money", "mood"), postcode="L20 3AB")
    for offset in (0, 3, 6):
        page = sample_index.suggest(profile, n=3, offset=offset)
        organisations = [s.organisation for s in page]
        assert all(organisations.count(o) <= 2 for o in organisations), organisations


async def test_the_database_index_matches_the_file(
    database: Database, sample_index: DirectoryIndex
) -> None:
    await import_sample(database)
    index = await load_directory(database)
    for profile in (WIDOWER, YOUNG_MAN_IN_DEBT, CARER):
        assert names(index.suggest(profile, n=6)) == names(sample_index.suggest(profile, n=6))
    assert said(index.suggest(WIDOWER, n=1)[0]) == said(sample_index.suggest(WIDOWER, n=1)[0])
