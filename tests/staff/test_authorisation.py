"""Who may do what: the authorisation table (issue 12).

Five people try every staff command and button in `bot/staff/service.py`'s VERBS,
typed and tapped, in their private chat with the bot and in the team chat, through
the Telegram adapter (`TelegramBot.on_update`, python-telegram-bot parsing updates
the Bot API stand-in made): a patient, a stranger who is in the team group, a link
worker who was removed from the team, a worker who does not hold the case, and an
admin. Each action is tried on a case of its own, held by Sam, with a safety alert
nobody has seen yet.

- The patient, the stranger and the removed worker get nothing about any case: in
  the team chat nothing but a short answer to a tap ("only link workers on the
  team..."), privately the reply any patient gets to a command it does not know
  (or to an old button; a removed worker's old button says only that they are no
  longer on the team), and nothing is recorded anywhere.
- The worker who does not hold it may look (the queue, their cases, the case
  itself, audited), take the alert (any worker may: it is the team's), and is
  refused, told who holds it, for the rest.
- The admin may also release it and add notes (flows/case.py: `holds_or_admin`,
  `can_note`); the rest only its holder does.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.app import App, messages_for
from bot.messages import html_to_text
from bot.staff import CaseNotices
from bot.staff.admin import remove_worker
from bot.staff.service import VERBS
from bot.store import Database
from bot.store.audit import AuditEntry
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from bot.store.staff import worker_name
from bot.store.updates import ProcessedUpdate
from bot.taps import StaffTap, encode
from bot.telegram import TelegramBot
from flows.core import Command, Text
from tests.fakes import FAST, FakeDirectory
from tests.staff.helpers import ADMIN_ID, JO_ID, SAM_ID, TEAM, Team, team
from tests.standin.server import BotApiStandIn

PATIENT_ID = 42  # a patient who referred (their chat id is their user id)
STRANGER_ID = 555  # in the team group, not on the team
WHO = {"patient": PATIENT_ID, "stranger": STRANGER_ID, "removed_worker": JO_ID,
       "not_holding_it": JO_ID, "admin": ADMIN_ID}  # fmt: skip
NOT_ON_THE_TEAM = ("patient", "stranger", "removed_worker")

#: Every staff command and button: (verb, "typed" | "tapped").
ACTIONS = [(verb, how) for verb, v in VERBS.items() for how in ("typed", "tapped")
           if (v.typed if how == "typed" else v.tapped)]  # fmt: skip
#: What follows the reference when typed, and a tap's argument.
TYPED_REST = {"reply": " hello", "note": " hello", "close": " declined", "done": " phoned",
              "checkin": " 2w"}  # fmt: skip
TAP_ARG = {"queue": "2", "mine": "1", "pick": "0", "outcome": "declined", "send": "c#walk-1"}
#: The patients' own details (tests/flows/harness.py HAPPY_PATH), never shown to anyone
#: off the team.
#: A tap on a team chat button by someone not on the team gets a short answer.
NOT_ON_THE_TEAM_TOAST = "Only link workers on the team can use these buttons."
THEIRS = re.compile(r"lonely since my wife died|07911|L20|\bSam\b")


@dataclass(frozen=True)
class Gets:
    """What a worker on the team gets for one action, privately: words in the reply,
    words in the tap's toast (tapped), whether the team chat's card changes, and
    what the case becomes ((status, holder) by name; None: unchanged)."""

    reply: str
    toast: str | None = None
    card: bool = False
    case: tuple[str, str | None] | None = None
    #: The holder (Sam) and the patient are told too (a release by an admin).
    others: bool = False


REFUSED = Gets("{ref} is Sam's case, so only they can do that", "{ref} is Sam's case")
#: A worker who does not hold the case, in their private chat.
NOT_HOLDING_IT: dict[str, Gets] = {
    "home": Gets("Hello Jo."),
    "queue": Gets("Waiting for a link worker:"),
    "mine": Gets("Your open cases: 0"),
    "team": Gets("/team is only for admins"),
    "find": Gets("Type what to look for after /find"),
    "cancel": Gets("Cancelled. Nothing was sent."),
    "join": Gets("You are already on the team, Jo."),
    "away": Gets("Say when you are away until"),
    "cover": Gets("You are not away."),
    "back": Gets("You are not away."),
    "case": Gets("{ref} · claimed · Sam"),
    "open": Gets("{ref} · claimed · Sam"),
    "claim": Gets("{ref} has already been claimed by Sam.", "{ref}: Sam has it."),
    "release": REFUSED,
    "assign": REFUSED,
    "reopen": Gets("{ref} is not closed.", "{ref}: not now."),
    "reply": REFUSED,
    "note": REFUSED,
    "refer": REFUSED,
    "checkin": REFUSED,
    "search": REFUSED,
    "choices": REFUSED,
    "send": REFUSED,
    "pick": Gets("That list is out of date: tap Refer on {ref} again."),
    "close": REFUSED,
    "outcome": REFUSED,
    # A safety alert is the team's: whoever sees it takes it, and says what they did.
    "seen": Gets("Thank you for taking the alert on {ref}.", "Thank you.", card=True),
    "done": Gets("Thank you. What you did is recorded on {ref}.", card=True),
}
#: Tapped "done" asks what they did; typed with words, records it.
NOT_HOLDING_IT_TAPPED = {"done": Gets("When you have acted, tell me what you did")}
#: An admin: release anyone's case, note on anyone's; the rest as any other worker.
ADMIN = {
    **NOT_HOLDING_IT,
    "home": Gets("Hello Ash."),
    "team": Gets("The team"),
    "join": Gets("You are already on the team, Ash."),
    "release": Gets("{ref} is back in the queue.", card=True, case=("waiting", None), others=True),
    "assign": Gets("Who should have {ref}"),
    "note": Gets("Note added to Alex's case ({ref})."),
    "checkin": Gets("{ref} has no referral yet, so there is nothing to check in about."),
}
ADMIN_TAPPED = {**NOT_HOLDING_IT_TAPPED, "note": Gets("Type your note on Alex's case ({ref}).")}
#: In the team chat a worker's buttons on the case's card work (Claim, Seen: what
#: follows comes privately); nothing else of theirs is for the bot there.
TEAM_CHAT = {"claim": Gets("", "{ref}: Sam has it."),
             "seen": Gets("Thank you for taking the alert on {ref}.", "Thank you.", card=True)}  # fmt: skip


class Desk:
    """The Telegram adapter on the team's database, fed updates the stand-in made."""

    def __init__(self, api: BotApiStandIn, t: Team, bot: TelegramBot) -> None:
        self.api, self.t, self.bot = api, t, bot
        self.patients = 1000
        self.tappable: dict[int, int] = {}  # chat -> a bot message there to tap on

    async def fresh_case(self) -> str:
        """A case of its own: referred, claimed by Sam (who has the details of the
        activity the patient chose open, to send), with a safety alert nobody has seen."""
        self.patients += 1
        _, case = await self.t.referred_patient(self.patients)
        await self.t.act(SAM_ID, f"/claim {case.reference}")
        await self.t.act(SAM_ID, f"/refer {case.reference}")
        await self.t.crisis(await self.t.case(case.reference))
        return case.reference

    async def do(self, user: int, chat: int, typed: str | None = None,
                 tap: str | None = None) -> tuple[dict[int, list[str]], str | None]:  # fmt: skip
        """What each chat was sent (plain text), and the tap's toast."""
        mark = await self.t.last_id()
        if typed is not None:
            update_id = self.api.send_text(chat, typed, user_id=user if chat < 0 else None)
        else:
            assert tap is not None
            if chat not in self.tappable:
                self.tappable[chat] = (await self.bot.api.send_message(chat, "…")).message_id
            update_id = self.api.tap(chat, self.tappable[chat], tap, user_id=user,
                                     require_button=False)  # fmt: skip
        update = self.api.update(update_id)
        await self.bot.on_update(Update.de_json(update, self.bot.api))
        # The tap is answered beside the reply (which may be on its way already).
        await asyncio.gather(*self.bot._answering, *self.bot.delivery.lanes.busy.values())
        sent: dict[int, list[str]] = {}
        for row in await outbox_since(self.t.db, mark):
            sent.setdefault(row.chat_id, []).append(html_to_text(row.payload["text"]))
        toast = None
        if tap is not None:
            answer = self.api.callback_answer(update["callback_query"]["id"])
            assert answer is not None, "the tap was not answered: the button keeps spinning"
            toast = answer.get("text")
        return sent, toast


