"""Mending the obvious mistakes real feeds make in single values, and saying so.

Each function takes the value as published and returns a `Mended`: the value to
keep (None when it cannot be used), and whether it had to be changed to get
there. The readers turn a change into a warning ("mended to 'LU7 0NY'") and a
None into one ("left out"), so nothing is mended silently.

What counts as obvious is narrow on purpose: a wrong guess at a postcode would
send someone to the wrong side of town.

- Postcodes: stray spaces and case, and a letter O or I where the format needs a
  digit (`LU7 ONY` -> `LU7 0NY`), when exactly one reading is a postcode.
- Phone numbers: any common UK way of writing one (`+44 (0)151 496 0901`,
  `0151-496-0901`, `(0151) 4960901`) is written the UK way (`0151 496 0901`)
  without a warning; a letter O or I for a digit, or a number inside other words
  ("Call 0151 496 0901 weekdays"), is mended and reported.
- Websites: `www.example.org` becomes `https://www.example.org` (reported).
- Email addresses: a `mailto:` in front is taken off (reported).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers

from flows.validate import normalise_postcode


@dataclass(frozen=True)
class Mended:
    value: str | None  # what to keep; None: nothing usable
    mended: bool = False  # it had to be changed, beyond writing it the standard way


_LOOKALIKES = {"O": "0", "I": "1"}


def mend_postcode(text: str) -> Mended:
    """A UK postcode or district, written the standard way."""
    squashed = re.sub(r"\s+", " ", text.strip())
    postcode = normalise_postcode(squashed)
    if postcode is not None:
        return Mended(postcode, mended=postcode != text.strip())
    upper = re.sub(r"\s+", "", squashed).upper().rstrip(".")
    places = [i for i, char in enumerate(upper) if char in _LOOKALIKES]
    if not places or len(places) > 4:
        return Mended(None)
    readings = set()
    for chosen in itertools.product((False, True), repeat=len(places)):
        if not any(chosen):
            continue
        chars = list(upper)
        for place, swap in zip(places, chosen, strict=True):
            if swap:
                chars[place] = _LOOKALIKES[chars[place]]
        reading = normalise_postcode("".join(chars))
        if reading is not None and " " in reading:  # only a full postcode is that sure
            readings.add(reading)
    if len(readings) == 1:
        return Mended(readings.pop(), mended=True)
    return Mended(None)


_PHONE_CHARS = re.compile(r"[\d\s()+\-.]+")
_LETTER_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


def _uk_phone(text: str) -> str | None:
    """A UK number written the UK way, or None."""
    digits = re.sub(r"\(0\)", "", text)
    try:
        number = phonenumbers.parse(digits, "GB")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 44:
        return None
    national = str(number.national_number)
    if phonenumbers.is_valid_short_number(number) and not number.italian_leading_zero:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if (len(national) == 10 and national[0] in "123789") or phonenumbers.is_valid_number(number):
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return formatted.replace(" x", " ext ")
    return None


def mend_phone(text: str) -> Mended:
    """A UK phone number, written the UK way (`0151 496 0901`)."""
    text = text.strip().strip("\"'").strip()
    if not text:
        return Mended(None)
    if _PHONE_CHARS.fullmatch(text) or re.fullmatch(
        r"[\d\s()+\-.]+\s*(?:ext\.?|extension|x)\s*\d+", text, re.IGNORECASE
    ):
        return Mended(_uk_phone(text))
    swapped = re.sub(
        r"(?<![A-Za-z])[\dOoIl][\dOoIl\s()\-.]{6,}[\dOoIl](?![A-Za-z])",
        lambda m: m[0].translate(_LETTER_DIGITS) if re.search(r"\d", m[0]) else m[0],
        text,
    )
    if swapped != text and _PHONE_CHARS.fullmatch(swapped):
        found = _uk_phone(swapped)
        return Mended(found, mended=found is not None)
    for match in phonenumbers.PhoneNumberMatcher(
        swapped, "GB", leniency=phonenumbers.Leniency.POSSIBLE
    ):
        found = _uk_phone(match.raw_string)
        if found is not None:
            return Mended(found, mended=True)
    return Mended(None)


_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}", re.IGNORECASE)


def mend_url(text: str) -> Mended:
    """A website people can open: http(s) with a host name."""
    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() in ("http", "https"):
        host = (parts.hostname or "").lower()
        return Mended(text if _DOMAIN.fullmatch(host) else None)
    if not parts.scheme and " " not in text:
        host = text.split("/", 1)[0].split("?", 1)[0]
        if _DOMAIN.fullmatch(host.lower()) and "@" not in text:
            return Mended(f"https://{text}", mended=True)
    return Mended(None)


_EMAIL = re.compile(r"[^@\s<>(),;:\"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
                    re.IGNORECASE)  # fmt: skip


def mend_email(text: str) -> Mended:
    """An email address."""
    text = text.strip()
    bare = re.sub(r"^mailto:", "", text, flags=re.IGNORECASE).strip()
    if _EMAIL.fullmatch(bare):
        return Mended(bare, mended=bare != text)
    return Mended(None)


#: How addresses outside the UK say where they are (ISO codes and names).
UK_COUNTRIES = frozenset(
    {
        "gb", "gbr", "uk", "united kingdom", "great britain", "england", "scotland",
        "wales", "northern ireland", "britain", "united kingdom of great britain and "
        "northern ireland",
    }
)  # fmt: skip


def outside_uk(country: str | None) -> bool:
    """Whether an address's country says it is outside the UK (not said: in the UK)."""
    if not country:
        return False
    return country.strip().lower().rstrip(".") not in UK_COUNTRIES
