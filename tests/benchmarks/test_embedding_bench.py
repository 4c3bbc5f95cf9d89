"""The sentence encoder (bot/safety/embedding.py) on one core: how long the model
takes to load, and one message's encoding over 200 messages of 5 to 80 words,
as ratios of a 10 ms target.

Measured on the 2-core development machine (AMD EPYC, AVX-512, onnxruntime
1.32, one thread): load about 0.18 s with the hash check; one message median
about 14.5 ms (1.45 of the target), 99th percentile about 30 ms (3.0): the
10 ms target is met only by messages under about 30 tokens. float32 arithmetic
on one core is the limit (the dense layers run at about 70 GFLOP/s), so the
asserts here guard against regressions, not the target.

Run with `make bench`. Skipped, saying why, without the model's files."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bot.safety import model_files
from bot.safety.embedding import Encoder

TARGET = 0.010
SENTENCES = [
    "My GP said I should get in touch with you.", "I've been feeling really low since I lost my job.",
    "I'd like to find a walking group near Bootle.", "Some days I don't see anyone at all.",
    "Is there anything for carers round here?", "I can't cope with the debts any more.",
    "My husband passed away last year and the house is so quiet.", "I want to get out more and meet people.",
    "Honestly I don't want to be here anymore.", "I've been thinking about ending it all.",
    "Could someone ring me after five?", "I'm struggling to pay the rent and the landlord keeps calling.",
    "My anxiety is bad on buses so I'd need something close by.", "I used to love painting, maybe an art class?",
    "I don't sleep much and I feel tired all the time.", "Thanks for your help, it means a lot 🙂",
    "He shouts at me when he's been drinking and I'm scared to go home.", "I need help with a benefits form.",
    "Café on the corner does a knit and natter, is that still on?", "I've got a bad back so nothing too active please.",
]  # fmt: skip
MESSAGE = (
    "Hi, my GP said to get in touch. I've been on my own since my husband passed and "
    "some days I don't see anyone. I'd like to find a walking group or maybe a choir "
    "near Bootle or Litherland, thanks"
)


def messages(count: int = 200, seed: int = 11) -> list[str]:
    """`count` messages of 5 to 80 words (8 to 107 tokens, median 49)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        target = rng.randint(5, 80)
        words: list[str] = []
        while len(words) < target:
            words.extend(rng.choice(SENTENCES).split())
        out.append(" ".join(words[:target]))
    return out


def _median(benchmark: BenchmarkFixture) -> float:
    assert benchmark.stats is not None
    return float(benchmark.stats.stats.median)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pytest.importorskip("tokenizers", reason="the encoder needs the `tokenizers` package")
    pytest.importorskip("onnxruntime", reason="the encoder's runtime is onnxruntime")
    try:
        return model_files.fetch()
    except model_files.ModelFilesError as exc:
        pytest.skip(f"embedding model not available and could not be fetched: {exc}")


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> Encoder:
    return Encoder.load(model_dir, threads=1)


def test_model_load(benchmark: BenchmarkFixture, model_dir: Path) -> None:
    """Checking the files' sha256 (about 70 ms) and building the session."""
    benchmark.pedantic(Encoder.load, args=(model_dir,), rounds=5, iterations=1)
    median = _median(benchmark)
    print(f"\nload: median {median * 1e3:.0f} ms")
    assert median < 1.0


def test_a_typical_message(benchmark: BenchmarkFixture, encoder: Encoder) -> None:
    encoder.encode([MESSAGE])
    benchmark(encoder.encode, [MESSAGE])
    median = _median(benchmark)
    tokens = len(encoder.tokenize([MESSAGE])[0])
    print(
        f"\n{tokens} tokens: median {median * 1e3:.2f} ms = {median / TARGET:.2f} of the 10 ms target"
    )
    assert median < 3 * TARGET


def test_200_messages_one_at_a_time(encoder: Encoder) -> None:
    texts = messages()
    for text in texts[:20]:  # warm up, as a running bot would be
        encoder.encode([text])
    times = []
    for _ in range(3):
        for text in texts:
            start = time.perf_counter()
            encoder.encode([text])
            times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(times, [50, 99])
    print(
        f"\n200 messages x 3: p50 {p50 * 1e3:.2f} ms = {p50 / TARGET:.2f}, "
        f"p99 {p99 * 1e3:.2f} ms = {p99 / TARGET:.2f} of the 10 ms target"
    )
    assert p50 < 3 * TARGET
    assert p99 < 8 * TARGET
