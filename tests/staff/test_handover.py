"""Hand over, never drop (issue 14): when a case changes hands (released, handed
to a colleague, or its worker removed), the people involved are each told once,
in plain words; an urgent case is posted anew in the team chat (Telegram notifies
nobody of an edit); a removed worker's old buttons only say so."""

from __future__ import annotations

from sqlalchemy import select

from bot.messages import html_to_text
from bot.staff.admin import remove_worker
from bot.store import Database
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from tests.patients.helpers import Chat
from tests.staff.helpers import ADMIN_ID, JO_ID, SAM_ID, TEAM, Team, team


async def claimed(t: Team, worker: int = SAM_ID, chat_id: int = 42) -> tuple[Chat, Case]:
    chat, case = await t.referred_patient(chat_id)
    await t.act(worker, f"/claim {case.reference}")
    return chat, await t.case(case.reference)


async def sent_new(t: Team, chat_id: int, since: int) -> list[OutboxMessage]:
    """New messages (not edits) to a chat since `since`."""
    return [r for r in await t.rows(chat_id, since) if r.action == "send"]


async def test_an_admin_releasing_an_urgent_case_tells_the_worker_the_patient_and_the_team(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.crisis(case)
    mark = await t.last_id()
    await t.act(ADMIN_ID, f"/release {case.reference}")

    [to_sam] = await t.said(SAM_ID, mark)
    assert "Ash" in to_sam and case.reference in to_sam and "no longer yours" in to_sam
    [to_patient] = await t.said(chat.chat_id, mark)
    assert "Sam is no longer looking after your referral" in to_patient
    assert "A new link worker will pick it up" in to_patient
    [new_card] = await sent_new(t, TEAM, mark)  # a new message, not only an edit
    assert case.reference in new_card.payload["text"] and new_card.payload["buttons"]
    [to_ash] = await t.said(ADMIN_ID, mark)
    assert "back in the queue" in to_ash and "Sam has been told too" in to_ash


async def test_releasing_your_own_case_tells_the_patient_once(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    mark = await t.last_id()
    await t.act(SAM_ID, f"/release {case.reference}")
    assert len(await t.said(SAM_ID, mark)) == 1  # the confirmation, nothing else
    [told] = await t.said(chat.chat_id, mark)
    assert "A new link worker will pick it up" in told
    assert await sent_new(t, TEAM, mark) == []  # not urgent: the card is edited


async def test_release_then_claim_never_gives_two_good_news_with_nothing_between(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/release {case.reference}")
    await t.act(JO_ID, f"/claim {case.reference}")
    said = [s for s in await t.said(chat.chat_id) if "Good news" in s or "no longer" in s]
    assert [("Good news" in s) for s in said] == [True, False, True]
    assert "Jo from Test Team has your referral" in said[-1]


async def test_a_patient_writing_while_nobody_holds_their_case_is_told_honestly(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/reply {case.reference} Hello")
    await remove_worker(database, t.staff.messages, t.settings, SAM_ID, t.clock())
    await chat.send("Hello? Is Sam still there?")
    answer = (await t.said(chat.chat_id))[-1]
    assert "your link worker will see it" not in answer
    assert "a link worker will see it when they pick it up" in answer


async def test_removing_a_worker_tells_them_their_patients_and_the_team(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    _, calm = await claimed(t, chat_id=43)
    await t.crisis(case)
    async with t.db.transaction() as s:  # what Sam was sent has reached him
        for n, row in enumerate((await s.execute(select(OutboxMessage))).scalars(), 100):
            row.message_id, row.sent_at = n, t.clock()
    about_cases = [r.id for r in await t.rows(SAM_ID) if r.case_reference is not None]
    assert about_cases
    mark = await t.last_id()

    await remove_worker(database, t.staff.messages, t.settings, SAM_ID, t.clock())

    to_sam = await t.rows(SAM_ID, mark)
    deleted = sorted(r.target_id for r in to_sam if r.action == "delete")
    assert deleted == sorted(about_cases)
    [told] = [html_to_text(r.payload["text"]) for r in to_sam if r.action == "send"]
    assert "taken off the link worker team" in told and "2" in told
    [to_patient] = await t.said(chat.chat_id, mark)
    assert "Sam is no longer looking after your referral" in to_patient
    [new_card] = await sent_new(t, TEAM, mark)  # the urgent one, posted anew
    assert (
        case.reference in new_card.payload["text"]
        and calm.reference not in new_card.payload["text"]
    )


async def test_a_removed_workers_old_button_only_says_they_no_longer_have_access(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await remove_worker(database, t.staff.messages, t.settings, SAM_ID, t.clock())
    mark = await t.last_id()
    for verb in ("reply", "open", "claim", "queue"):
        handled = await t.tap(SAM_ID, verb, case.reference)
        assert handled is not None and "no longer on the link worker team" in (
            handled.tap_notice or ""
        )
    assert await t.rows(SAM_ID, mark) == []  # nothing sent, nothing started
    async with t.db.sessions() as s:
        kinds = (await s.execute(select(CaseEntry.kind))).scalars().all()
    assert "reply" not in kinds


async def test_claim_taps_from_someone_not_on_the_team_get_a_short_answer(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    mark = await t.last_id()
    handled = await t.tap(4242, "claim", case.reference, chat_id=TEAM)
    assert handled is not None and "Only link workers on the team" in (handled.tap_notice or "")
    assert await t.rows(TEAM, mark) == [] and (await t.case()).status == "waiting"


async def test_assign_tells_the_new_holder_the_old_holder_and_the_patient_once_each(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    mark = await t.last_id()
    await t.act(
        SAM_ID, f"/assign {case.reference} @Jo Prefers calls after 3. Anxious about groups."
    )

    back = await t.case()
    assert back.link_worker_id == (await t.worker(JO_ID)).id and back.status == "claimed"
    [to_jo] = await t.said(JO_ID, mark)
    assert "Sam handed" in to_jo and case.reference in to_jo and "Prefers calls after 3" in to_jo
    [to_sam] = await t.said(SAM_ID, mark)
    assert "Jo" in to_sam and case.reference in to_sam
    [to_patient] = await t.said(chat.chat_id, mark)
    assert "Sam has handed your referral" in to_patient and "Jo" in to_patient
    assert "Prefers calls" not in to_patient  # the handover note is for the team
    assert "Jo has it" in (await t.said(TEAM))[-1]
    # Jo now holds it: her reply goes, Sam's is refused.
    await t.act(SAM_ID, f"/reply {case.reference} Hi")
    assert "Jo's case" in (await t.said(SAM_ID))[-1]
    await t.act(JO_ID, f"/reply {case.reference} Hi, it's Jo")
    assert (await t.said(chat.chat_id))[-1].endswith("Hi, it's Jo")


async def test_an_admin_assigning_tells_the_holder_too(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    mark = await t.last_id()
    await t.act(ADMIN_ID, f"/assign {case.reference} jo Sam is off sick this week")
    assert len(await t.said(SAM_ID, mark)) == 1 and "Ash handed" in (await t.said(SAM_ID, mark))[0]
    assert len(await t.said(JO_ID, mark)) == 1
    assert len(await t.said(chat.chat_id, mark)) == 1
    assert len(await t.said(ADMIN_ID, mark)) == 1


async def test_assign_asks_for_a_note_and_who_when_not_given(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.act(SAM_ID, f"/assign {case.reference}")
    offer = (await t.rows(SAM_ID))[-1]
    labels = [b["text"] for row in offer.payload["buttons"] for b in row]
    assert any("Jo" in label for label in labels) and not any("Sam" in label for label in labels)
    await t.tap(SAM_ID, "assign", case.reference, f"w{(await t.worker(JO_ID)).id}")
    assert "handover note" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, "Likes mornings")
    assert (await t.case()).link_worker_id == (await t.worker(JO_ID)).id
    assert "Likes mornings" in (await t.said(JO_ID))[-1]


async def test_only_the_holder_or_an_admin_may_assign(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.act(JO_ID, f"/assign {case.reference} @Jo mine now")
    assert "Sam's case" in (await t.said(JO_ID))[-1]
    assert (await t.case()).link_worker_id == (await t.worker(SAM_ID)).id
    await t.act(SAM_ID, f"/assign {case.reference} @Nobody note")
    assert "nobody called" in (await t.said(SAM_ID))[-1].lower()
