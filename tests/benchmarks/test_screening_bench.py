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


#: With the meaning screen, every message is also read by a small sentence model:
#: the reply must still feel instant. Targets, on one core: p50 under 25 ms and
#: p99 under 60 ms a message (a long message is read sentence by sentence), and
#: the model loaded in under 2 s when the bot starts.
MEANING_P50_TARGET = 0.025
MEANING_P99_TARGET = 0.060
LOAD_TARGET = 2.0


def _messages() -> list[str]:
    """Real-looking messages of every length: the corpus's lines, and some joined
    into the long messages people write when they open up."""
    from pathlib import Path

    import yaml

    data = yaml.safe_load((Path(__file__).parents[1] / "safety" / "corpus.yaml").read_text())
    lines = [e if isinstance(e, str) else e["text"]
             for section in ("crisis", "ordinary") for entries in data[section].values()
             for e in entries]  # fmt: skip
    rng = random.Random(3)
    long = [". ".join(rng.sample(lines, 4)) for _ in range(50)]
    return lines + long


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]


def test_screening_time_rules_alone_and_with_the_meaning_screen(meaning_screen: object) -> None:
    from bot.safety.meaning import MeaningScreen

    assert isinstance(meaning_screen, MeaningScreen)
    messages = _messages()
    for text in messages[:20]:  # warm both, as a running bot would be
        screen(text, meaning=meaning_screen.read(text))
    rules, both = [], []
    for text in messages:
        start = time.perf_counter()
        screen(text)
        rules.append(time.perf_counter() - start)
        start = time.perf_counter()
        screen(text, meaning=meaning_screen.read(text))
        both.append(time.perf_counter() - start)
    r50, r99 = _percentiles(rules)
    b50, b99 = _percentiles(both)
    print(f"\n{len(messages)} messages, one at a time, one core:"
          f"\n  rules alone:          p50 {r50 * 1e3:6.2f} ms, p99 {r99 * 1e3:6.2f} ms"
          f"\n  rules + meaning:      p50 {b50 * 1e3:6.2f} ms, p99 {b99 * 1e3:6.2f} ms"
          f"  = {b50 / MEANING_P50_TARGET:.2f} and {b99 / MEANING_P99_TARGET:.2f} of the targets"
          f"\n  the meaning screen costs {b50 / r50:.0f}x the rules' time at p50")  # fmt: skip
    assert b50 < MEANING_P50_TARGET and b99 < MEANING_P99_TARGET


def test_loading_the_meaning_screen(model_dir: object) -> None:
    from bot.safety.meaning import MeaningScreen

    times = []
    for _ in range(3):
        start = time.perf_counter()
        MeaningScreen.load(model_dir)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    best, median = min(times), sorted(times)[1]
    print(f"\nloading the meaning screen (files checked, graph built, head read): "
          f"best {best:.2f} s, median {median:.2f} s = {median / LOAD_TARGET:.2f} of the 2 s target")  # fmt: skip
    assert median < LOAD_TARGET