async def whole_case(db: Database, reference: str) -> dict[str, Any]:
    """The case (its status and who holds it, by name), and how much is recorded:
    on cases, in the audit, and of updates handled."""
    async with db.sessions() as s:
        case = (await s.execute(select(Case).where(Case.reference == reference))).scalar_one()
        holder = await worker_name(s, case.link_worker_id)
        counts = {
            model.__name__: await s.scalar(select(func.count()).select_from(model))
            for model in (CaseEntry, AuditEntry, ProcessedUpdate)
        }
    return {"case": (case.status, holder, case.outcome), **counts}


async def outbox_since(db: Database, mark: int) -> list[OutboxMessage]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(OutboxMessage).where(OutboxMessage.id > mark).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


def about_a_case(texts: list[str], reference: str) -> list[str]:
    return [t for t in texts if reference in t or "SP-" in t or THEIRS.search(t)]


@pytest.mark.e2e
@pytest.mark.parametrize("who", list(WHO))
async def test_the_authorisation_table(database: Database, who: str) -> None:
    async with BotApiStandIn() as api:
        t = await team(database, telegram_bot_token=api.token, telegram_api_url=api.base_url)
        await t.referred_patient(PATIENT_ID)  # the patient has a case of their own
        messages = messages_for(t.settings)
        app = App(t.settings, database, messages, FakeDirectory(), None,
                  CaseNotices(messages, t.settings), clock=t.clock)  # fmt: skip
        bot = TelegramBot(app, limits=FAST)  # (what it sends goes at once)
        await bot.api.initialize()
        desk = Desk(api, t, bot)
        user = WHO[who]
        try:
            if who == "removed_worker":
                await remove_worker(database, messages, t.settings, JO_ID, t.clock())
            if who == "stranger":  # someone who once started talking to the bot
                await desk.do(user, user, typed="/start")
                # (and typed a command, so the question they are on is asked again
                # without the welcome above it: each command below closes the same)
                await desk.do(user, user, typed="/frobnicate")
            problems: list[str] = []
            for verb, how in ACTIONS:
                for where, chat in (("privately", user), ("in the team chat", TEAM)):
                    reference = await desk.fresh_case()
                    before = await whole_case(database, reference)
                    typed = f"/{verb}" + ("" if VERBS[verb].run else f" {reference}")
                    typed += TYPED_REST.get(verb, "")
                    tap = encode(StaffTap(verb, "" if VERBS[verb].run else reference,
                                          TAP_ARG.get(verb, "")))  # fmt: skip
                    if how == "typed":
                        sent, toast = await desk.do(user, chat, typed=typed)
                    else:
                        sent, toast = await desk.do(user, chat, tap=tap)
                    after = await whole_case(database, reference)
                    cell = f"{who} {how} {verb} {where}"
                    if who in NOT_ON_THE_TEAM:
                        problems += await nothing_about_it(desk, who, cell, user, chat, how, verb,
                                                           reference, sent, toast, before, after)  # fmt: skip
                    else:
                        expected = expectation(who, verb, how, chat == TEAM)
                        problems += judged(cell, user, reference, expected, sent, toast, before,
                                           after)  # fmt: skip
            assert not problems, "\n".join(problems)
            assert api.unanswered_callback_queries() == []
        finally:
            await bot.api.shutdown()


