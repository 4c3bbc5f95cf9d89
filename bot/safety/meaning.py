"""The meaning-based crisis screen, beside the rules.

People in crisis rarely use the words a rule looks for ("I've sorted my
affairs", "gave the dog to next door"). This screen reads a message for what it
means: each message, and each sentence of a longer one, becomes a sentence
embedding (bot/safety/embedding.py, all-MiniLM-L6-v2), and a logistic-regression
head trained on the written examples in bot/safety/model/examples.yaml gives the
chance that it belongs to each crisis category or to "ordinary".

- crisis when the chance of any crisis category (1 - P(ordinary)) reaches
  `threshold`: the category is the likeliest crisis category;
- a weaker sign (the direct question is asked) when it reaches `weak_threshold`;
- but neither when the written example nearest in meaning is an ordinary one
  ("I cut my finger chopping onions" is nearer "cut my thumb on a tin, it's
  fine" than any crisis example): the head draws one straight line through
  meaning, and the nearest example catches what falls on its wrong side.

The reason names the written example nearest in meaning, so a clinical safety
officer can still read why ("close in meaning to: “…”").

The head, its thresholds and the examples' vectors are files in
bot/safety/model/, built by `make safety-model` (bot/safety/model/train.py)
from the examples, bit for bit. The embedding model itself is fetched at
install (bot/safety/model_files.py); without it `MeaningScreen.load` raises
`ModelUnavailable` and the bot runs on the rules alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from bot.safety.embedding import Encoder, ModelUnavailable

MODEL_DIR = Path(__file__).with_name("model")
EXAMPLES_FILE = MODEL_DIR / "examples.yaml"
HEAD_FILE = MODEL_DIR / "head.json"
VECTORS_FILE = MODEL_DIR / "vectors.npy"
ORDINARY = "ordinary"

#: A sentence this short ("ok.", "yes") says too little to be read alone: it is
#: read only as part of the whole message.
MIN_SENTENCE_WORDS = 3
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Meaning:
    """What the meaning screen read in one message."""

    #: The crisis category, when the chance reached the threshold.
    category: str | None
    #: A weaker sign: the chance reached `weak_threshold` but not `threshold`.
    weak: bool
    #: The chance of any crisis, highest over the message and its sentences.
    chance: float
    #: The written example nearest in meaning, of `category` (or of the likeliest
    #: crisis category, for a weak sign; or the ordinary one that was nearer).
    nearest: str | None
    #: The head saw a crisis, but the nearest example was an ordinary one.
    nearer_ordinary: bool = False

    @property
    def reason(self) -> str:
        """One line for the link worker and the clinical safety officer."""
        what = self.category or "a weaker sign"
        return (
            f"meaning.{what}: close in meaning to: “{self.nearest}” (model score {self.chance:.2f})"
        )


def examples_digest() -> str:
    return hashlib.sha256(EXAMPLES_FILE.read_bytes()).hexdigest()


def load_examples() -> dict[str, list[str]]:
    """The written examples, by category (ordinary last)."""
    data = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))["examples"]
    return {category: [str(text) for text in texts] for category, texts in data.items()}


def sentences(text: str) -> list[str]:
    """The whole message first, then each sentence long enough to read alone (when
    there are several): a crisis buried in a long message is read on its own."""
    whole = text.strip()
    parts = [p.strip() for p in _SENTENCES.split(whole) if p.strip()]
    if len(parts) < 2:
        return [whole]
    return [whole] + [p for p in parts if len(p.split()) >= MIN_SENTENCE_WORDS]


class HeadStale(ModelUnavailable):
    """head.json was trained on other examples than examples.yaml holds."""


class MeaningScreen:
    """The encoder and the trained head. Safe to share between threads; `read`
    is CPU-bound (about 15 ms a sentence), so run it off the event loop."""

    def __init__(
        self,
        encoder: Encoder,
        classes: list[str],
        weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        threshold: float,
        weak_threshold: float,
        nearest: dict[str, tuple[list[str], npt.NDArray[np.float32]]],
    ) -> None:
        self.encoder = encoder
        self.classes = classes
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.weak_threshold = weak_threshold
        self._ordinary = classes.index(ORDINARY)
        self._nearest = nearest

    @classmethod
    def load(
        cls, folder: Path | str | None = None, *, runtime: str = "onnxruntime"
    ) -> MeaningScreen:
        """Load the embedding model from `folder` (default: its usual place, see
        bot/safety/model_files.py) and the head from bot/safety/model/. Raises
        `ModelUnavailable` saying what is missing."""
        encoder = Encoder.load(folder, runtime=runtime)  # type: ignore[arg-type]
        try:
            head = json.loads(HEAD_FILE.read_text(encoding="utf-8"))
            vectors = np.load(VECTORS_FILE).astype(np.float32)
        except OSError as exc:
            raise ModelUnavailable(
                f"the trained head is missing ({exc}): in a checkout, run make safety-model"
            ) from exc
        if head["examples_sha256"] != examples_digest():
            raise HeadStale(
                "bot/safety/model/examples.yaml changed since the head was trained; "
                "run make safety-model"
            )
        examples = load_examples()
        nearest, row = {}, 0
        for category in head["classes"]:
            texts = examples[category]
            nearest[category] = (texts, vectors[row : row + len(texts)])
            row += len(texts)
        return cls(
            encoder,
            list(head["classes"]),
            np.array(head["weights"], dtype=np.float32),
            np.array(head["bias"], dtype=np.float32),
            float(head["threshold"]),
            float(head["weak_threshold"]),
            nearest,
        )

    def chances(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """P(class) for each vector: the softmax of the head."""
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def read(self, text: str) -> Meaning:
        """Read one message (deterministic; no I/O)."""
        return self.read_many([text])[0]

    def read_many(self, texts: list[str]) -> list[Meaning]:
        """Read several messages in one pass (batched: faster for many)."""
        parts = [sentences(text) for text in texts]
        flat = [p for ps in parts for p in ps if p]
        vectors = self.encoder.encode(flat) if flat else np.zeros((0, 1), np.float32)
        chances = self.chances(vectors) if flat else vectors
        out, row = [], 0
        for ps in parts:
            n = sum(1 for p in ps if p)
            out.append(self._judge(vectors[row : row + n], chances[row : row + n]))
            row += n
        return out

    def _judge(self, vectors: npt.NDArray[np.float32], chances: npt.NDArray[np.float32]) -> Meaning:
        if len(vectors) == 0:
            return Meaning(None, False, 0.0, None)
        crisis = 1.0 - chances[:, self._ordinary]
        worst = int(np.argmax(crisis))
        chance = float(crisis[worst])
        row = chances[worst].copy()
        row[self._ordinary] = -1.0
        category = self.classes[int(np.argmax(row))]
        texts, examples = self._nearest[category]
        nearest = texts[int(np.argmax(examples @ vectors[worst]))]
        if chance < self.weak_threshold:
            return Meaning(None, False, chance, nearest)
        ordinary = self._nearest_ordinary(vectors[worst])
        if ordinary is not None:
            return Meaning(None, False, chance, ordinary, nearer_ordinary=True)
        if chance >= self.threshold:
            return Meaning(category, False, chance, nearest)
        return Meaning(None, True, chance, nearest)

    def _nearest_ordinary(self, vector: npt.NDArray[np.float32]) -> str | None:
        """The ordinary example nearest `vector`, when it is nearer than every
        crisis example."""
        best_crisis = max(
            float(np.max(examples @ vector))
            for category, (_, examples) in self._nearest.items()
            if category != ORDINARY
        )
        texts, examples = self._nearest[ORDINARY]
        similarities = examples @ vector
        best = int(np.argmax(similarities))
        return texts[best] if float(similarities[best]) > best_crisis else None
