"""From the words a directory uses to the bot's areas of need — in one table.

Directories tag services with terms from several vocabularies: the LGA's needs
and circumstances lists (esdNeed, esdCircumstance), OpenActive activity types,
and whatever a council made up. Their exact labels vary ("Debt", "Problem debt",
"Debt advice"), so a term is matched by the phrases it contains, as whole words
(a trailing "s" is allowed): "debt" matches "Debt advice" and "Debts" but not
"indebted". Every row whose phrase a term contains adds its need areas.

A link worker can read and extend `TERM_NEEDS` without knowing Python: one row per
phrase, need areas from `flows.directory.NEED_AREAS`.

When a service has no term that maps to a need (many feeds carry no taxonomy
at all), the same table is read against its name and description instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from flows.directory import NEED_AREAS

#: phrase in a taxonomy term (or, as a fallback, in a service's name and
#: description)  ->  the need areas it helps with.
TERM_NEEDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Loneliness and isolation
    ("loneliness", ("loneliness",)),
    ("lonely", ("loneliness",)),
    ("social isolation", ("loneliness",)),
    ("isolation", ("loneliness",)),
    ("befriending", ("loneliness",)),
    ("friendship", ("loneliness",)),
    ("socialising", ("loneliness",)),
    ("social activities", ("loneliness",)),
    ("social group", ("loneliness",)),
    ("community group", ("loneliness",)),
    ("lunch club", ("loneliness",)),
    ("knit and natter", ("loneliness", "mood")),
    ("men's shed", ("loneliness", "confidence")),
    ("mens shed", ("loneliness", "confidence")),
    ("bereavement", ("mood", "loneliness")),
    # Low mood, stress and anxiety
    ("mental health", ("mood",)),
    ("mental wellbeing", ("mood",)),
    ("emotional wellbeing", ("mood",)),
    ("wellbeing", ("mood",)),
    ("low mood", ("mood",)),
    ("depression", ("mood",)),
    ("anxiety", ("mood",)),
    ("stress", ("mood",)),
    ("counselling", ("mood",)),
    ("talking therapies", ("mood",)),
    ("mindfulness", ("mood",)),
    ("arts", ("mood", "confidence")),
    ("art", ("mood", "confidence")),
    ("crafts", ("mood", "loneliness")),
    ("creative", ("mood",)),
    ("music", ("mood", "loneliness")),
    ("singing", ("mood", "loneliness")),
    ("choir", ("mood", "loneliness")),
    # Physical activity and weight (OpenActive activity types among them)
    ("physical activity", ("activity",)),
    ("keeping active", ("activity",)),
    ("exercise", ("activity",)),
    ("sport", ("activity",)),
    ("fitness", ("activity",)),
    ("walking", ("activity",)),
    ("walking football", ("activity", "loneliness")),
    ("football", ("activity",)),
    ("swimming", ("activity",)),
    ("yoga", ("activity", "mood")),
    ("tai chi", ("activity",)),
    ("chair based exercise", ("activity", "long_term_condition")),
    ("dance", ("activity", "mood")),
    ("cycling", ("activity",)),
    ("bowls", ("activity", "loneliness")),
    ("gardening", ("activity", "mood")),
    ("allotment", ("activity", "mood")),
    ("healthy weight", ("activity",)),
    ("weight management", ("activity",)),
    ("healthy eating", ("activity",)),
    # Living with a long-term condition
    ("long term condition", ("long_term_condition",)),
    ("long-term condition", ("long_term_condition",)),
    ("chronic pain", ("long_term_condition",)),
    ("disability", ("long_term_condition",)),
    ("diabetes", ("long_term_condition",)),
    ("arthritis", ("long_term_condition",)),
    ("copd", ("long_term_condition",)),
    ("lung health", ("long_term_condition",)),
    ("heart condition", ("long_term_condition",)),
    ("stroke", ("long_term_condition",)),
    ("dementia", ("long_term_condition", "caring")),
    ("cancer", ("long_term_condition",)),
    ("self-management", ("long_term_condition",)),
    # Money, benefits and debt
    ("debt", ("money",)),
    ("money", ("money",)),
    ("benefits", ("money",)),
    ("welfare rights", ("money",)),
    ("financial", ("money",)),
    ("budgeting", ("money",)),
    ("universal credit", ("money",)),
    ("food bank", ("money",)),
    ("food poverty", ("money",)),
    ("fuel poverty", ("money", "housing")),
    ("energy advice", ("money", "housing")),
    # Housing
    ("housing", ("housing",)),
    ("homelessness", ("housing",)),
    ("homeless", ("housing",)),
    ("tenancy", ("housing",)),
    ("renting", ("housing",)),
    ("eviction", ("housing",)),
    # Work, learning and volunteering
    ("employment", ("work",)),
    ("job", ("work",)),
    ("careers", ("work",)),
    ("volunteering", ("work", "confidence")),
    ("adult learning", ("work",)),
    ("learning", ("work",)),
    ("skills", ("work",)),
    ("training", ("work",)),
    ("digital skills", ("work", "confidence")),
    # Caring for someone
    ("carer", ("caring",)),
    ("caring", ("caring",)),
    ("respite", ("caring",)),
    # Alcohol and smoking
    ("stop smoking", ("alcohol_smoking",)),
    ("smoking", ("alcohol_smoking",)),
    ("tobacco", ("alcohol_smoking",)),
    ("vaping", ("alcohol_smoking",)),
    ("alcohol", ("alcohol_smoking",)),
    ("drinking", ("alcohol_smoking",)),
    ("substance misuse", ("alcohol_smoking",)),
    ("drug", ("alcohol_smoking",)),
    # Confidence and getting out of the house
    ("confidence", ("confidence",)),
    ("self-esteem", ("confidence",)),
    ("self esteem", ("confidence",)),
    ("getting out", ("confidence",)),
    ("assertiveness", ("confidence",)),
)

# --- How an activity is run, read from its words ----------------------------------

#: Phrases that say plainly it is one person with one person.
ONE_TO_ONE_PHRASES: tuple[str, ...] = ("one-to-one", "one to one", "1:1", "1-2-1", "1-to-1")
#: Words that mean people take part together.
GROUP_WORDS: tuple[str, ...] = (
    "group", "club", "class", "team", "café", "cafe", "natter", "shed",
    "choir", "circle", "meet-up", "meetup", "social", "coffee morning", "workshop",
)  # fmt: skip
#: Words that usually mean help given to one person at a time.
ONE_TO_ONE_WORDS: tuple[str, ...] = (
    "befriender", "befriending", "advice", "adviser", "advisor", "appointment",
    "coach", "coaching", "mentor", "mentoring", "counselling", "caseworker", "key worker",
)  # fmt: skip

#: Words in how-to-attend text (or, for services with no place, the description)
#: that mean it is done online or by phone.
ONLINE_WORDS: tuple[str, ...] = (
    "online", "zoom", "video", "microsoft teams", "virtual", "webchat", "web chat", "website",
)  # fmt: skip
PHONE_WORDS: tuple[str, ...] = (
    "by phone", "over the phone", "on the phone", "telephone", "phone call", "calls", "helpline",
)  # fmt: skip


@cache
def _phrase(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(phrase)}s?(?![\w-])", re.IGNORECASE)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `text` has `phrase` as whole words (a plural "s" allowed)."""
    return _phrase(phrase).search(text) is not None


