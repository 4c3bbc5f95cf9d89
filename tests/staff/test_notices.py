"""What the link worker side hears from the patient side (CaseNotices), inside
the patient's transaction: words go privately to whoever holds the case; a group
hears only that something happened; an alert reaches someone whatever happens."""

from __future__ import annotations

from bot.staff import CaseNotices
from bot.staff.admin import remove_worker
from bot.store import Database
from bot.store.cases import Case, SafetyAlert
from tests.staff.helpers import ADMIN_ID, JO_ID, MONDAY, SAM_ID, TEAM, Team, team


async def write(t: Team, case: Case, text: str) -> None:
    async with t.db.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        await CaseNotices(t.staff.messages, t.settings).patient_wrote(
            s, stored, text, False, MONDAY
        )


async def alert(t: Team, case: Case) -> None:
    async with t.db.transaction() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None
        stored.urgent = True
        raised = SafetyAlert(case_id=case.id, category="suicide", first_at=MONDAY, last_at=MONDAY)
        s.add(raised)
        await s.flush()
        await CaseNotices(t.staff.messages, t.settings).alert_raised(
            s, stored, raised, False, MONDAY
        )


async def test_their_words_go_privately_to_the_worker_who_holds_the_case(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    before = await t.last_id()
    await write(t, case, "Can we meet <after> 3 & not before?")
    [told] = await t.rows(SAM_ID, since=before)
    assert "Can we meet &lt;after&gt; 3 &amp; not before?" in told.payload["text"]  # escaped
    assert [b["data"] for b in told.payload["buttons"][0]] == [
        f"s:reply:{case.reference}:", f"s:open:{case.reference}:"
    ]  # fmt: skip
    assert await t.rows(TEAM, since=before) == []  # the group hears nothing of it


async def test_a_long_message_reaches_the_worker_whole_in_parts(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    before = await t.last_id()
    words = " ".join(f"word{i}" for i in range(1500))
    await write(t, case, words)
    parts = await t.rows(SAM_ID, since=before)
    assert len(parts) >= 2 and all(len(p.payload["text"]) <= 4096 for p in parts)
    assert " ".join(p.payload["text"] for p in parts).count("word1499") == 1
    assert [bool(p.payload["buttons"]) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_while_nobody_holds_it_the_team_hears_only_that_there_is_a_message(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await remove_worker(database, t.staff.messages, t.settings, SAM_ID, MONDAY)  # holder gone
    before = await t.last_id()
    await write(t, case, "My number changed to 07700 900123")
    [notice] = await t.rows(TEAM, since=before)
    assert case.reference in notice.payload["text"] and "0770" not in notice.payload["text"]
    assert await t.rows(SAM_ID, since=before) == []  # a removed worker is told nothing


async def test_an_alert_tells_the_holder_and_the_team(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    before = await t.last_id()
    await alert(t, case)
    [held] = await t.rows(SAM_ID, since=before)
    assert "your case" in held.payload["text"]
    assert held.payload["buttons"][0][0]["data"] == f"s:seen:{case.reference}:"
    team_rows = await t.rows(TEAM, since=before)
    assert [r.action for r in team_rows] == ["edit", "send"]  # the case card urgent, the alert
    assert "URGENT" in team_rows[0].payload["text"] and team_rows[1].payload.get("urgent")
    assert await t.rows(JO_ID, since=before) == []


async def test_with_no_team_chat_and_nobody_holding_it_every_worker_is_told(
    database: Database,
) -> None:
    t = await team(database, staff_chat=None)
    _, case = await t.referred_patient()
    before = await t.last_id()
    await alert(t, case)
    for worker in (SAM_ID, JO_ID, ADMIN_ID):
        [told] = await t.rows(worker, since=before)
        assert case.reference in told.payload["text"] and "tap Seen" in told.payload["text"]


async def test_a_message_telegram_refuses_is_reported_to_the_team_without_its_words(
    database: Database,
) -> None:
    from bot.delivery import Delivery, Undeliverable
    from tests.fakes import FAST, RecordingSender

    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/reply {case.reference} Zebedee will meet you at the library")
    before = await t.last_id()
    refusing = RecordingSender([Undeliverable("Bad Request: message is too long")] * 10)
    notices = CaseNotices(t.staff.messages, t.settings)
    delivery = Delivery(
        database, refusing, "telegram", limits=FAST, on_refused=notices.message_refused
    )
    while await delivery.deliver_due():
        pass
    reports = [m for m in await t.said(TEAM, since=before) if "could not be delivered" in m]
    assert any(case.reference in m and "message is too long" in m for m in reports)
    assert not any("Zebedee" in m for m in reports)
