"""Matching a person's own words against what activities say about themselves.

Both sides are cut into words and stemmed with the Snowball English stemmer
(PyStemmer, as the safety screen uses), so "walks", "walking" and "walk" meet. Activities are indexed by their words and
their two-word phrases ("meet peopl"); a person's words are looked up directly
and through the synonym groups in synonyms.yaml, which a link worker can read
and extend ("skint" finds debt advice).

Common words ("the", "help", "people"), everyday verbs ("used", "can't") and the
people in someone's life ("wife") say nothing on their own about what someone
wants, and are left out: a reason never quotes one. Matters people may find hard
to read back (a loss, low mood, money worries) are spoken of with care: the
synonym group's `told` ("because you told me about losing your wife").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import Stemmer
import yaml

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")

#: Words that carry no wish of their own: English glue, and what people say
#: around their wishes ("I'd really like to get out more"). "work" is here
#: because both sides use it for everything ("we work with...", "I work days");
#: wanting a job is the need area "work", and "job" or "employment" still match.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "id",
        "if",
        "im",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "ive",
        "just",
        "like",
        "ll",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "really",
        "same",
        "she",
        "should",
        "so",
        "some",
        "something",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "want",
        "wanted",
        "wants",
        "need",
        "needs",
        "needed",
        "help",
        "helps",
        "helped",
        "feel",
        "feeling",
        "felt",
        "bit",
        "lot",
        "lots",
        "thing",
        "things",
        "people",
        "person",
        "someone",
        "anything",
        "everything",
        "nothing",
        "maybe",
        "sometimes",
        "always",
        "never",
        "often",
        "still",
        "even",
        "ever",
        "go",
        "going",
        "goes",
        "went",
        "make",
        "makes",
        "know",
        "think",
        "way",
        "try",
        "trying",
        "new",
        "good",
        "great",
        "nice",
        "well",
        "back",
        "around",
        "near",
        "local",
        "area",
        "time",
        "times",
        "day",
        "days",
        "week",
        "weeks",
        "weekly",
        "morning",
        "mornings",
        "afternoon",
        "afternoons",
        "evening",
        "evenings",
        "night",
        "nights",
        "weekend",
        "weekends",
        "today",
        "tomorrow",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "work",
        "works",
        "working",
        "worked",
        "keep",
        "keeps",
        "kept",
    ]
)


def _words(text: str) -> list[str]:
    return text.split()


#: Everyday verbs and fillers people write around what matters ("I used to love
#: walking", "I can't get out"): never a reason on their own.
EVERYDAY = frozenset(
    _words(
        """
    use used uses using usually cant cannot couldnt dont doesnt didnt wont wouldnt
    isnt wasnt arent werent havent hasnt hadnt shouldnt love loved loves loving enjoy
    enjoyed enjoys look looks looked looking find finds found finding come comes came
    coming see sees seen saw seeing say says said tell tells told take takes took
    taking taken give gives gave given put puts let lets seem seems seemed left leave
    start started starting stay stayed staying live lives lived living mean means
    meant bad big little small year years month months last first next old able
    unable since ago yet already though although anymore every many enough sure okay
    ok yes yeah quite pretty kind sort stuff place lately recently anyone everyone
    nobody somebody thanks thank please hello hi gone happen happened happens
    tried tries lose losing lost die died dying dead passed away bit whole long
    hard difficult easy better worse best worst able stuck
    active activity activities
    """
    )
)

#: The people in someone's life: a reason never quotes "wife" or "mum" alone;
#: "lost my wife" is a phrase of the synonym group about losing someone.
RELATIONS = frozenset(
    _words(
        """
    wife husband partner mum mom mother dad father son daughter child children kids
    brother sister grandson granddaughter grandchildren nan gran grandma grandad
    boyfriend girlfriend fiance family friend mate
    """
    )
)

#: A person's single words that never become a reason (nor are looked for).
NOT_A_REASON = STOPWORDS | EVERYDAY | RELATIONS

_stemmer = Stemmer.Stemmer("english")


@cache
def stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokens(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped ("men's" -> "mens")."""
    return re.findall(r"[a-z0-9]+", re.sub(r"['’]", "", text.lower()))


