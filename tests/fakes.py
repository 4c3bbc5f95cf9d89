"""Small stand-ins: an in-memory activity directory for tests that are not about
matching, and a sender that records what delivery would send to Telegram."""

from __future__ import annotations

from bot.delivery import Limits, Sent
from bot.store.base import utcnow
from bot.store.outbox import Keyboard
from flows.directory import Profile, Reason, Session, Suggestion, named_in

ACTIVITIES = [
    Suggestion("walk-1", "Bootle Walking Football", "Sefton Sport (sample)", "Gentle football for all ages.",
               (Session(1, "10:00", "11:30"),), modes=("in_person",), address="Bootle Leisure Centre",
               distance_miles=0.8, free=True, phone="0151 496 0001",
               reasons=(Reason("need", {"need_area": "activity"}), Reason("near", {"miles": 0.8}))),
    Suggestion("knit-1", "Knit and Natter", "Crosby Library (sample)", "A friendly <b>knitting</b> group & chat.",
               (Session(3, "14:00", "16:00"),), modes=("in_person",), address="Crosby Library",
               distance_miles=2.1, free=True, reasons=(Reason("need", {"need_area": "loneliness"}),)),
    Suggestion("call-1", "Befriending Calls", "Age Well (sample)", "A weekly phone call with a volunteer.",
               by_appointment=True, modes=("phone",), free=True, phone="0151 496 0003",
               reasons=(Reason("phone"),)),
    Suggestion("debt-1", "Debt Advice", "Citizens Advice (sample)", "Free, private advice about money.",
               by_appointment=True, modes=("in_person", "phone"), address="Bootle Town Hall", free=True,
               reasons=(Reason("need", {"need_area": "money"}),)),
]  # fmt: skip


class FakeDirectory:
    def __init__(self, activities: list[Suggestion] | None = None) -> None:
        self.activities = ACTIVITIES if activities is None else activities
        self.profiles: list[Profile] = []

    def suggest(self, profile: Profile, n: int = 3, offset: int = 0) -> list[Suggestion]:
        self.profiles.append(profile)
        fitting = [a for a in self.activities if a.activity_id not in profile.declined]
        return fitting[offset : offset + n]

    def activity(self, activity_id: str) -> Suggestion | None:
        return next((a for a in self.activities if a.activity_id == activity_id), None)

    def named(self, words: str, n: int = 5) -> list[Suggestion]:
        return named_in(self.activities, words, n)


class RecordingSender:
    def __init__(self, fail_with: list[Exception] | None = None) -> None:
        self.sent: list[tuple[int, str, Keyboard]] = []
        self.edits: list[tuple[int, int, str]] = []
        self.deleted: list[tuple[int, int]] = []
        self.documents: list[tuple[int, str, bytes]] = []
        self.fail_with = fail_with or []

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> Sent:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append((chat_id, text, buttons))
        return Sent(len(self.sent), utcnow())

    async def replace(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> Sent:
        await self.edit(chat_id, message_id, text, buttons)
        return Sent(message_id, utcnow())

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None:
        self.edits.append((chat_id, message_id, text))

    async def delete(self, chat_id: int, message_id: int) -> None:
        self.deleted.append((chat_id, message_id))

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str
    ) -> Sent:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.documents.append((chat_id, filename, content))
        self.sent.append((chat_id, caption, []))
        return Sent(len(self.sent), utcnow())


#: Delivery with no rate limits, for tests.
FAST = Limits(1000, 1000, 1, group_burst=1000, group_per_minute=60_000)
