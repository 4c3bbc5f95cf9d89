"""The baseline for tests/benchmarks/test_replies_bench.py: a bare python-telegram-bot
echo bot, long polling. `python -m tests.benchmarks.echo_bot TOKEN BASE_URL [paced]`;
`paced`: with PTB's AIORateLimiter (Telegram's limits, as a fair baseline)."""

from __future__ import annotations

import sys

from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


def main(token: str, base_url: str, paced: bool) -> None:
    builder = ApplicationBuilder().token(token).base_url(base_url)
    if paced:
        builder = builder.rate_limiter(AIORateLimiter())
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0, timeout=20)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "paced")
