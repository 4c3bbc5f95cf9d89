"""The team in Telegram (issue 14): /team shows an admin each worker's open and
overdue cases; /find searches cases by reference, name or need."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store import Database
from tests.staff.helpers import ADMIN_ID, JO_ID, SAM_ID, team


async def test_team_shows_an_admin_each_workers_open_and_overdue_cases(
    database: Database,
) -> None:
    t = await team(database)
    references = []
    for chat in (41, 42):
        _, case = await t.referred_patient(chat)
        await t.act(SAM_ID, f"/claim {case.reference}")
        references.append(case.reference)
    _, waiting = await t.referred_patient(43)
    t.clock.now = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)  # Thursday: both overdue
    await t.staff.flag_overdue()

    await t.act(ADMIN_ID, "/team")
    view = (await t.said(ADMIN_ID))[-1]
    assert "Sam: 2 open, ⏰ 2 overdue" in view and "Jo: 0 open" in view
    assert "Waiting in the queue: 1" in view
    assert "Alex" not in view  # who the patients are is for their own cases
    # Which cases are overdue, to open from there (the whole team's work in Telegram).
    overdue = sorted(references)
    assert f"overdue: {', '.join(overdue)}" in view
    buttons = [b["data"] for row in (await t.rows(ADMIN_ID))[-1].payload["buttons"] for b in row]
    assert [f"s:open:{r}:" for r in overdue] == [b for b in buttons if b.startswith("s:open:")]

    await t.act(JO_ID, "/team")
    assert "only for admins" in (await t.said(JO_ID))[-1]
    assert waiting.reference


async def test_find_searches_by_reference_name_or_need(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/close {case.reference} declined")

    for words in ("alex", "lonely", case.reference.lower(), case.reference[3:]):
        await t.act(SAM_ID, f"/find {words}")
        found = (await t.said(SAM_ID))[-1]
        assert case.reference in found and "closed" in found, words
    [row] = (await t.rows(SAM_ID))[-1:]
    assert row.payload["buttons"][0][0]["data"] == f"s:open:{case.reference}:"

    await t.act(SAM_ID, "/find zebra-crossing")
    assert "Nothing found" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, "/find")
    assert "/find" in (await t.said(SAM_ID))[-1]


async def test_a_claim_over_the_caseload_limit_is_warned_first(database: Database) -> None:
    t = await team(database, caseload_limit=1)
    _, first = await t.referred_patient(41)
    _, second = await t.referred_patient(42)
    await t.act(SAM_ID, f"/claim {first.reference}")
    await t.act(SAM_ID, f"/claim {second.reference}")
    warning = (await t.said(SAM_ID))[-1]
    assert "1 open case" in warning and "limit of 1" in warning
    assert (await t.case(second.reference)).status == "waiting"
    [row] = (await t.rows(SAM_ID))[-1:]
    assert row.payload["buttons"][0][0]["data"] == f"s:claim:{second.reference}:anyway"
    await t.tap(SAM_ID, "claim", second.reference, "anyway")
    assert (await t.case(second.reference)).status == "claimed"