async def nothing_about_it(desk: Desk, who: str, cell: str, user: int, chat: int, how: str,
                           verb: str,
                           reference: str, sent: dict[int, list[str]], toast: str | None,
                           before: dict[str, Any], after: dict[str, Any]) -> list[str]:  # fmt: skip
    """Someone off the team: nothing about any case, nothing recorded about the case,
    nothing in the team chat; privately, what any patient gets for the same thing."""
    problems = []
    texts = [text for chat_texts in sent.values() for text in chat_texts]
    if about_a_case(texts + [toast or ""], reference):
        problems.append(f"{cell}: told about a case: {texts} / toast {toast!r}")
    if set(sent) - {user}:
        problems.append(f"{cell}: something went to {sorted(set(sent) - {user})}")
    if after["case"] != before["case"] or after["AuditEntry"] != before["AuditEntry"]:
        problems.append(f"{cell}: the case changed: {before} -> {after}")
    if after["CaseEntry"] != before["CaseEntry"]:
        problems.append(f"{cell}: something was written on the case")
    if chat == TEAM and sent:
        problems.append(f"{cell}: the team chat got {sent}")
    if how == "tapped" and who == "removed_worker":
        # An old button of theirs only says they are no longer on the team (issue 14).
        if sent or "no longer on the link worker team" not in (toast or ""):
            problems.append(
                f"{cell}: expected only 'no longer on the team', got {sent} / {toast!r}"
            )
        return problems
    if chat == TEAM and how == "tapped" and toast != NOT_ON_THE_TEAM_TOAST:
        problems.append(f"{cell}: the tap in the team chat was answered {toast!r}")
    if chat == user and how == "typed":
        # The reply any patient gets for a command it does not know.
        unknown, _ = await desk.do(user, chat, typed="/frobnicate")
        ordinary = [text.replace("frobnicate", verb) for text in unknown.get(user, [])]
        if sent.get(user) != ordinary:
            problems.append(f"{cell}: {sent.get(user)} is not the ordinary reply {ordinary}")
    if chat == user and how == "tapped" and toast is not None and "earlier question" not in toast:
        problems.append(f"{cell}: the tap was answered {toast!r}, not as an old button")
    return problems


