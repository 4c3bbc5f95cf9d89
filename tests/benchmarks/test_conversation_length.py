"""How long the referral is for the person writing it (issue 13): two journeys
typed in the terminal (`spbot chat`, on the sample directory), counting the
answers they give and the words they read.

- The widower: Arthur, 78, in Bootle, lonely since his wife died; in person,
  walking distance, mornings; a phone call.
- The debt journey: Kim, 34, behind on bills and low; online only, evenings; a
  message here.

Each answer is chosen by the question being asked (the conversation's state), the
way a person answers what they see, so a shorter conversation shows here as fewer
answers. The figures are printed (and kept in the benchmark's extra_info), never
asserted: the target, at most 12 answers and about 600 words for the widower, is
read off the table (README, "How long a referral takes"). What is asserted is that
both reach the handoff, and that the debt journey is offered money advice.

Run with `make bench`.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bot.app import build_app
from bot.config import Settings
from bot.console import CONSOLE_CHAT_ID, ConsoleSender, read_event
from bot.delivery import Delivery, Limits
from bot.patients import Inbound
from flows import referral
from flows.core import Command

ROOT = Path(__file__).resolve().parents[2]
TARGET_ANSWERS, TARGET_WORDS = 12, 600

#: What each person answers, by the question they are on.
WIDOWER = {
    "consent": "I agree, and I'm 18 or over", "name": "Arthur",
    "what_matters": "Since my wife died I'm lonely. I don't see anyone from one week to the next.",
    "need_areas": "done", "postcode": "L20 3AB", "mode": "in person, near home",
    "free_times": "mornings",
    "suggestions": "1", "contact_wanted": "phone me in the morning",
    "phone": "07911 123456",
    # While he waits:
    "wait_life": "4", "wait_worthwhile": "5", "wait_happy": "3", "wait_anxious": "6",
    "wait_safety": "no",
    # Before you phone (issue 14): nothing to tick; his GP surgery.
    "wait_needs": "none", "wait_gp": "Bootle Village Surgery",
}  # fmt: skip
DEBT = {
    "consent": "yes ok", "age": "34", "name": "Kim",
    "what_matters": "I'm behind on my bills and the debt is making me stressed.",
    "need_areas": "done", "postcode": "L21 4NB", "mode": "online",
    "free_times": "evenings",
    "safety_question": "no",  # "stressed" ticks low mood: asked directly, once
    "suggestions": "1", "contact_wanted": "message me here",
    # While she waits:
    "wait_life": "3", "wait_worthwhile": "4", "wait_happy": "3", "wait_anxious": "8",
    "wait_safety": "no",
    # Before you phone (issue 14): both skipped.
    "wait_needs": "skip", "wait_gp": "skip",
}  # fmt: skip
# (Kim first wrote "… I can't sleep." too: the meaning screen read that as a medical
# emergency, nearest "can't breathe". Training it out cost recall on a crisis inside
# a long message, so the model was left as it is and the false alarm is on record in
# issue 13's note for the crisis screen.)


@dataclass
class Journey:
    """Answers given and words read to the handoff, and in all (with the questions
    asked while they wait), and everything shown."""

    to_handoff: tuple[int, int] = (0, 0)
    in_all: tuple[int, int] = (0, 0)
    shown: str = ""


async def journey(db_url: str, answers: dict[str, str]) -> Journey:
    """From /start to the handoff, then through the questions while they wait."""
    app = await build_app(Settings(database_url=db_url))
    out = io.StringIO()
    sender = ConsoleSender(out)
    delivery = Delivery(app.db, sender, "console", limits=Limits(1000, 1000, 1))
    given, visits = 0, dict.fromkeys(answers, 0)
    result = Journey()
    try:
        await app.patients.handle(Inbound("console", CONSOLE_CHAT_ID, Command("start")))
        while await delivery.deliver_due():
            pass
        while (state := await app.patients.where_they_are("console", CONSOLE_CHAT_ID)) not in (
            "handed_off", "finished"):  # fmt: skip
            if state in referral.WAIT_STATES and result.to_handoff == (0, 0):
                result.to_handoff = (given, len(out.getvalue().split()))
            assert state in answers, f"asked something this journey has no answer for: {state}"
            visits[state] += 1
            assert visits[state] <= 3, f"stuck at {state}"
            line = answers[state]
            given += 1
            event = read_event(line, sender.buttons)
            await app.patients.handle(Inbound("console", CONSOLE_CHAT_ID, event))
            while await delivery.deliver_due():
                pass
    finally:
        await app.close()
    result.shown = out.getvalue()
    result.in_all = (given, len(result.shown.split()))
    if result.to_handoff == (0, 0):  # no questions while they wait (no handoff)
        result.to_handoff = result.in_all
    return result


def test_how_long_a_referral_is(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    figures = {}
    for name, answers in (("widower", WIDOWER), ("debt", DEBT)):
        db_url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}"
        subprocess.run([sys.executable, "-m", "bot.cli", "directory", "import", "--sample"],
                       env={"DATABASE_URL": db_url, "PATH": ""}, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        walked = asyncio.run(journey(db_url, answers))
        (given, words), (given_all, words_all) = walked.to_handoff, walked.in_all
        figures[name] = {"answers": given, "words": words,
                         "answers_in_all": given_all, "words_in_all": words_all}  # fmt: skip
        if name == "debt":
            assert any(w in walked.shown.lower() for w in ("money", "debt")), (
                "no money advice offered")  # fmt: skip
    benchmark.extra_info.update(figures)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\nA referral typed in the terminal (target for the widower: at most "
          f"{TARGET_ANSWERS} answers and about {TARGET_WORDS} words to read)")  # fmt: skip
    print("                to the handoff          including the while-you-wait questions")
    for name, f in figures.items():
        print(
            f"  {name:<8} {f['answers']:>3} answers {f['words']:>5} words read"
            f"   {f['answers_in_all']:>3} answers {f['words_in_all']:>5} words read"
        )


if __name__ == "__main__":
    pytest.main([__file__, "-q", "-s"])
