"""The case summary a link worker reads, under the four headings of the PRSB Social
Prescribing Information Standard: about the person; needs and what matters;
support offered; outcomes.

It is a typed, frozen record: the referral flow builds it from the answers, the
store keeps it as JSON on the case, and the staff side reads fields by name. A
value nobody gave is None (or an empty list), never a missing key, so nothing
downstream has to guess.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Frozen (a change is a new value, which the store notices) and tolerant of
    keys an older version wrote (they are dropped, not fatal)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ActivityRef(Record):
    """An activity as it was when the patient saw it (the directory may change later)."""

    id: str
    name: str
    organisation: str = ""


class TakesPart(Record):
    mode: str | None = None  # in_person | online | phone | any
    max_miles: float | None = None
    group: str | None = None  # group | one_to_one | either
    free_times: list[str] = []


class BeforeYouPhone(Record):
    """What helps a link worker get in touch, asked while they wait (issue 14), each
    optional. None is "not said": a box nobody ticked is never read as a no."""

    interpreter: bool | None = None
    language: str | None = None  # in their own words ("Polish")
    access_needs: bool | None = None  # access or communication needs: ask them which
    carer: bool | None = None  # they look after someone
    voicemail_ok: bool | None = None  # False: please don't leave a voicemail
    gp_practice: str | None = None  # in their own words

    @property
    def given(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


class AboutThePerson(Record):
    name: str | None = None
    adult: bool = False
    postcode: str | None = None  # "L20 3AB" or a district, "L20"
    #: Whether they want a link worker to contact them (None: not asked yet).
    contact_wanted: bool | None = None
    contact_method: str | None = None  # message | phone | either
    phone: str | None = None
    best_time: str | None = None
    takes_part: TakesPart = TakesPart()
    before_you_phone: BeforeYouPhone = BeforeYouPhone()

    @property
    def district(self) -> str | None:
        """The postcode district ("L20 3AB" -> "L20"): enough to know the area, not
        the street, so it may be shown where a full postcode may not."""
        return self.postcode.split()[0].upper() if self.postcode else None


class Needs(Record):
    what_matters: str | None = None
    need_areas: list[str] = []
    in_their_words: list[str] = []
    barriers: list[str] = []
    barriers_in_their_words: list[str] = []


class SupportOffered(Record):
    suggested: list[ActivityRef] = []
    interested_in: ActivityRef | None = None
    #: More suggestions they said they are interested in, after the first.
    also_interested_in: list[ActivityRef] = []
    declined_because: str | None = None


class Outcomes(Record):
    #: The four ONS4 answers at the handoff (None: skipped or not asked yet).
    wellbeing_baseline: dict[str, int | None] = {}


class CaseSummary(Record):
    about_the_person: AboutThePerson = AboutThePerson()
    needs: Needs = Needs()
    support_offered: SupportOffered = SupportOffered()
    outcomes: Outcomes = Outcomes()
    #: Set when crisis language opened the case before the referral was finished.
    opened_because: str | None = None
    #: The referral's questions were all answered (a case a crisis opened may be
    #: completed later, or never).
    referral_finished: bool = False
