"""A local Telegram Bot API stand-in for end-to-end tests (details in server.py).

async def test_referral_starts(api: BotApiStandIn) -> None:  # `api` fixture: conftest.py
    app = api.application_builder().build()
    add_handlers(app)                                  # the bot's own wiring
    async with api.polling(app):
        [welcome] = await api.say(4242, "/start")     # send, wait for the reply
        api.press(4242, "Yes")                         # tap an inline button
        await api.wait_for(lambda: api.message(4242, welcome.message_id).edits == 1)
    api.assert_clean()                                 # nothing refused, every tap answered
"""

from .server import ApiError, BotApiStandIn, Call, SentMessage, UploadedFile

__all__ = ["ApiError", "BotApiStandIn", "Call", "SentMessage", "UploadedFile"]
