"""Train the meaning screen's head from the written examples: `make safety-model`.

    python -m bot.safety.model.train [--check]

1. Every example in examples.yaml, and each sentence of a longer one, is turned
   into a vector by the embedding model (one at a time, so each vector depends
   on its text alone and the result is the same bit for bit on every run).
2. The regularisation strength is chosen from a small grid by 5-fold
   cross-validation (fixed folds), for the best recall at the false-alarm rate
   below; the thresholds come from the same held-out predictions:
   - `threshold`: the lowest at which at most TARGET_FALSE_ALARMS of the
     ordinary examples, read held out, would alarm;
   - `weak_threshold`: the same at WEAK_FALSE_ALARMS (these bring only the
     direct question, once).
3. A multinomial logistic regression (scikit-learn, deterministic solver) is
   fitted on all examples with that strength, and written with the thresholds
   to head.json; every example's vector goes to vectors.npy (float16), for the
   nearest example (the reason a link worker reads, and the ordinary example
   that vetoes a false alarm).

The ordinary examples are mostly near-misses written to look alarming ("I can't
go on the Tuesday", "cut myself a slice of cake"), so the false-alarm rate on
everyday messages is lower than on them. Nothing under tests/ is read: the
evaluation sets must stay unseen.

`--check` trains in memory and fails if the files differ from what is stored.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.safety.embedding import Encoder
from bot.safety.meaning import (
    HEAD_FILE,
    ORDINARY,
    VECTORS_FILE,
    examples_digest,
    load_examples,
    sentences,
)
from bot.safety.rules import CATEGORIES

TARGET_FALSE_ALARMS = 0.05
WEAK_FALSE_ALARMS = 0.08
STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FOLDS = 5
SEED = 20261203

Vectors = npt.NDArray[np.float32]


def _classifier(strength: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=strength, class_weight="balanced", max_iter=10_000, tol=1e-8)


def _threshold(ordinary_chances: npt.NDArray[np.float64], rate: float) -> float:
    """The lowest threshold (to 3 places) at which at most `rate` of these alarm."""
    allowed = int(np.floor(rate * len(ordinary_chances)))
    ranked = np.sort(ordinary_chances)[::-1]
    above = ranked[allowed] if allowed < len(ranked) else 0.0
    return float(np.floor(above * 1000) / 1000 + 0.001)


def _held_out(
    whole: Vectors, parts: list[Vectors], labels: npt.NDArray[np.int64], strength: float,
    ordinary: int,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """The crisis chance of each example as the screen would judge it (the most
    worrying of its sentences; 0 when an ordinary example is nearer in meaning
    than any crisis one), from a head and examples that never saw it."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(labels))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for fit, test in folds.split(whole, labels):
        head = _classifier(strength).fit(whole[fit], labels[fit])
        known, is_ordinary = whole[fit], labels[fit] == ordinary
        for i in test:
            crisis = 1.0 - head.predict_proba(parts[i])[:, ordinary]
            worst = int(np.argmax(crisis))
            similarity = known @ parts[i][worst]
            nearer_ordinary = similarity[is_ordinary].max() > similarity[~is_ordinary].max()
            out[i] = 0.0 if nearer_ordinary else crisis[worst]
    return out


def train(
    progress: Any = print, strengths: tuple[float, ...] = STRENGTHS
) -> tuple[dict[str, Any], bytes]:
    """head.json's content and vectors.npy's bytes. `strengths`: the regularisations
    tried (a check of a built head may try only the one it chose)."""
    examples = load_examples()
    classes = [c for c in CATEGORIES if c in examples] + [ORDINARY]
    texts = [t for c in classes for t in examples[c]]
    labels = np.array([classes.index(c) for c in classes for _ in examples[c]])
    ordinary = classes.index(ORDINARY)

    encoder = Encoder.load(batch_size=1)
    split = [sentences(t) for t in texts]
    progress(f"encoding {len(texts)} examples ({sum(map(len, split))} texts with sentences)")
    parts = [encoder.encode(s) for s in split]
    whole = np.stack([p[0] for p in parts])

    best: tuple[float, float, npt.NDArray[np.float64]] | None = None
    is_ordinary = labels == ordinary
    for strength in strengths:
        chances = _held_out(whole, parts, labels, strength, ordinary)
        threshold = _threshold(chances[is_ordinary], TARGET_FALSE_ALARMS)
        recall = float(np.mean(chances[~is_ordinary] >= threshold))
        progress(f"  C={strength:<5} held-out recall {recall:.3f} at threshold {threshold:.3f}")
        if best is None or recall > best[1]:
            best = (strength, recall, chances)
    assert best is not None
    strength, recall, chances = best
    threshold = _threshold(chances[is_ordinary], TARGET_FALSE_ALARMS)
    weak = min(_threshold(chances[is_ordinary], WEAK_FALSE_ALARMS), threshold)
    false_alarms = float(np.mean(chances[is_ordinary] >= threshold))
    progress(f"chose C={strength}: threshold {threshold}, weak {weak}, held-out recall "
             f"{recall:.3f}, false alarms {false_alarms:.3f}")  # fmt: skip

    head = _classifier(strength).fit(whole, labels)
    content = {
        "about": "Built by `make safety-model` (bot/safety/model/train.py); do not edit.",
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
        "examples_sha256": examples_digest(),
        "classes": classes,
        "threshold": threshold,
        "weak_threshold": weak,
        "regularisation_C": strength,
        "held_out": {
            "folds": FOLDS,
            "recall": round(recall, 4),
            "false_alarms": round(false_alarms, 4),
            "crisis_examples": int((~is_ordinary).sum()),
            "ordinary_examples": int(is_ordinary.sum()),
        },
        "bias": [float(f"{b:.6g}") for b in head.intercept_],
        "weights": [[float(f"{w:.6g}") for w in row] for row in head.coef_],
    }
    buffer = io.BytesIO()
    np.save(buffer, whole.astype(np.float16))
    return content, buffer.getvalue()


def _dump(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.safety.model.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="fail if the stored files differ")
    args = parser.parse_args(argv)
    content, vectors = train()
    if args.check:
        same = HEAD_FILE.read_text(encoding="utf-8") == _dump(content) and (
            VECTORS_FILE.read_bytes() == vectors
        )
        print(
            "head.json and vectors.npy are up to date"
            if same
            else "they differ: run make safety-model"
        )
        return 0 if same else 1
    HEAD_FILE.write_text(_dump(content), encoding="utf-8")
    VECTORS_FILE.write_bytes(vectors)
    print(f"wrote {HEAD_FILE} and {VECTORS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
