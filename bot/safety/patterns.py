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
        self._group_regex: dict[str, str] = {}
        self._compiling: list[str] = []
        self.vocabulary = Vocabulary()

    def compile(self, source: str) -> str:
        """Regex source for one phrase; the match starts with the space before
        its first token and ends with the space after its last."""
        lexemes = list(_lex(source))
        if not lexemes:
            raise PatternError("empty phrase")
        parser = _Parser(lexemes, source, self)
        body = parser.alternatives()
        if parser.pos != len(lexemes):
            raise PatternError(f"unexpected {lexemes[parser.pos][1]!r} in phrase {source!r}")
        return " " + body

    def compile_any(self, sources: list[str]) -> str:
        """One regex for a list of phrases (any of them)."""
        return "|".join(f"(?:{self.compile(s)})" for s in sources)

    def group(self, name: str) -> str:
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
        regex = "(?:" + "|".join(parts) + ")"
        self._group_regex[name] = regex
        return regex

    def words(self, run: list[str]) -> str:
        try:
            words = self._words(" ".join(run))
        except ValueError as exc:
            raise PatternError(str(exc)) from None
        out = []
        for word in words:
            stem = self._stem(word)
            self.vocabulary.surfaces.add(word)
            self.vocabulary.stems.add(stem)
            out.append(_STEM.format(stem=re.escape(stem)))
        return "".join(out)

    def surface(self, word: str) -> str:
        self.vocabulary.surfaces.add(word)
        self.vocabulary.stems.add(self._stem(word))
        return _SURFACE.format(surface=re.escape(word))


class _Parser:
    def __init__(self, lexemes: list[tuple[str, str]], source: str, compiler: PhraseCompiler):
        self.lexemes = lexemes
        self.pos = 0
        self.source = source
        self.compiler = compiler

    def peek(self) -> str | None:
        return self.lexemes[self.pos][0] if self.pos < len(self.lexemes) else None

    def alternatives(self) -> str:
        options = [self.sequence()]
        while self.peek() == "bar":
            self.pos += 1
            options.append(self.sequence())
        if len(options) == 1:
            return options[0]
        return "(?:" + "|".join(options) + ")"

    def sequence(self) -> str:
        out: list[str] = []
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
        return "".join(out)

    def item(self) -> str:
        atom = self.atom()
        if self.peek() == "optional":
            self.pos += 1
            atom = f"(?:{atom})?"
        return atom

    def atom(self) -> str:
        kind, text = self.lexemes[self.pos]
        self.pos += 1
        if kind == "open":
            inner = self.alternatives()
            if self.peek() != "close":
                raise PatternError(f"missing ')' in phrase {self.source!r}")
            self.pos += 1
            return f"(?:{inner})"
        if kind == "word":
            return self.compiler.words([text])
        if kind == "surface":
            return self.compiler.surface(text.lower())
        if kind == "group":
            return self.compiler.group(text)
        if kind == "gap":
            return f"((?:{_WORD_TOKEN}){{0,{GAP_WORDS}}})"
        if kind == "any":
            return _WORD_TOKEN
        if kind == "number":
            return _NUMBER
        if kind == "end":
            return _CLAUSE_END
        if kind == "start":
            return _CLAUSE_START
        raise PatternError(f"unexpected {text!r} in phrase {self.source!r}")