def expectation(who: str, verb: str, how: str, in_team_chat: bool) -> Gets | None:
    if in_team_chat:
        return TEAM_CHAT.get(verb) if how == "tapped" else None
    table = ADMIN if who == "admin" else NOT_HOLDING_IT
    tapped = ADMIN_TAPPED if who == "admin" else NOT_HOLDING_IT_TAPPED
    return tapped.get(verb, table[verb]) if how == "tapped" else table[verb]


def judged(cell: str, user: int, reference: str, expected: Gets | None,
           sent: dict[int, list[str]], toast: str | None, before: dict[str, Any],
           after: dict[str, Any]) -> list[str]:  # fmt: skip
    """A worker on the team: exactly what the table says, and nothing to anyone else
    (the patient is told nothing by an action that did not happen)."""
    problems = []
    mine = sent.get(user, [])
    if expected is None:
        if sent or toast:
            problems.append(f"{cell}: expected nothing, got {sent} / toast {toast!r}")
        return problems
    if expected.reply and not any(expected.reply.format(ref=reference) in t for t in mine):
        problems.append(f"{cell}: expected {expected.reply!r}, got {mine}")
    if not expected.reply and mine:
        problems.append(f"{cell}: expected no message, got {mine}")
    if "tapped" in cell:
        want = expected.toast.format(ref=reference) if expected.toast else None
        if (want is None and toast) or (want is not None and (toast is None or want not in toast)):
            problems.append(f"{cell}: expected the toast {want!r}, got {toast!r}")
    if expected.card != (TEAM in sent):
        problems.append(
            f"{cell}: the team chat's card {'did not change' if expected.card else 'changed'}"
        )
    if expected.others:
        if len(set(sent) - {user, TEAM}) != 2 or SAM_ID not in sent:
            problems.append(f"{cell}: expected Sam and the patient told, got {sorted(sent)}")
    elif set(sent) - {user, TEAM}:
        problems.append(f"{cell}: something went to {sorted(set(sent) - {user, TEAM})}")
    moved = after["case"][:2] if after["case"] != before["case"] else None
    if moved != expected.case:
        problems.append(f"{cell}: the case became {moved}, expected {expected.case}")
    return problems


async def test_a_closed_case_is_reopened_only_by_its_holder_or_an_admin(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient(PATIENT_ID)
    reference = case.reference
    for words in (f"/claim {reference}", f"/close {reference} declined"):
        await t.act(SAM_ID, words)
    for event in (Command("reopen", reference), StaffTap("reopen", reference)):
        await t.act(JO_ID, event)
        assert "Sam's case" in (await t.said(JO_ID))[-1]
    assert (await t.case(reference)).status == "closed"
    await t.act(ADMIN_ID, f"/reopen {reference}")
    reopened = await t.case(reference)
    assert (reopened.status, reopened.link_worker_id) == ("claimed", (await t.worker(ADMIN_ID)).id)


async def test_telling_a_patient_from_a_worker_only_reads(tmp_path: Any) -> None:
    """Every patient update is first offered to the staff side. Finding out that
    the sender is not on the team must not take SQLite's write lock: it returns
    while another transaction is writing, instead of queueing behind it."""
    import asyncio

    from bot.staff import StaffInbound

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'read.sqlite3'}")
    await db.upgrade()
    try:
        t = await team(db)
        async with db.transaction() as writer:
            await writer.execute(select(func.count()).select_from(Case))  # holds the write lock
            handled = await asyncio.wait_for(
                t.staff.handle(StaffInbound(PATIENT_ID, PATIENT_ID, True, Text("hello"), 1)),
                timeout=5,
            )
        assert handled is None
    finally:
        await db.close()