def activity_terms(text: str) -> frozenset[str]:
    """The stems of an activity's words, and of each pair of neighbouring words
    ("meet peopl"), so two-word phrases can be found."""
    stems = [stem(word) for word in tokens(text)]
    pairs = (f"{a} {b}" for a, b in itertools.pairwise(stems))
    return frozenset([*stems, *pairs])


def phrase_key(phrase: str) -> str:
    """ "Meet people" -> "meet peopl": how a phrase is looked up in `activity_terms`."""
    return " ".join(stem(word) for word in tokens(phrase))


@dataclass(frozen=True)
class PersonWord:
    """One thing the person said, and every term that would match it.

    `terms` pairs each index key with what a match on it means: the first is
    their own word (a direct match); the rest come from a synonym group and
    carry what that group is "about", so a reason can say
    "It's about money and debt, and you said “skint”"."""

    said: str
    terms: tuple[tuple[str, str], ...]  # (phrase key, what a match is about)
    #: For a sensitive matter (a loss, low mood, money worries), how a reason
    #: speaks of it with care instead of quoting them: "losing your wife".
    told: str | None = None


@dataclass(frozen=True)
class SynonymGroup:
    about: str
    words: tuple[str, ...]
    #: Sensitive groups: how a reason speaks of it ("losing someone"), and with a
    #: person in their words ("losing your {relation}").
    told: str | None = None
    told_relation: str | None = None

    def told_of(self, said: str) -> str | None:
        if self.told_relation:
            relation = next((w for w in tokens(said) if w in RELATIONS), None)
            if relation is not None:
                return self.told_relation.format(relation=relation)
        return self.told


class Synonyms:
    def __init__(self, groups: list[SynonymGroup]) -> None:
        self.groups = groups
        #: phrase key -> the groups it belongs to
        self._groups_of: dict[str, list[SynonymGroup]] = {}
        for group in groups:
            for phrase in group.words:
                key = phrase_key(phrase)
                if key:
                    self._groups_of.setdefault(key, []).append(group)
        self._longest = max((len(key.split()) for key in self._groups_of), default=1)

    @classmethod
    def load(cls, path: Path = SYNONYMS_FILE) -> Synonyms:
        """Read synonyms.yaml, saying plainly what is wrong if it can't be used."""
        with path.open(encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        groups = []
        for number, entry in enumerate(document.get("groups") or [], start=1):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("about"), str)
                or not isinstance(entry.get("words"), list)
            ):
                raise ValueError(
                    f"{path.name}: group {number} needs 'about: ...' and 'words: [...]'"
                )
            groups.append(
                SynonymGroup(
                    entry["about"],
                    tuple(str(w) for w in entry["words"]),
                    told=entry.get("told"),
                    told_relation=entry.get("told_relation"),
                )
            )
        return cls(groups)

    def person_words(self, text: str) -> list[PersonWord]:
        """What a person said, as words and phrases to look for, in the order said.

        Phrases in a synonym group are found first ("meet people"), so their words
        are not also looked up one by one."""
        words = tokens(text)
        stems = [stem(word) for word in words]
        found: list[PersonWord] = []
        seen: set[str] = set()
        i = 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                key = " ".join(stems[i : i + size])
                if key in self._groups_of:
                    said = " ".join(words[i : i + size])
                    terms = {key: said}
                    told = None
                    for group in self._groups_of[key]:
                        told = told or group.told_of(said)
                        for phrase in group.words:
                            terms.setdefault(phrase_key(phrase), group.about)
                    if key not in seen:
                        found.append(PersonWord(said, tuple(terms.items()), told))
                        seen.add(key)
                    i += size
                    break
            else:
                word = words[i]
                if word not in NOT_A_REASON and len(word) > 2 and not word.isdigit():
                    key = stems[i]
                    if key not in seen:
                        found.append(PersonWord(word, ((key, word),)))
                        seen.add(key)
                i += 1
        return found


@cache
def default_synonyms() -> Synonyms:
    return Synonyms.load()
