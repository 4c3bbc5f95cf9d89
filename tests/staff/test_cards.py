"""The team chat's cards: one per case and one per safety alert, edited in place,
showing a group only what a group may see."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import messages_for
from bot.messages import html_to_text
from bot.patients.listener import NobodyListening
from bot.staff.cards import TeamCards
from bot.store import Database
from bot.store.cases import Case, SafetyAlert
from bot.store.outbox import OutboxMessage
from tests import factories
from tests.staff.helpers import MONDAY, TEAM, settings_for

PRIVATE = ("Alex", "+447911123456", "7911", "L20 3AB", "lonely since my wife died")


async def quiet_case(db: Database) -> Case:
    """A referred case nobody has announced yet."""
    return await factories.referred_patient(db, settings_for(), NobodyListening(), MONDAY)


async def team_rows(db: Database) -> list[OutboxMessage]:
    async with db.reading() as s:
        query = select(OutboxMessage).where(OutboxMessage.chat_id == TEAM)
        return list((await s.execute(query.order_by(OutboxMessage.id))).scalars())


async def test_a_waiting_case_card_shows_enough_to_act_and_nothing_private(
    database: Database,
) -> None:
    case = await quiet_case(database)
    cards = cards_for()
    async with database.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        await cards.post(s, stored, MONDAY)
    [card] = await team_rows(database)
    shown = html_to_text(card.payload["text"])
    assert case.reference in shown and "L20" in shown and "Feeling lonely" in shown
    assert not any(secret in shown for secret in PRIVATE)
    assert card.payload["buttons"] == [
        [{"text": f"✋ Claim {case.reference}", "data": f"s:claim:{case.reference}:"}]
    ]


async def test_announcing_again_points_the_old_card_to_the_new_one(database: Database) -> None:
    case = await quiet_case(database)
    cards = cards_for()
    async with database.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        await cards.post(s, stored, MONDAY)
        await s.flush()
        await cards.post(s, stored, MONDAY, waited_hours=5)
        new_card = stored.team_card_id
    first, edit, second = await team_rows(database)
    assert edit.action == "edit" and edit.target_id == first.id and edit.payload["buttons"] == []
    assert "announced again below" in html_to_text(edit.payload["text"])
    assert second.id == new_card and "5 working hours" in html_to_text(second.payload["text"])


async def test_a_card_is_edited_only_when_what_it_shows_changes(database: Database) -> None:
    case = await quiet_case(database)
    cards = cards_for()
    async with database.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        await cards.post(s, stored, MONDAY)
        await s.flush()
        await cards.refresh(s, stored, MONDAY)  # nothing changed
        stored.urgent = True
        await cards.refresh(s, stored, MONDAY)
    rows = await team_rows(database)
    assert [r.action for r in rows] == ["send", "edit"]
    assert "URGENT" in rows[-1].payload["text"]


async def test_every_alert_card_is_a_new_message_and_the_old_one_points_on(
    database: Database,
) -> None:
    """Telegram notifies nobody of an edit: a repeat, a reminder or a more serious
    message is a new card, and the card before says to look below."""
    case = await quiet_case(database)
    cards = cards_for()
    async with database.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        alert = SafetyAlert(case_id=case.id, category="unsafe_at_home", first_at=MONDAY,
                            last_at=MONDAY, count=1)  # fmt: skip
        s.add(alert)
        await s.flush()
        await cards.alert(s, stored, alert, False, MONDAY)
        first_card = alert.outbox_id
        alert.count = 2
        await cards.alert(s, stored, alert, False, MONDAY)  # a repeat, not yet seen
        second_card = alert.outbox_id
        alert.category = "medical_emergency"
        await cards.alert(s, stored, alert, True, MONDAY)  # more serious
    rows = await team_rows(database)
    assert [(r.action, r.target_id) for r in rows] == [
        ("send", None), ("edit", first_card), ("send", None), ("edit", second_card), ("send", None)
    ]  # fmt: skip
    assert all(r.payload.get("urgent") for r in rows if r.action == "send")
    assert "still not seen" in rows[1].payload["text"] and rows[1].payload["buttons"] == []
    assert "more serious" in rows[3].payload["text"]
    assert "medical emergency" in rows[-1].payload["text"]
    assert "2 messages like this" in rows[-1].payload["text"]
    assert rows[-1].payload["buttons"][0][0]["data"] == f"s:seen:{case.reference}:"
    assert not any(secret in r.payload["text"] for r in rows for secret in PRIVATE)


async def test_without_a_team_chat_no_card_is_written(database: Database) -> None:
    case = await quiet_case(database)
    async with database.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        await cards_for(staff_chat=None).post(s, stored, MONDAY)
    assert await team_rows(database) == []


def cards_for(staff_chat: int | None = TEAM) -> TeamCards:
    settings = settings_for(staff_chat=staff_chat)
    return TeamCards(messages_for(settings), settings)
