"""Issue 14, "before you phone someone": what the patient ticks and writes while
they wait is filed on their case's summary, answer by answer, as the wellbeing
baseline is."""

from __future__ import annotations

from sqlalchemy import select

from bot.store import Database
from bot.store.cases import Case
from flows.summary import BeforeYouPhone
from tests.patients.helpers import Chat


async def summary_of(database: Database) -> BeforeYouPhone:
    async with database.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
    return case.summary.about_the_person.before_you_phone


async def test_each_answer_is_filed_on_the_case_as_it_is_given(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("wait_needs")
    assert await summary_of(database) == BeforeYouPhone()
    await chat.tap("interpreter")
    await chat.tap("no_voicemail")
    await chat.tap("access_needs")
    await chat.tap("done")
    # Filed already: someone who stops here keeps what they ticked.
    assert await summary_of(database) == BeforeYouPhone(
        interpreter=True, voicemail_ok=False, access_needs=True
    )
    assert await chat.state() == "wait_language"
    await chat.send("Tigrinya")
    await chat.send("Bootle Village Surgery")
    assert await chat.state() == "handed_off"
    assert await summary_of(database) == BeforeYouPhone(
        interpreter=True, language="Tigrinya", voicemail_ok=False, access_needs=True,
        gp_practice="Bootle Village Surgery",
    )  # fmt: skip
    async with database.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
    # The rest of the summary is as it was (the baseline too).
    assert case.summary.outcomes.wellbeing_baseline["life_satisfaction"] == 4
    assert case.summary.needs.what_matters.startswith("I'd like to meet people")


async def test_skipping_both_files_nothing(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("end")
    assert await summary_of(database) == BeforeYouPhone()
