"""A local Telegram Bot API stand-in for end-to-end tests (see server.py)."""

from .server import ApiError, BotApiStandIn, Call, SentMessage, UploadedFile

__all__ = ["ApiError", "BotApiStandIn", "Call", "SentMessage", "UploadedFile"]
