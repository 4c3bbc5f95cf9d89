"""The small phrase language of rules.yaml, compiled to regular expressions.

A clinical safety officer writes phrases in plain English; a few marks add
choice and slack:

    want to die                 the words in order ("wanted to die" too: words
                                are compared by their stem)
    (want | wish) to die        one of several choices
    really?                     a word, or a (choice), that may be left out
    (end it all | )             an empty choice also makes it optional
    @medication                 any phrase listed under groups: medication
    "dying"                     this exact word, not its stem (so "die" does
                                not match)
    ...                         up to five other words in between, within
                                the same clause
    *                           any one word
    #                           any number written in digits ("30")
    $                           the clause ends here (full stop, comma or end
                                of the message)
    ^                           the clause starts here

Messages are matched as a line of tokens, each rendered as "stem=surface " and
the line starting with a space, e.g. " want=wanted to=to die=die ". A compiled
phrase consumes whole tokens, so it can never match inside a word. Every `...`
becomes a capturing group, so the screener can see which words filled the gap
(a "not" there is a denial, a "not" that is part of the phrase is not).

Each compiled phrase also reports the stems it *needs*: a set such that no
message without at least one of them can match (None when no such set can be
told, e.g. a phrase made only of gaps). The screener skips a rule whose needs
are absent, which keeps a screen well under a millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

GAP_WORDS = 5

_WORD_TOKEN = r"[^ ,.][^ ]* "
_STEM = "{stem}=[^ ]* "
_SURFACE = "[^ =]*={surface} "
_NUMBER = "[^ ]*=[0-9]+ "
_CLAUSE_END = r"(?=[.,]=[.,] |$)"
_CLAUSE_START = r"(?:(?<=\A )|(?<=[.,]=[.,] ))"
_LEXEME = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) | (?P<bar>\|) | (?P<optional>\?)
      | (?P<gap>\.\.\.) | (?P<any>\*) | (?P<number>\#) | (?P<end>\$) | (?P<start>\^)
      | @(?P<group>[a-z_][a-z0-9_]*)
      | "(?P<surface>[^"\s]+)"
      | (?P<word>[a-z0-9']+)
    )""",
    re.VERBOSE,
)


Needs = frozenset[str] | None
Compiled = tuple[str, Needs]

# Words in almost every message: a poor choice for what a phrase needs.
_COMMON = frozenset(
    [
        "i",
        "me",
        "my",
        "to",
        "the",
        "a",
        "an",
        "and",
        "is",
        "be",
        "it",
        "of",
        "in",
        "on",
        "at",
        "not",
        "do",
        "have",
        "am",
        "you",
        "he",
        "she",
        "they",
        "that",
        "this",
        "for",
        "with",
        "so",
        "but",
        "was",
        "are",
        "will",
        "would",
        "can",
        "could",
        "just",
        "get",
        "go",
        "want",
        "if",
        "when",
        "what",
        "there",
        "here",
        "out",
        "over",
        "like",
        "all",
        "some",
        "no",
        "never",
        "one",
        "up",
        "down",
        "now",
        "then",
        "about",
        "as",
        "by",
        "from",
        "or",
        "off",
        "realli",
        "veri",
    ]
)


def _union(needs: list[Needs]) -> Needs:
    if any(n is None for n in needs):
        return None
    return frozenset().union(*needs)  # type: ignore[arg-type]


def _pick(needs: list[Needs]) -> Needs:
    """The most selective of the needs of a sequence's parts (all are required)."""
    known = [n for n in needs if n]
    if not known:
        return None

    def score(n: frozenset[str]) -> tuple[int, int, int]:
        return (sum(w in _COMMON for w in n), len(n), -min(len(w) for w in n))

    return min(known, key=score)


class PatternError(ValueError):
    """A phrase in rules.yaml that cannot be read."""


@dataclass
class Vocabulary:
    """Every word that a compiled phrase compares against."""

    surfaces: set[str] = field(default_factory=set)
    stems: set[str] = field(default_factory=set)


