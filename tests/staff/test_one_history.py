"""One person, one history (issue 14): /case shows a person's earlier cases with
their notes and outcomes, and a returning person's new case is offered to the
worker who knew them."""

from __future__ import annotations

from bot.store import Database
from tests import factories
from tests.staff.helpers import JO_ID, SAM_ID, TEAM, team


async def test_a_returning_persons_case_shows_their_history_and_is_offered_to_their_worker(
    database: Database,
) -> None:
    t = await team(database)
    _, first = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {first.reference}")
    await t.act(SAM_ID, f"/note {first.reference} Enjoyed the walking group, hates mornings")
    await t.act(SAM_ID, f"/close {first.reference} referred_to_activity")
    t.clock.advance(days=40)
    mark = await t.last_id()

    second = await factories.referred_patient(
        database, t.settings, t.patients.listener, t.clock(), 42
    )
    assert second.reference != first.reference
    [offer] = await t.said(SAM_ID, mark)
    assert "back" in offer and first.reference in offer and second.reference in offer
    [row] = await t.rows(SAM_ID, mark)
    assert row.payload["buttons"][0][0]["data"] == f"s:claim:{second.reference}:"
    assert len([r for r in await t.rows(TEAM, mark) if r.action == "send"]) == 1  # its card
    assert await t.said(JO_ID, mark) == []

    await t.act(JO_ID, f"/case {second.reference}")
    view = "\n".join(await t.said(JO_ID))
    assert "Earlier referrals" in view and first.reference in view
    assert "Referred to an activity" in view and "hates mornings" in view and "Sam" in view
