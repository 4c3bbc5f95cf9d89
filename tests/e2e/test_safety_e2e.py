"""Crisis language through python-telegram-bot: the reply within the same update,
the team chat alerted, a choice of what next, and the conversation carries on
where it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.cases import Case
from tests.e2e.conftest import Running
from tests.e2e.test_referral_e2e import CHAT, REFERRAL, TO_HANDOFF, act, handoff_message
from tests.standin.server import BotApiStandIn

TEAM = -1001234


def alert_cards(api: BotApiStandIn) -> list:  # type: ignore[type-arg]
    return [m for m in api.messages_to(TEAM) if "wrote words about" in m.plain_text]


def case_cards(api: BotApiStandIn) -> list:  # type: ignore[type-arg]
    return [m for m in api.messages_to(TEAM) if "Came in:" in m.plain_text]


async def test_crisis_mid_referral_and_after_handoff(running: Running, api: BotApiStandIn) -> None:
    await running.stop()
    running.settings = running.settings.model_copy(update={"staff_chat_id": TEAM})
    await running.start()
    for how, what in REFERRAL[:4]:
        await act(running, api, how, what)
    await act(running, api, "type", "tbh i just wanna end it all")
    reply, choice = api.messages_to(CHAT)[-2:]
    assert "116 123" in reply.plain_text and "999" in reply.plain_text
    assert "carry on with your referral" not in reply.plain_text
    assert choice.button_labels == ["Carry on", "Stop for now", "Talk to someone"]
    await act(running, api, "tap", "Carry on")
    question = api.messages_to(CHAT)[-1]
    assert question.plain_text.startswith("Thank you for telling me.")  # need areas, again
    [alert] = alert_cards(api)
    assert "Urgent" in alert.plain_text and "tbh" not in alert.plain_text
    [card] = case_cards(api)
    # What they had ticked so far: "lonely" in their words ticked Feeling lonely.
    assert "URGENT" in card.plain_text and "Needs: Feeling lonely" in card.plain_text
    for how, what in REFERRAL[4:]:  # carries on where it was
        await act(running, api, how, what)
    assert "Your reference is SP-" in handoff_message(api)

    await act(running, api, "type", "i have taken all my tablets")
    after = api.messages_to(CHAT)[-1]
    assert "999" in after.plain_text and "get in touch with you" in after.plain_text
    assert not after.buttons  # after the handoff: nothing to carry on
    # More serious than before: a new alert (Telegram notifies new messages, not
    # edits), counting both messages, and the first card points to it.
    [alert] = alert_cards(api)
    assert "medical emergency" in alert.plain_text and "2 messages like this" in alert.plain_text
    assert any("See the newer alert below" in m.plain_text for m in api.messages_to(TEAM))
    [card] = case_cards(api)  # one case; its card now shows the finished referral
    assert (
        "Needs: Feeling lonely, Getting active" in card.plain_text
        and "Area: L20" in card.plain_text
    )
    assert api.rejected == [] and api.unanswered_callback_queries() == []


async def test_indirect_crisis_language_is_caught_by_its_meaning(
    running: Running, api: BotApiStandIn, meaning_screen: object
) -> None:
    """Words no rule knows, read for their meaning: the crisis reply and an alert
    whose reason names the nearest written example, not the person's words."""
    await running.stop()
    running.settings = running.settings.model_copy(update={"staff_chat_id": TEAM})
    await running.start()
    assert running.app is not None and running.app.meaning is not None
    for how, what in REFERRAL[:4]:
        await act(running, api, how, what)
    words = "Gave the cat to my sister today. Told her it was just for a while."
    await act(running, api, "type", words)
    reply, choice = api.messages_to(CHAT)[-2:]
    assert "116 123" in reply.plain_text  # Samaritans: the suicide reply
    assert choice.button_labels == ["Carry on", "Stop for now", "Talk to someone"]
    [alert] = alert_cards(api)
    assert "cat to my sister" not in alert.plain_text
    assert api.rejected == [] and api.unanswered_callback_queries() == []


async def test_without_the_model_the_rules_still_screen(
    running: Running, api: BotApiStandIn
) -> None:
    await running.stop()
    running.settings = running.settings.model_copy(update={"meaning_screen": False})
    await running.start()
    assert running.app is not None and running.app.meaning is None
    for how, what in REFERRAL[:4]:
        await act(running, api, how, what)
    await act(running, api, "type", "i want to kill myself")
    reply, _ = api.messages_to(CHAT)[-2:]
    assert "116 123" in reply.plain_text


# Every step of the flow: the same storage as the crisis test above, which runs on both.
@pytest.mark.sqlite_only
async def test_a_crisis_at_every_step_gets_the_reply_that_fits_and_loses_nothing(
    running: Running, api: BotApiStandIn
) -> None:
    """Crisis words typed at each question of the referral in turn: each time the
    contacts and the choice (Carry on / Stop for now / Talk to someone); Carry on
    goes back to the question they were on; at the end the referral is whole.
    After the handoff (at the first of the questions while they wait): the team has
    been told, and no buttons."""
    await act(running, api, *REFERRAL[0])
    for step, (how, what) in enumerate(TO_HANDOFF[1:], start=1):
        question = api.messages_to(CHAT)[-1]
        await act(running, api, "type", "i want to end my life")
        reply, choice = api.messages_to(CHAT)[-2:]
        assert "116 123" in reply.plain_text, (step, reply.plain_text)
        assert "carry on with your referral" not in reply.plain_text
        assert choice.button_labels == ["Carry on", "Stop for now", "Talk to someone"], step
        await act(running, api, "tap", "Carry on")
        back = api.messages_to(CHAT)[-1]
        if step == 3:  # "what matters to you?": their words were kept as the answer
            assert back.plain_text.startswith("Thank you for telling me.")
            continue
        if "thoughts like that" in question.plain_text:  # the direct question: answered now
            continue
        assert back.button_labels == question.button_labels, step  # the same question again
        await act(running, api, how, what)
    assert "Your reference is SP-" in handoff_message(api)
    assert "While you wait" in api.messages_to(CHAT)[-1].plain_text

    await act(running, api, "type", "i want to end my life")
    after = api.messages_to(CHAT)[-1]
    assert "116 123" in after.plain_text and "get in touch with you" in after.plain_text
    assert not after.buttons
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        case = (await s.execute(select(Case))).scalar_one()  # one case for it all
    assert case.summary.about_the_person.name == "Alex" and case.urgent
    # Their words at "what matters" were the crisis words: nothing was ticked for them.
    assert case.summary.needs.need_areas == ["activity"]
    assert api.rejected == [] and api.unanswered_callback_queries() == []