def _lex(source: str) -> Iterator[tuple[str, str]]:
    pos = 0
    source = source.strip()
    while pos < len(source):
        m = _LEXEME.match(source, pos)
        if not m or m.end() == pos:
            raise PatternError(f"cannot read {source[pos:]!r} in phrase {source!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        yield kind, m.group(kind)
        while pos < len(source) and source[pos].isspace():
            pos += 1


class PhraseCompiler:
    """Compiles phrases to regex source. `words` normalises a run of plain
    words exactly as messages are normalised; `stem` stems one word."""

    def __init__(
        self,
        groups: Mapping[str, list[str]],
        words: Callable[[str], list[str]],
        stem: Callable[[str], str],
    ) -> None:
        self._group_sources = groups
        self._words = words
        self._stem = stem
        self._group_regex: dict[str, Compiled] = {}
        self._compiling: list[str] = []
        self.vocabulary = Vocabulary()

    def compile(self, source: str) -> Compiled:
        """Regex source for one phrase, and the stems it needs. The match
        starts with the space before its first token and ends with the space
        after its last."""
        lexemes = list(_lex(source))
        if not lexemes:
            raise PatternError("empty phrase")
        parser = _Parser(lexemes, source, self)
        body, needs = parser.alternatives()
        if parser.pos != len(lexemes):
            raise PatternError(f"unexpected {lexemes[parser.pos][1]!r} in phrase {source!r}")
        return " " + body, needs

    def compile_any(self, sources: list[str]) -> Compiled:
        """One regex for a list of phrases (any of them)."""
        compiled = [self.compile(s) for s in sources]
        return "|".join(f"(?:{r})" for r, _ in compiled), _union([n for _, n in compiled])

    def group(self, name: str) -> Compiled:
        if name in self._group_regex:
            return self._group_regex[name]
        if name not in self._group_sources:
            raise PatternError(f"unknown group @{name}")
        if name in self._compiling:
            raise PatternError(f"group @{name} refers to itself")
        self._compiling.append(name)
        try:
            parts = []
            for source in self._group_sources[name]:
                lexemes = list(_lex(source))
                parser = _Parser(lexemes, source, self)
                parts.append(parser.alternatives())
                if parser.pos != len(lexemes):
                    raise PatternError(f"unexpected {lexemes[parser.pos][1]!r} in @{name}")
        finally:
            self._compiling.pop()
        compiled = "(?:" + "|".join(r for r, _ in parts) + ")", _union([n for _, n in parts])
        self._group_regex[name] = compiled
        return compiled

    def words(self, run: list[str]) -> Compiled:
        try:
            words = self._words(" ".join(run))
        except ValueError as exc:
            raise PatternError(str(exc)) from None
        out = []
        needs: list[Needs] = []
        for word in words:
            stem = self._stem(word)
            self.vocabulary.surfaces.add(word)
            self.vocabulary.stems.add(stem)
            out.append(_STEM.format(stem=re.escape(stem)))
            needs.append(frozenset({stem}))
        return "".join(out), _pick(needs)

    def surface(self, word: str) -> Compiled:
        stem = self._stem(word)
        self.vocabulary.surfaces.add(word)
        self.vocabulary.stems.add(stem)
        return _SURFACE.format(surface=re.escape(word)), frozenset({stem})


class _Parser:
    def __init__(self, lexemes: list[tuple[str, str]], source: str, compiler: PhraseCompiler):
        self.lexemes = lexemes
        self.pos = 0
        self.source = source
        self.compiler = compiler

    def peek(self) -> str | None:
        return self.lexemes[self.pos][0] if self.pos < len(self.lexemes) else None

    def alternatives(self) -> Compiled:
        options = [self.sequence()]
        while self.peek() == "bar":
            self.pos += 1
            options.append(self.sequence())
        if len(options) == 1:
            return options[0]
        return "(?:" + "|".join(r for r, _ in options) + ")", _union([n for _, n in options])

    def sequence(self) -> Compiled:
        out: list[Compiled] = []
        run: list[str] = []  # consecutive plain words, normalised together
        while self.peek() not in (None, "close", "bar"):
            kind, text = self.lexemes[self.pos]
            optional_next = (
                self.pos + 1 < len(self.lexemes) and self.lexemes[self.pos + 1][0] == "optional"
            )
            if kind == "word" and not optional_next:
                run.append(text)
                self.pos += 1
                continue
            if run:
                out.append(self.compiler.words(run))
                run = []
            out.append(self.item())
        if run:
            out.append(self.compiler.words(run))
        # An empty sequence (as in "(a | )") matches without any word.
        needs = _pick([n for _, n in out]) if out else None
        return "".join(r for r, _ in out), needs

    def item(self) -> Compiled:
        atom, needs = self.atom()
        if self.peek() == "optional":
            self.pos += 1
            return f"(?:{atom})?", None
        return atom, needs

    def atom(self) -> Compiled:
        kind, text = self.lexemes[self.pos]
        self.pos += 1
        if kind == "open":
            inner, needs = self.alternatives()
            if self.peek() != "close":
                raise PatternError(f"missing ')' in phrase {self.source!r}")
            self.pos += 1
            return f"(?:{inner})", needs
        if kind == "word":
            return self.compiler.words([text])
        if kind == "surface":
            return self.compiler.surface(text.lower())
        if kind == "group":
            return self.compiler.group(text)
        if kind == "gap":
            return f"((?:{_WORD_TOKEN}){{0,{GAP_WORDS}}})", None
        if kind == "any":
            return _WORD_TOKEN, None
        if kind == "number":
            return _NUMBER, None
        if kind == "end":
            return _CLAUSE_END, None
        if kind == "start":
            return _CLAUSE_START, None
        raise PatternError(f"unexpected {text!r} in phrase {self.source!r}")
