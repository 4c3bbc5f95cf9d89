"""The suggestions screen through python-telegram-bot and the Bot API stand-in
(issue 15): "More about this", paging to an honest end, more than one pick."""

from __future__ import annotations

from tests.e2e.conftest import Running
from tests.e2e.test_referral_e2e import CHAT, REFERRAL, act, live_keyboards
from tests.standin.server import BotApiStandIn

TO_SUGGESTIONS = REFERRAL[: REFERRAL.index(("tap", "I'm interested in 1"))]


async def test_more_about_paging_to_the_end_and_two_picks(
    running: Running, api: BotApiStandIn
) -> None:
    for how, what in TO_SUGGESTIONS:
        await act(running, api, how, what)
    page = api.messages_to(CHAT)[-1]
    assert page.button_labels[:4] == [
        "I'm interested in 1", "More about 1", "I'm interested in 2", "More about 2"
    ]  # fmt: skip
    assert "Show me others" in page.button_labels

    await act(running, api, "tap", "More about 2")
    more = api.messages_to(CHAT)[-1]
    assert more.plain_text.startswith("2. Knit") and not more.buttons
    assert live_keyboards(api) == [page.message_id]  # the page and its buttons stay

    await act(running, api, "tap", "Show me others")
    last = api.messages_to(CHAT)[-1]
    assert "That's all I have that fits what you told me" in last.plain_text
    assert "Talk to a link worker" in last.button_labels
    assert "Show me others" not in last.button_labels

    await act(running, api, "type", "more please")
    assert api.messages_to(CHAT)[-1].plain_text.startswith("That's all I have that fits")
    assert live_keyboards(api) == [last.message_id]  # no page again, unasked

    await act(running, api, "tap", "The first ones again")
    await act(running, api, "type", "1 and 3")
    texts = [m.plain_text for m in api.messages_to(CHAT)]
    assert any(t.endswith("✓ Interested in Bootle Walking Football and Befriending Calls")
               for t in texts)  # fmt: skip
    assert "Would you like a link worker to contact you?" in texts[-1]
    assert api.unanswered_callback_queries() == [] and api.rejected == []
