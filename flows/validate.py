"""Checks on what people type that need no lookup: UK postcodes and phone numbers."""

from __future__ import annotations

import re

import phonenumbers

# The outward code: an area of one or two letters, then a district. The letters
# each position may hold are Royal Mail's (no Q, V or X first; no I, J or Z
# second...), so that "QQ1 1AA" and "L20 3CI" are caught as typos.
_OUTWARD = (
    r"(?:[A-PR-UWYZ][0-9]{1,2}"  # L1, L20
    r"|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}"  # PR8, WA10
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"  # W1A
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"  # EC1A, SW1W
)
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_FULL = re.compile(rf"({_OUTWARD})({_INWARD})")
_DISTRICT = re.compile(_OUTWARD)
_SPECIAL = {"GIR0AA": "GIR 0AA"}  # Girobank: the one postcode outside the rules


def normalise_postcode(text: str | None) -> str | None:
    """A full postcode ("L20 3AB") or a district ("L20") written the standard way,
    or None if `text` is neither: 'l203ab' -> 'L20 3AB', 'l20' -> 'L20'.

    Case, spaces (none, several, or at the ends) and a full stop at the end are
    forgiven; anything else is not guessed at, because a wrong guess would send
    someone to the wrong side of town.
    """
    if text is None:
        return None
    squashed = re.sub(r"\s+", "", text).upper().rstrip(".")
    if squashed in _SPECIAL:
        return _SPECIAL[squashed]
    full = _FULL.fullmatch(squashed)
    if full:
        return f"{full[1]} {full[2]}"
    if _DISTRICT.fullmatch(squashed):
        return squashed
    return None


def postcode_district(postcode: str) -> str:
    """'L20 3AB' -> 'L20'."""
    return postcode.split(" ")[0]


def normalise_uk_phone(text: str) -> str | None:
    """A UK phone number in international format (+447700900123), or None."""
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 44 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_uk_phone(e164: str) -> str:
    """+447700900123 -> 07700 900123, how people in the UK write it."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164, "GB"), phonenumbers.PhoneNumberFormat.NATIONAL
    )


def in_service_area(postcode: str, area: tuple[str, ...]) -> bool:
    """Whether a postcode ("L20 3AB") or district ("L20") is in an area given as
    postcode areas ("L") and districts ("L20"); an empty area is everywhere."""
    if not area:
        return True
    district = postcode_district(postcode.upper())
    letters = re.match(r"[A-Z]+", district)
    return any(district == part or (part.isalpha() and letters is not None and letters[0] == part)
               for part in area)  # fmt: skip
