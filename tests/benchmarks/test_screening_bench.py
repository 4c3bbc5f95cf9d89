"""Crisis screening runs on every free-text message before anything else, so it
must never be what a patient waits for. Targets: a typical message (about 200
characters) in under 1 ms median, and no random text, however strange, over 50 ms.

Run with `make bench`; each result is also printed as a ratio of its target."""

from __future__ import annotations

import random
import time

import pytest

from bot.safety import screen

MESSAGE = (
    "Hi, my GP said to get in touch. I've been on my own since my husband passed and "
    "some days I don't see anyone. I'd like to find a walking group or maybe a choir "
    "near Bootle or Litherland, thanks"
)
CRISIS = MESSAGE.replace("thanks", "honestly i dont want to be here anymore")
TYPICAL_TARGET = 0.001
WORST_TARGET = 0.050


@pytest.mark.parametrize("text", [MESSAGE, CRISIS], ids=["ordinary", "crisis"])
def test_a_typical_message(benchmark: pytest.FixtureRequest, text: str) -> None:
    screen(text)  # warm the stemmer's cache, as a running bot would be
    benchmark(screen, text)  # type: ignore[operator]
    median = benchmark.stats.stats.median  # type: ignore[attr-defined]
    print(f"\n{len(text)} characters: median {median * 1e3:.3f} ms = "
          f"{median / TYPICAL_TARGET:.2f} of the 1 ms target")  # fmt: skip
    assert median < TYPICAL_TARGET


def _fastest_of_three(text: str) -> float:
    """How long the text itself takes: the fastest of three runs leaves out a
    pause of the garbage collector, which a slow pattern would not escape."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        screen(text)
        times.append(time.perf_counter() - start)
    return min(times)


def test_the_slowest_of_a_thousand_strange_texts() -> None:
    rng = random.Random(7)
    alphabets = [
        "abcdefghijklmnopqrstuvwxyz '",
        "aaaa ",
        "🙂😢 .!?",
        "".join(map(chr, range(32, 0x2FF))),
    ]
    screen(MESSAGE)  # the rules load once, when the bot starts
    worst = 0.0
    for _ in range(1000):
        alphabet = rng.choice(alphabets)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(400)))
        worst = max(worst, _fastest_of_three(text))
    print(
        f"\nslowest of 1000: {worst * 1e3:.2f} ms = {worst / WORST_TARGET:.2f} of the 50 ms target"
    )
    assert worst < WORST_TARGET
