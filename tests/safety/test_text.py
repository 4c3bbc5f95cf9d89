"""Normalisation: the ways people type the same words come out the same."""

from __future__ import annotations

import pytest

from bot.safety import load_rules
from bot.safety.text import Normaliser, prepare_text


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return load_rules().normaliser


def words(normaliser: Normaliser, text: str) -> list[str]:
    return [t.surface for t in normaliser.prepare(text).tokens]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("I'm", ["i", "am"]),
        ("im", ["i", "am"]),
        ("I\u2019m", ["i", "am"]),  # curly apostrophe
        ("dont", ["do", "not"]),
        ("can't", ["can", "not"]),
        ("shouldn't", ["should", "not"]),
        ("wanna", ["want", "to"]),
        ("want 2", ["want", "to"]),
        ("kms", ["kill", "myself"]),
        ("kys", ["kill", "yourself"]),
        ("unalive myself", ["kill", "myself"]),
        ("sewer slide", ["suicide"]),
        ("sewerslide", ["suicide"]),
        ("od'd", ["overdosed"]),
        ("my self", ["myself"]),
        ("my self harm", ["my", "self", "harm"]),
        ("self-harm", ["self", "harm"]),
        ("selfharm", ["self", "harm"]),
        ("soooo", ["so"]),
        ("dieeee", ["die"]),
        ("myselff", ["myself"]),
        ("d1e", ["die"]),
        ("cuttin", ["cutting"]),
        ("sucidal", ["suicidal"]),
        ("suicidle", ["suicide"]),  # one edit from "suicide"; same stem either way
        ("suicde", ["suicide"]),
        ("paracetmol", ["paracetamol"]),
        ("s*icide", ["suicide"]),
        ("husband's", ["husband"]),
        ("ill kill him", ["i", "will", "kill", "him"]),
        ("I'm ill", ["i", "am", "ill"]),
    ],
)
def test_spellings_are_read_as_meant(normaliser: Normaliser, written: str, read: list[str]) -> None:
    assert words(normaliser, written) == read


@pytest.mark.parametrize(
    "word",
    # Real words one or two edits from a word the rules care about. Each was
    # "corrected" into the word on the right before real English words were
    # protected: stranger/strangled, overjoyed/overdosed, rapped/raped...
    [
        "stranger",
        "strangely",
        "estranged",
        "overjoyed",
        "overcome",
        "overused",
        "overdone",
        "overdue",
        "conscious",
        "subconscious",
        "rapped",
        "rapping",
        "smoother",
        "wee",
        "hopping",
        "thin",
        "loose",
        "career",
        "raisin",
        "within",
        "stranded",
        "seizes",
        "suicides",
    ],
)
def test_real_words_are_not_corrected(normaliser: Normaliser, word: str) -> None:
    assert words(normaliser, word) == [word]


def test_words_are_stemmed(normaliser: Normaliser) -> None:
    stems = {t.stem for t in normaliser.prepare("killing killed kills kill").tokens}
    assert stems == {"kill"}
    assert {t.stem for t in normaliser.prepare("suicidal suicide").tokens} == {"suicid"}


def test_punctuation_becomes_clause_and_sentence_boundaries(normaliser: Normaliser) -> None:
    assert words(normaliser, "no, fine. ok!! - yes") == ["no", ",", "fine", ".", "ok", ".", "yes"]
    assert words(normaliser, "...hello") == ["hello"]


def test_tokens_point_back_into_what_was_written(normaliser: Normaliser) -> None:
    prepared = normaliser.prepare("Honestly I DON'T want to be here")
    tokens = prepared.tokens
    dont = next(i for i, t in enumerate(tokens) if t.surface == "not")
    assert prepared.quote(dont, dont) == "don't"
    assert prepared.quote(0, len(tokens) - 1) == "honestly i don't want to be here"


def test_prepare_text_folds_unicode() -> None:
    assert prepare_text("ＫＩＬＬ\u200b me") == "kill me"
    assert prepare_text("I\u2019ve") == "i've"
