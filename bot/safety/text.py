"""Turns a message into the words the rules are matched against.

People write to a bot in lower case, without punctuation or apostrophes, with
repeated letters ("sooo"), text-speak ("kms", "wanna") and misspellings
("suicidle"). Every message goes through the same steps, and so does every
phrase in rules.yaml, so a rule written in plain English ("don't want to live")
matches the ways people really write it ("dont wanna live", "i do not want to
live"):

1. Unicode is folded (NFKC), letters lower-cased, curly apostrophes made
   straight, zero-width characters dropped.
2. The text is cut into words and boundaries: sentence ends (. ! ? ; new line)
   and clause breaks (, : brackets, a dash between spaces).
3. Each word is cleaned: apostrophes dropped ("'s" and "n't" handled), digits
   used as letters read as letters ("d1e"), letters repeated three or more times
   collapsed ("dieee"), a dropped final g restored ("cuttin"), a doubled letter
   typed by mistake removed ("myselff"), and a word the rules do not know that
   is one or two edits from a word the rules care about ("sucidal") corrected
   with rapidfuzz. These last three never touch a real English word (the
   pyspellchecker word list): without that check "stranger" would be read as
   "strangled", "overjoyed" as "overdosed" and "rapped" as "raped".
4. The spelling table from rules.yaml replaces words and short phrases
   ("kms" -> "kill myself", "dont" -> "do not", "my self" -> "myself").
5. Each word is stemmed (Snowball English, via PyStemmer) so "kill", "killing"
   and "killed" match one rule.

Every word keeps where it came from in the prepared text, so a reason can quote
what the person wrote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

SENTENCE = "."
CLAUSE = ","
BOUNDARIES = frozenset({SENTENCE, CLAUSE})

_APOSTROPHES = str.maketrans(
    {"’": "'", "‘": "'", "‛": "'", "`": "'", "´": "'", "ʼ": "'", "＇": "'"}
)
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff]")
_PIECES = re.compile(
    r"(?P<word>[a-z0-9*]+(?:'[a-z0-9]+)*)"
    r"|(?P<sentence>[.!?;\n]+)"
    r"|(?P<clause>[,:()\[\]]|\s[-–—]+\s)"
)
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_TRIPLE = re.compile(r"(.)\1\1+")
_DOUBLE = re.compile(r"(.)\1+")
_PLAIN_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Token:
    """One word (or boundary) of a message.

    `surface` is the word after cleaning and the spelling table, `stem` its
    Snowball stem; for boundaries both are "." (sentence) or "," (clause).
    `start`/`end` locate it in the prepared text, for quoting.
    """

    surface: str
    stem: str
    start: int
    end: int

    @property
    def is_boundary(self) -> bool:
        return self.stem in BOUNDARIES


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message cut into tokens, with the text the tokens point into."""

    text: str
    tokens: tuple[Token, ...]

    def quote(self, first: int, last: int) -> str:
        """What the person wrote from token `first` to token `last` (inclusive)."""
        return self.text[self.tokens[first].start : self.tokens[last].end]


@cache
def english_words() -> frozenset[str]:
    """Real English words (pyspellchecker's list, ~160,000 with inflections),
    loaded once. Used only to leave real words alone, never to correct."""
    from spellchecker import SpellChecker

    return frozenset(SpellChecker(language="en", distance=1).word_frequency.keys())