def need_areas_for(texts: Iterable[str]) -> tuple[str, ...]:
    """The need areas the phrases in `texts` map to, in NEED_AREAS order."""
    found: set[str] = set()
    for text in texts:
        for phrase, needs in TERM_NEEDS:
            if contains_phrase(text, phrase):
                found.update(needs)
    return tuple(need for need in NEED_AREAS if need in found)


def format_for(text: str) -> str | None:
    """ "group", "one_to_one", or None when the words don't say."""
    if any(contains_phrase(text, phrase) for phrase in ONE_TO_ONE_PHRASES):
        return "one_to_one"
    if any(contains_phrase(text, word) for word in GROUP_WORDS):
        return "group"
    if any(contains_phrase(text, word) for word in ONE_TO_ONE_WORDS):
        return "one_to_one"
    return None


def mentions_online(text: str) -> bool:
    return any(contains_phrase(text, word) for word in ONLINE_WORDS)


def mentions_phone(text: str) -> bool:
    return any(contains_phrase(text, word) for word in PHONE_WORDS)


def _check_table() -> None:
    unknown = {need for _, needs in TERM_NEEDS for need in needs} - set(NEED_AREAS)
    if unknown:  # pragma: no cover - caught by the tests the moment someone edits the table
        raise ValueError(f"TERM_NEEDS uses need areas that do not exist: {sorted(unknown)}")


_check_table()
