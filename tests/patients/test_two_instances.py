"""Two bot instances on one PostgreSQL handling one patient's updates at the same time
(docs/architecture.md rule 1: the patient's row is locked while an update is handled).

The inbox hands a chat's updates out one at a time, but a lease can run out while an
instance is still busy (a slow database), and a patient's message can meet a link
worker's action on their conversation. Then two transactions handle one patient at
once: each must see what the other wrote, never the same old state.

The first instance is held still inside its transaction, just before it commits,
until the second has either finished or is waiting for a lock: then the first goes
on. Without a lock, the second reads the old conversation and one of the two
answers is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from bot.app import messages_for
from bot.patients import Inbound, PatientService
from bot.store import Database
from bot.store.patients import Conversation, Patient
from flows.core import Button, Command, Text
from tests.fakes import FakeDirectory
from tests.patients.helpers import SETTINGS, Chat

#: How long the second instance may take to reach the lock (or finish): only a
#: machine stalled for that long fails here.
PATIENCE = 30.0


class HeldBeforeCommit:
    """Holds the next transaction of `db` still just before it commits, until
    `release()`. Its locks stay held meanwhile, as in an instance that is slow."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.holding = asyncio.Event()
        self.go_on = asyncio.Event()
        self.armed = True

    def __enter__(self) -> HeldBeforeCommit:
        event.listen(Session, "before_commit", self._before_commit)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Session, "before_commit", self._before_commit)
        self.go_on.set()

    def _before_commit(self, session: Session) -> None:
        if not self.armed or session.info.get("database") is not self.db:
            return
        self.armed = False
        self.holding.set()
        await_only(self.go_on.wait())  # runs in the session's greenlet: the loop goes on

    def release(self) -> None:
        self.go_on.set()