def prepare_text(text: str) -> str:
    """Fold the ways the same letters can be typed into one."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _INVISIBLE.sub("", text).lower()


class Normaliser:
    """Cleans words and applies the spelling table. Built once from rules.yaml.

    Call `freeze(vocabulary)` with every word the rules use before normalising
    messages: a word in the vocabulary is never "corrected" into another one.
    """

    def __init__(
        self,
        spelling: Mapping[str, str],
        *,
        fuzzy_targets: Iterable[str] = (),
        fuzzy_protect: Iterable[str] = (),
        fuzzy_min_length: int = 5,
        dictionary: frozenset[str] = frozenset(),
    ) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for key, value in spelling.items():
            words = tuple(prepare_text(key).split())
            self._phrases[words] = tuple(prepare_text(value).split())
        self._keys = frozenset(k[0] for k in self._phrases if len(k) == 1)
        self._key_words = frozenset(w for k in self._phrases for w in k)
        # longest key starting with each word, so most words need one look-up
        self._longest_from: dict[str, int] = {}
        for k in self._phrases:
            self._longest_from[k[0]] = max(self._longest_from.get(k[0], 0), len(k))
        self._cleaned: dict[str, tuple[str, ...]] = {}
        self._stems: dict[str, str] = {}
        self._fuzzy_targets = tuple(sorted({prepare_text(t) for t in fuzzy_targets}))
        self._protect = frozenset(prepare_text(w) for w in fuzzy_protect)
        self._english = dictionary
        self._fuzzy_min_length = fuzzy_min_length
        self._vocab_surfaces: frozenset[str] = frozenset()
        self._vocab_stems: frozenset[str] = frozenset()

    # --- vocabulary -----------------------------------------------------------

    def freeze(self, vocabulary: Iterable[str]) -> None:
        """Words the rules use; together with the spelling table they are 'known'."""
        words = set(vocabulary) | self._key_words | set(self._fuzzy_targets) | self._protect
        for value in self._phrases.values():
            words.update(value)
        self._vocab_surfaces = frozenset(words)
        self._vocab_stems = frozenset(self.stem(w) for w in words)
        self._cleaned.clear()
        self._stems.clear()

    def stem(self, word: str) -> str:
        return str(self._stemmer.stemWord(word))

    def _known(self, word: str) -> bool:
        return (
            word in self._keys
            or word in self._vocab_surfaces
            or self.stem(word) in self._vocab_stems
        )

    # --- messages -------------------------------------------------------------

    def prepare(self, text: str) -> Prepared:
        """Cut a message into tokens (see the module docstring for the steps)."""
        prepared = prepare_text(text)
        pieces: list[tuple[str, int, int]] = []
        for m in _PIECES.finditer(prepared):
            if m.lastgroup == "word":
                for word in self._clean_cached(m.group()):
                    pieces.append((word, m.start(), m.end()))
            else:
                mark = SENTENCE if m.lastgroup == "sentence" else CLAUSE
                if pieces and pieces[-1][0] in BOUNDARIES:
                    if mark == SENTENCE:  # a sentence end outranks a clause break
                        pieces[-1] = (SENTENCE, pieces[-1][1], m.end())
                    continue
                if pieces:  # a boundary before any word carries no meaning
                    pieces.append((mark, m.start(), m.end()))
        stems = self._stems
        if len(stems) >= 50_000:
            stems.clear()
        tokens = []
        for word, start, end in self._apply_phrases(pieces):
            stem = stems.get(word)
            if stem is None:
                stem = stems[word] = word if word in BOUNDARIES else self.stem(word)
            tokens.append(Token(word, stem, start, end))
        return Prepared(prepared, tuple(tokens))

    def _clean_cached(self, raw: str) -> tuple[str, ...]:
        # Cleaning depends only on the word and the frozen rules; people reuse
        # words, so a bounded cache keeps a screen fast.
        cleaned = self._cleaned.get(raw)
        if cleaned is None:
            if len(self._cleaned) >= 50_000:
                self._cleaned.clear()
            cleaned = self._cleaned[raw] = tuple(self._clean(raw))
        return cleaned

    def _clean(self, raw: str) -> list[str]:
        if raw in self._keys:
            return [raw]
        word = raw
        if "'" in word:
            if word.endswith("n't") and len(word) > 3:
                return [*self._clean(word[:-3]), "not"]
            if word.endswith("'s"):
                word = word[:-2]  # possessive or "is"; common "x's" forms are in the table
            word = word.replace("'", "")
            if word in self._keys or not word:
                return [word] if word else []
        if "*" in word:  # self-censored: "s*icide"
            word = word.replace("*", "") or "*"
        if not word.isalpha() and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            leet = word.translate(_LEET)
            if leet in self._keys or self._known(leet):
                word = leet
        if _TRIPLE.search(word):
            twice = _TRIPLE.sub(r"\1\1", word)
            once = _DOUBLE.sub(r"\1", word)
            if twice in self._keys or self._known(twice):
                word = twice
            elif once in self._keys or self._known(once):
                word = once
            else:
                word = twice
        if word in self._keys or self._known(word):
            return [word]
        if word in self._protect or word in self._english:
            return [word]
        if word.endswith("in") and self._known(word + "g"):
            return [word + "g"]
        if _DOUBLE.search(word):  # a doubled letter typed by mistake: "myselff"
            once = _DOUBLE.sub(r"\1", word)
            if self._known(once):
                return [once]
        return [self._correct(word)]

    def _correct(self, word: str) -> str:
        """A misspelling of a word the rules care about, or the word unchanged."""
        if (
            len(word) < self._fuzzy_min_length
            or word in self._protect
            or not word.isalpha()
            or not self._fuzzy_targets
        ):
            return word
        cutoff = 1 if len(word) < 8 else 2
        best = process.extractOne(
            word, self._fuzzy_targets, scorer=DamerauLevenshtein.distance, score_cutoff=cutoff
        )
        return str(best[0]) if best else word

    def _apply_phrases(self, pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        i = 0
        while i < len(pieces):
            longest = self._longest_from.get(pieces[i][0], 0)
            if not longest:
                out.append(pieces[i])
                i += 1
                continue
            for n in range(min(longest, len(pieces) - i), 0, -1):
                key = tuple(p[0] for p in pieces[i : i + n])
                replacement = self._phrases.get(key)
                if replacement is not None:
                    start, end = pieces[i][1], pieces[i + n - 1][2]
                    out.extend((w, start, end) for w in replacement)
                    i += n
                    break
            else:
                out.append(pieces[i])
                i += 1
        return out

    # --- rule phrases ---------------------------------------------------------

    def phrase_words(self, phrase: str) -> list[str]:
        """The words of a phrase written in rules.yaml, cleaned like a message
        (apostrophes and the spelling table) but never fuzzily corrected."""
        pieces: list[tuple[str, int, int]] = []
        for raw in prepare_text(phrase).split():
            if raw in self._keys:
                pieces.append((raw, 0, 0))
                continue
            word = raw
            if word.endswith("n't") and len(word) > 3:
                pieces.append((word[:-3].replace("'", ""), 0, 0))
                pieces.append(("not", 0, 0))
                continue
            if word.endswith("'s"):
                word = word[:-2]
            word = word.replace("'", "")
            if not _PLAIN_WORD.fullmatch(word):
                raise ValueError(f"not a plain word: {raw!r}")
            pieces.append((word, 0, 0))
        return [w for w, _, _ in self._apply_phrases(pieces)]
