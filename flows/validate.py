"""Checks on what people type that need no lookup: UK postcodes and phone numbers."""

from __future__ import annotations

import re

import phonenumbers

# Outward code (area + district) and optional inward code (sector + unit), per the
# Royal Mail format; GIR 0AA is the one historic exception.
_OUTWARD = r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)"
_INWARD = r"(?:[0-9][A-Z]{2})"
_POSTCODE = re.compile(rf"^({_OUTWARD})\s*({_INWARD})?$")


def normalise_postcode(text: str) -> str | None:
    """'l203ab' -> 'L20 3AB', 'l20' -> 'L20' (a district is enough to match on);
    None when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", text.strip().upper())
    if not 2 <= len(compact) <= 7:
        return None
    # Try the longest outward code first that leaves a valid inward code.
    if len(compact) >= 5 and re.fullmatch(_INWARD, compact[-3:]):
        outward, inward = compact[:-3], compact[-3:]
        if re.fullmatch(_OUTWARD, outward):
            return f"{outward} {inward}"
    return compact if re.fullmatch(_OUTWARD, compact) else None


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
