"""The meaning-based screen beside the rules (bot/safety/meaning.py), and how the
two together do on language nobody tuned them for.

`test_evaluation_report` prints, for each evaluation set, recall by category and
false alarms with 95% (Wilson) intervals, for the rules alone and for the rules
with the meaning screen. The independent sets (independent/ and independent2/)
were written by people who never saw the rules, the training examples or the
corpus, and nothing is ever trained or tuned on them: their figures are the
honest ones (the second's most of all: its first run was its only one). The floors below only catch a regression; the figures measured at each
change are in docs/safety.md.

Needs the embedding model (see tests/conftest.py `model_dir`): skipped without it.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.safety import CATEGORIES, Screening, meaning, screen
from bot.safety.meaning import HeadStale, MeaningScreen, sentences

HERE = Path(__file__).parent

#: The rules and the meaning screen together, measured at the shipped head
#: (docs/clinical-safety/hazard-log.md, H01 and H03): on the first independent set
#: 80.2% recall and 7.1% false alarms; on the second, at its first and only run,
#: 83.2% and 16.8%. The targets (85%, 5%) are not met. These floors sit a little
#: under what was measured, so a change that makes things worse fails here.
FLOORS = {  # set: (least recall, most false alarms)
    "independent": (0.75, 0.09),
    "independent 2": (0.78, 0.20),
}
#: On the hand-written corpus and held-out sets the rules alone reach 99.8%
#: recall and 0.7% false alarms; the meaning screen adds false alarms (5.9%
#: measured): no more than this.
MAX_CORPUS_FALSE_ALARMS = 0.08


@dataclass(frozen=True)
class Message:
    text: str
    category: str | None  # None: ordinary


def _corpus(name: str) -> list[Message]:
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    out = []
    for category, entries in data["crisis"].items():
        out += [Message(e if isinstance(e, str) else e["text"], category) for e in entries]
    for entries in data["ordinary"].values():
        out += [Message(e if isinstance(e, str) else e["text"], None) for e in entries]
    return out


def _independent(folder: str) -> list[Message]:
    data = yaml.safe_load((HERE / folder / "messages.yaml").read_text(encoding="utf-8"))
    return [
        Message(m["text"], None if m["category"] == "ordinary" else m["category"])
        for m in data["messages"]
    ]


SETS = {
    "independent": _independent("independent"),
    "independent 2": _independent("independent2"),
    "corpus + held-out": _corpus("corpus.yaml")
    + _corpus("holdout.yaml")
    + _corpus("holdout2.yaml"),
}


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval for a proportion (Wilson score: sound near 0 and 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Figures:
    """Recall counts an alarm of any category (the crisis reply and the alert go
    out either way); `right_category` counts the category a person labelled."""

    messages: list[Message]
    screened: list[Screening]

    def _pairs(self, category: str | None) -> list[tuple[Message, Screening]]:
        return [(m, s) for m, s in zip(self.messages, self.screened, strict=True)
                if m.category is not None and category in (None, m.category)]  # fmt: skip

    def recall(self, category: str | None = None) -> tuple[int, int]:
        pairs = self._pairs(category)
        return sum(s.is_crisis for _, s in pairs), len(pairs)

    def alarm_or_question(self) -> tuple[int, int]:
        """Crisis messages that raise an alarm or, during the referral, bring the
        direct question ("Have you had thoughts like that recently?")."""
        pairs = self._pairs(None)
        return sum(s.is_crisis or s.concern == "weak_sign" for _, s in pairs), len(pairs)

    def right_category(self) -> tuple[int, int]:
        pairs = self._pairs(None)
        return sum(m.category in s.categories for m, s in pairs), len(pairs)

    def false_alarms(self) -> tuple[int, int]:
        pairs = [(m, s) for m, s in zip(self.messages, self.screened, strict=True)
                 if m.category is None]  # fmt: skip
        return sum(s.is_crisis for _, s in pairs), len(pairs)

    def direct_questions(self) -> tuple[int, int]:
        """Ordinary messages that would bring the direct question (a weaker sign)."""
        pairs = [(m, s) for m, s in zip(self.messages, self.screened, strict=True)
                 if m.category is None]  # fmt: skip
        return sum(s.concern == "weak_sign" for _, s in pairs), len(pairs)


def _share(counts: tuple[int, int]) -> str:
    hits, n = counts
    low, high = wilson(hits, n)
    return f"{hits / n:6.1%} ({hits:>3}/{n:<3}) 95% CI {low:5.1%}-{high:5.1%}"


@pytest.fixture(scope="module")
def figures(meaning_screen: MeaningScreen) -> dict[tuple[str, str], Figures]:
    out = {}
    for name, messages in SETS.items():
        texts = [m.text for m in messages]
        read = meaning_screen.read_many(texts)
        out[(name, "rules alone")] = Figures(messages, [screen(t) for t in texts])
        out[(name, "rules + meaning")] = Figures(
            messages, [screen(t, meaning=r) for t, r in zip(texts, read, strict=True)]
        )
    return out


def report(figures: dict[tuple[str, str], Figures]) -> str:
    out = ["", "Crisis screen: rules alone and rules + meaning screen", "=" * 53]
    for (name, how), f in figures.items():
        out.append(f"{name}, {how}:")
        for category in CATEGORIES:
            out.append(f"  recall {category:<18} {_share(f.recall(category))}")
        out.append(f"  recall, any alarm         {_share(f.recall())}")
        out.append(f"  alarm or direct question  {_share(f.alarm_or_question())}")
        out.append(f"  recall, right category    {_share(f.right_category())}")
        out.append(f"  false alarms              {_share(f.false_alarms())}")
        out.append(f"  direct question, ordinary {_share(f.direct_questions())}")
    return "\n".join(out)


def test_evaluation_report(
    figures: dict[tuple[str, str], Figures], capsys: pytest.CaptureFixture[str]
) -> None:
    text = report(figures)
    with capsys.disabled():
        print(text)
    for name, (least_recall, most_false_alarms) in FLOORS.items():
        both = figures[(name, "rules + meaning")]
        hits, n = both.recall()
        assert hits / n >= least_recall, text
        alarms, ordinary = both.false_alarms()
        assert alarms / ordinary <= most_false_alarms, text
    alarms, ordinary = figures[("corpus + held-out", "rules + meaning")].false_alarms()
    assert alarms / ordinary <= MAX_CORPUS_FALSE_ALARMS, text


def test_the_meaning_screen_catches_far_more_indirect_language_than_the_rules(
    figures: dict[tuple[str, str], Figures],
) -> None:
    for name in FLOORS:
        rules, _ = figures[(name, "rules alone")].recall()
        both, n = figures[(name, "rules + meaning")].recall()
        assert both >= rules * 1.5, (name, rules, both, n)


def test_a_message_the_rules_miss_is_flagged_with_the_nearest_example(
    meaning_screen: MeaningScreen,
) -> None:
    text = "Gave the cat to my sister today. Told her it was just for a while."
    assert not screen(text).is_crisis  # no rule knows these words
    read = meaning_screen.read(text)
    screening = screen(text, meaning=read)
    assert screening.category == "suicide"
    (reason,) = screening.reasons
    assert reason.startswith("meaning.suicide: close in meaning to: “")
    assert read.nearest in meaning.load_examples()["suicide"]


def test_a_crisis_in_the_middle_of_a_long_message_is_read_on_its_own(
    meaning_screen: MeaningScreen,
) -> None:
    text = (
        "My postcode is L20 3AB and I can do Tuesdays or Thursdays. I used to like "
        "gardening and I'd like to meet people. Honestly I don't think I'll be around "
        "long enough for any of it. Text is best for me, thanks."
    )
    assert len(sentences(text)) == 5  # the whole message and its four sentences
    assert screen(text, meaning=meaning_screen.read(text)).category == "suicide"


@pytest.mark.parametrize(
    "text",
    [
        "I want to get fit",
        "I want to be fit and healthy",
        "get fit and lose weight",
        "I'd like to meet people, I've been lonely since my wife died",
        "my chest hurts when I walk up hills, the GP is looking into it",
        "Tuesday afternoons",
        "yes please",
    ],
)
def test_everyday_messages_stay_ordinary(meaning_screen: MeaningScreen, text: str) -> None:
    assert not screen(text, meaning=meaning_screen.read(text)).is_crisis


def test_the_rules_choose_the_category_when_they_fire(meaning_screen: MeaningScreen) -> None:
    text = "I want to kill myself"
    screening = screen(text, meaning=meaning_screen.read(text))
    assert screening.category == "suicide"
    assert screening.reasons[0].startswith("suicide.")  # the rule first, then the meaning


def test_a_weaker_sign_asks_the_direct_question_and_is_not_a_crisis() -> None:
    weak = meaning.Meaning(None, True, 0.8, "I'm so tired of everything")
    screening = screen("everything is a bit much", meaning=weak)
    assert not screening.is_crisis
    assert screening.concern == "weak_sign"
    assert "close in meaning to" in screening.reasons[0]


def test_reading_is_deterministic(meaning_screen: MeaningScreen) -> None:
    text = "nobody would notice if I was gone"
    assert meaning_screen.read(text) == meaning_screen.read(text)
    assert (
        meaning_screen.read_many([text, "hello"])[0].category == meaning_screen.read(text).category
    )


def test_a_head_trained_on_other_examples_is_not_used(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / "examples.yaml"
    shutil.copy(meaning.EXAMPLES_FILE, changed)
    with changed.open("a", encoding="utf-8") as file:
        file.write('    - "a new example nobody trained on"\n')
    monkeypatch.setattr(meaning, "EXAMPLES_FILE", changed)
    with pytest.raises(HeadStale, match="make safety-model"):
        MeaningScreen.load(model_dir)


def test_make_safety_model_rebuilds_the_head(model_dir: Path) -> None:
    """The head, its thresholds and the examples' vectors are what the training
    script makes from examples.yaml: nobody edited them by hand, and a change to
    the examples without retraining fails (see also the HeadStale test). Bit for bit
    with the library versions it was built with; a newer numpy, scipy or
    scikit-learn (a fresh install takes the newest) moves where the solver stops by
    up to about 0.002, so the numbers are compared to within what such a release
    changes, and everything else exactly."""
    pytest.importorskip("sklearn", reason="training needs scikit-learn (pip install -e '.[dev]')")
    import io
    import json

    import numpy as np

    from bot.safety.model import train

    kept = json.loads(meaning.HEAD_FILE.read_text())
    # The search over regularisations is not run again (a minute and a half): the
    # strength the head records must be one it searches, and everything is then
    # rebuilt from it, the held-out thresholds included.
    assert kept["regularisation_C"] in train.STRENGTHS
    content, vectors = train.train(progress=lambda line: None,
                                   strengths=(kept["regularisation_C"],))  # fmt: skip
    rebuilt = json.loads(train._dump(content))
    numbers = ("bias", "weights", "threshold", "weak_threshold", "held_out")
    assert {k: v for k, v in rebuilt.items() if k not in numbers} == {
        k: v for k, v in kept.items() if k not in numbers
    }
    for key in ("bias", "weights"):  # the solver stops a hair apart on another release
        assert np.allclose(rebuilt[key], kept[key], atol=1e-2), key
    for key in ("threshold", "weak_threshold"):
        assert abs(rebuilt[key] - kept[key]) <= 0.01, key
    for key, value in kept["held_out"].items():
        assert rebuilt["held_out"][key] == pytest.approx(value, abs=0.01), key
    fresh, stored = np.load(io.BytesIO(vectors)), np.load(meaning.VECTORS_FILE)
    # Stored as float16: a last-bit difference in a library's float32 sum may round
    # a value to the next float16 either way, so each may differ by one float16 step
    # (and, among the tiniest, subnormal values, by a few 1e-7: nothing to a cosine).
    assert fresh.shape == stored.shape
    step = np.spacing(np.abs(stored)).astype(np.float32) + 2.5e-7
    assert np.all(np.abs(fresh.astype(np.float32) - stored.astype(np.float32)) <= step)
