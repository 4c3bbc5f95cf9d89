"""Issue 14, "before you phone someone": the link worker's /case shows what the
patient said would help when getting in touch, under "Before you phone", only
what was given, and escaped."""

from __future__ import annotations

from bot.store import Database
from tests.staff.helpers import SAM_ID, team


async def test_case_shows_before_you_phone_with_only_what_was_given(database: Database) -> None:
    t = await team(database)
    chat = t.patient(42)
    await chat.walk_to("wait_needs")
    await chat.tap("interpreter")
    await chat.tap("no_voicemail")
    await chat.tap("carer")
    await chat.tap("done")
    await chat.send("Polish <b>& Kashubian</b>")
    await chat.send("Bootle Village Surgery")
    case = await t.case()
    mark = await t.last_id()
    await t.act(SAM_ID, f"/case {case.reference}")
    rows = await t.rows(SAM_ID, mark)
    raw = "\n".join(r.payload["text"] for r in rows)
    assert "<b>Before you phone</b>" in raw
    assert "Polish &lt;b&gt;&amp; Kashubian&lt;/b&gt;" in raw and "<b>& Kashubian" not in raw
    view = "\n".join(await t.said(SAM_ID, mark))
    before = view.split("Before you phone", 1)[1].split("What matters to them", 1)[0]
    assert "Interpreter: yes, Polish <b>& Kashubian</b>" in before
    assert "Please don't leave a voicemail" in before
    assert "A carer: they look after someone" in before
    assert "GP surgery: Bootle Village Surgery" in before
    assert "access" not in before.lower()  # not ticked: not shown, never "no"


async def test_case_has_no_before_you_phone_when_nothing_was_given(database: Database) -> None:
    t = await team(database)
    chat = t.patient(42)
    await chat.walk_to("end")
    case = await t.case()
    mark = await t.last_id()
    await t.act(SAM_ID, f"/case {case.reference}")
    view = "\n".join(await t.said(SAM_ID, mark))
    assert "Before you phone" not in view and "What matters to them" in view