async def waiting_for_a_lock(db: Database) -> bool:
    """Whether some connection to this database waits for a row lock."""
    async with db.engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def until(condition: Callable[[], Any], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"waited {PATIENCE}s for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def second(database: Database) -> Any:
    """Another instance: its own engine and connection pool on the same database."""
    if database.is_sqlite:
        pytest.skip("SQLite has one writer at a time; the row lock is PostgreSQL's")
    other = Database(database.url)
    yield other
    await other.close()


async def handled_at_once(
    database: Database, second: Database, first: Awaitable[Any], then: Awaitable[Any]
) -> bool:
    """`first` in one instance, held just before its commit while `then` runs in the
    other; whether `then` had to wait for the first's lock."""
    with HeldBeforeCommit(database) as held:
        handling_one = asyncio.ensure_future(first)
        await until(held.holding.is_set, "the first instance to reach its commit")
        handling_two = asyncio.ensure_future(then)
        await until(
            lambda: handling_two.done() or waiting_for_a_lock(second),
            "the second instance to finish or wait for the first",
        )
        second_waited = not handling_two.done()
        held.release()
        await asyncio.wait_for(asyncio.gather(handling_one, handling_two), PATIENCE)
    return second_waited


async def ticked(db: Database, chat_id: int) -> list[str]:
    async with db.sessions() as s:
        conversation = await s.scalar(
            select(Conversation).join(Patient).where(Patient.chat_id == chat_id)
        )
        assert conversation is not None
        return sorted(conversation.answers.get("need_areas") or [])


async def test_two_instances_handling_two_taps_of_one_patient_at_once_keep_both(
    database: Database, second: Database
) -> None:
    chat = Chat(database)
    await chat.walk_to("need_areas")
    already = await ticked(database, chat.chat_id)  # "lonely" ticked it for them
    step = await chat.step()
    one = PatientService(database, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    two = PatientService(second, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    # Two boxes tapped on the same question, quickly: the same step on both buttons.
    first = Inbound("telegram", chat.chat_id, Button(step, "activity"), 5001, "Alex")
    then = Inbound("telegram", chat.chat_id, Button(step, "confidence"), 5002, "Alex")

    second_waited = await handled_at_once(database, second, one.handle(first), two.handle(then))

    assert await ticked(database, chat.chat_id) == sorted({*already, "activity", "confidence"}), (
        "one of two taps handled at once by two instances was lost: the second was "
        "handled against the conversation as it was before the first"
    )
    assert second_waited, "the second instance did not wait for the first's lock"


async def test_a_new_persons_first_two_messages_at_once_make_one_patient_in_order(
    database: Database, second: Database
) -> None:
    """Someone new writes /start and at once taps its first button, and two instances
    take the two: the second waits for the first's new row (nothing to lock yet), then
    answers the question the first asked, for the one patient."""
    earlier = Chat(database, chat_id=77)  # someone before them: the step /start leaves
    await earlier.send("/start")
    step = await earlier.step()
    chat_id = 78
    one = PatientService(database, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    two = PatientService(second, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    start = Inbound("telegram", chat_id, Command("start"), 5101, "Alex")
    agree = Inbound("telegram", chat_id, Button(step, "agree_adult"), 5102, "Alex")

    second_waited = await handled_at_once(database, second, one.handle(start), two.handle(agree))

    async with database.sessions() as s:
        patients = (await s.scalars(select(Patient).where(Patient.chat_id == chat_id))).all()
    assert len(patients) == 1
    assert await state_of(database, chat_id) == "name", (
        "the tap, handled against no conversation or the one before /start, "
        "did not answer the question /start asked"
    )
    assert second_waited, "the second instance did not wait for the first's new patient"


async def state_of(db: Database, chat_id: int) -> str:
    async with db.sessions() as s:
        query = select(Conversation.state).join(Patient).where(Patient.chat_id == chat_id)
        return str(await s.scalar(query))


async def test_a_link_worker_taking_over_as_the_patient_answers_is_not_undone(
    database: Database, second: Database
) -> None:
    """A worker claims the case (so the patient's next words are for them) in one
    instance while the patient's answer is handled in another: the patient ends up
    with the worker, whichever commits first."""
    chat = Chat(database)
    await chat.walk_to("postcode")
    while await chat.delivery.deliver_due():  # they have seen the question
        pass
    async with database.sessions() as s:
        patient_id = await s.scalar(select(Patient.id).where(Patient.chat_id == chat.chat_id))
    assert patient_id is not None
    patients = PatientService(database, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    staff_side = PatientService(second, messages_for(SETTINGS), FakeDirectory, SETTINGS)
    answer = Inbound("telegram", chat.chat_id, Text("L20 3AB"), 5003, "Alex")

    async def worker_takes_over() -> None:
        async with second.transaction() as session:
            await staff_side.talking_with_worker(session, patient_id, staff_side.clock())

    with HeldBeforeCommit(second) as held:
        taking_over = asyncio.create_task(worker_takes_over())
        await until(held.holding.is_set, "the worker's instance to reach its commit")
        answering = asyncio.create_task(patients.handle(answer))
        await until(
            lambda: answering.done() or waiting_for_a_lock(database),
            "the patient's instance to finish or wait for the worker's",
        )
        held.release()
        await asyncio.wait_for(asyncio.gather(taking_over, answering), PATIENCE)

    assert await state_of(database, chat.chat_id) == "handed_off", (
        "the patient's answer, handled against the conversation as it was before the "
        "worker took over, undid the takeover: their next words would not reach the worker"
    )


async def test_a_nudge_never_lands_on_an_answer_being_handled(
    database: Database, second: Database
) -> None:
    """A day after someone stopped at the postcode, they answer it in one instance at
    the moment another instance's housekeeping looks for stalled referrals. The nudge
    ("you didn't finish…") must wait its turn and then see that they are back, not
    arrive on top of the next question nor put them back where they were."""
    from datetime import timedelta

    from tests.patients.test_checkins import heard
    from tests.staff.helpers import MONDAY, team

    one = await team(database)
    one.clock.now = MONDAY
    chat = one.patient(77)
    await chat.walk_to("postcode")
    since = await one.last_id()
    two = await team(second, add_workers=False)
    # A day on, inside their sending window: the referral is stalled.
    one.clock.now = two.clock.now = MONDAY + timedelta(hours=24, minutes=1)

    while await chat.delivery.deliver_due():  # they have seen the question
        pass
    answer = Inbound("telegram", chat.chat_id, Text("L20 3AB"), 5004, "Alex")
    with HeldBeforeCommit(database) as held:
        answering = asyncio.create_task(chat.service.handle(answer))
        await until(held.holding.is_set, "the patient's instance to reach its commit")
        nudging = asyncio.create_task(two.patients.checkins.tick())
        await until(
            lambda: nudging.done() or waiting_for_a_lock(second),
            "the housekeeping to finish or wait for the patient's answer",
        )
        held.release()
        await asyncio.wait_for(asyncio.gather(answering, nudging), PATIENCE)

    said = await heard(one, chat, since)
    assert not [s for s in said if "didn't finish" in s], (
        f"a nudge went to someone answering at that moment: {said}"
    )
    assert await state_of(database, chat.chat_id) != "postcode", (
        "the nudge put them back at the question they had just answered"
    )
