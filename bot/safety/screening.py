"""Screens one message for crisis language.

The order of work, for every message:

1. normalise it into tokens (bot/safety/text.py);
2. find the idioms that look alarming but are not ("killing time") and hide
   their alarming words from the rules;
3. run every rule; a match counts unless an `unless` phrase of the rule
   overlaps it, or it is denied (see below);
4. report every category that matched, the most serious first, with a reason
   for each match, each idiom and each denial.

Denial (the policy is written out in rules.yaml under `policy`): a match is
denied when a negation cue ("not", "never", "no", also inside "don't",
"won't"...) stands in the words a phrase let through with `...`, or shortly
before the match in the same clause. Negations that are part of the phrase
itself ("don't want to live") never deny it; negations that express inability
or doubt ("can't stop", "not sure") are not denials. A denial is doubted, and
the match still counts, when the same sentence also carries a word of doubt or
ambivalence ("sometimes", "urges", "can't promise"). A double negative ("I'm
not not suicidal", "I never said I wasn't suicidal") is not a denial. Every
judgement is written into `reasons`.

Pure and deterministic: after the rules are loaded there is no I/O, no clock
and no randomness. The reasons quote the person's words: they are patient data
and must never be logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.safety.rules import CATEGORIES, CONCERNS, Negation, RuleSet
from bot.safety.text import SENTENCE, Prepared, Token

if TYPE_CHECKING:
    from bot.safety.meaning import Meaning

MASKED = "_"


@dataclass(frozen=True)
class Screening:
    """What the screen found in one message.

    `category` is the most serious category matched (None: no concern),
    `categories` every category matched, most serious first, and `reasons`
    one line per rule that matched, per idiom recognised and per denial judged.
    """

    category: str | None
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    #: A sign short of a crisis ("health_worry", "weak_sign"), when no category matched.
    concern: str | None = None

    @property
    def is_crisis(self) -> bool:
        return self.category is not None

    @property
    def template(self) -> str | None:
        """The reply template for the most serious category, e.g. "safety/suicide"."""
        return f"safety/{self.category}" if self.category else None


class _Line:
    """A message rendered for the compiled phrases: " stem=surface stem=surface "."""

    def __init__(self, tokens: tuple[Token, ...]) -> None:
        parts = [" "]
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        pos = 1
        for i, t in enumerate(tokens):
            text = f"{t.stem}={t.surface}"
            self.starts[pos] = i
            self.ends[pos + len(text)] = i
            parts.append(text + " ")
            pos += len(text) + 1
        self.text = "".join(parts)

    def span(self, m: re.Match[str]) -> tuple[int, int]:
        """First and last token of a match."""
        return self.starts[m.start() + 1], self.ends[m.end() - 1]

    def gap_tokens(self, m: re.Match[str]) -> list[int]:
        """Tokens that filled the `...` gaps of a match."""
        out = []
        for g in range(1, (m.re.groups or 0) + 1):
            start, end = m.span(g)
            if start < 0 or start == end:
                continue
            i = self.starts[start]
            while i <= self.ends[end - 1]:
                out.append(i)
                i += 1
        return out

    def spans(self, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
        if pattern is None:
            return []
        return [self.span(m) for m in pattern.finditer(self.text)]


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> tuple[int, int] | None:
    for other in others:
        if other[0] <= span[1] and span[0] <= other[1]:
            return other
    return None


class Screener:
    """Holds the compiled rules; `screen` is safe to call from any thread."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._rank = {c: rules.severity.index(c) for c in CATEGORIES}
        self._rank.update({c: len(CATEGORIES) + i for i, c in enumerate(CONCERNS)})

    def screen(
        self, text: str, *, after_alert: bool = False, meaning: Meaning | None = None
    ) -> Screening:
        """`after_alert`: this person raised a safety alert a short while ago, so a
        follow-up ("I've got the pills here") counts. `meaning`: what the
        meaning-based screen read in the same text (bot/safety/meaning.py), if it ran."""
        prepared = self.rules.normaliser.prepare(text)
        if not prepared.tokens:
            return Screening(None, (), ())
        reasons: list[str] = []
        tokens = self._hide_idioms(prepared, reasons)
        # What the rules explained away (an idiom, a listed exception, a denial): the
        # meaning screen, which cannot tell "I've never self harmed" from its opposite,
        # does not overrule them (see _add_meaning).
        explained = {"an idiom"} if tokens is not prepared.tokens else set()
        stems = {t.stem for t in tokens}
        line = _Line(tokens)
        negation = self.rules.negation
        not_denied = {i for a, b in line.spans(negation.not_denials) for i in range(a, b + 1)}
        sentence = _sentence_numbers(tokens)
        doubts: dict[int, tuple[int, int]] = {}
        for a, b in line.spans(negation.doubts):
            doubts.setdefault(sentence[a], (a, b))

        found: dict[str, list[str]] = {}
        for rule in self.rules.rules:
            if rule.needs is not None and rule.needs.isdisjoint(stems):
                continue
            if rule.after_alert and not after_alert:
                continue
            exceptions: list[tuple[int, int]] | None = None
            denied_reason = None
            for m in rule.regex.finditer(line.text):
                span = line.span(m)
                quote = prepared.quote(*span)
                if rule.unless is not None:
                    if exceptions is None:
                        exceptions = line.spans(rule.unless)
                    hit = _overlaps(span, exceptions)
                    if hit is not None:
                        explained.add("a listed exception")
                        reasons.append(
                            f"{rule.id}: matched '{quote}' but not counted, because "
                            f"'{prepared.quote(*hit)}' is a listed exception"
                        )
                        continue
                denial = (
                    _denial(tokens, span[0], line.gap_tokens(m), not_denied, negation)
                    if rule.negatable
                    else None
                )
                if denial is None:
                    found.setdefault(rule.category, []).append(
                        f"{rule.id}: matched '{quote}' — {rule.why}"
                    )
                    break
                cue, earlier = denial
                cue_quote = prepared.quote(cue, cue)
                if earlier is not None:
                    found.setdefault(rule.category, []).append(
                        f"{rule.id}: matched '{quote}' — {rule.why}; "
                        f"'{prepared.quote(earlier, span[1])}' is a double negative, "
                        "not a denial, so it counts"
                    )
                    break
                doubt = doubts.get(sentence[span[0]])
                if doubt is not None:
                    found.setdefault(rule.category, []).append(
                        f"{rule.id}: matched '{quote}' — {rule.why}; negated by "
                        f"'{cue_quote}', but the same sentence says "
                        f"'{prepared.quote(*doubt)}', so the denial is doubted and it counts"
                    )
                    break
                if denied_reason is None:
                    denied_reason = (
                        f"{rule.id}: matched '{quote}' but denied by '{cue_quote}' "
                        f"('{prepared.quote(min(cue, span[0]), span[1])}'): "
                        "an explicit denial, no alarm from this rule"
                    )
            else:
                if denied_reason is not None:
                    explained.add("a denial")
                    reasons.append(denied_reason)

        if meaning is not None:
            _add_meaning(meaning, found, reasons, explained)
        matched = tuple(sorted(found, key=self._rank.__getitem__))
        categories = tuple(c for c in matched if c in CATEGORIES)
        concerns = [c for c in matched if c in CONCERNS]
        ordered = [r for c in matched for r in found[c]]
        return Screening(
            category=categories[0] if categories else None,
            categories=categories,
            reasons=tuple(ordered + reasons),
            concern=concerns[0] if concerns and not categories else None,
        )

    def _hide_idioms(self, prepared: Prepared, reasons: list[str]) -> tuple[Token, ...]:
        tokens = prepared.tokens
        stems = {t.stem for t in tokens}
        line = _Line(tokens)
        hidden: set[int] = set()
        for idiom in self.rules.idioms:
            if idiom.needs is not None and idiom.needs.isdisjoint(stems):
                continue
            exceptions: list[tuple[int, int]] | None = None
            for m in idiom.regex.finditer(line.text):
                span = line.span(m)
                if idiom.unless is not None:
                    if exceptions is None:
                        exceptions = line.spans(idiom.unless)
                    if _overlaps(span, exceptions) is not None:
                        continue
                words = range(span[0], span[1] + 1)
                hidden.update(
                    i for i in words if idiom.masks is None or tokens[i].stem in idiom.masks
                )
                reasons.append(
                    f"{idiom.id}: '{prepared.quote(*span)}' read as {idiom.why}, not as a risk"
                )
        if not hidden:
            return tokens
        return tuple(
            Token(MASKED, MASKED, t.start, t.end) if i in hidden else t
            for i, t in enumerate(tokens)
        )


def _add_meaning(
    meaning: Meaning, found: dict[str, list[str]], reasons: list[str], explained: set[str]
) -> None:
    """A message is flagged when the rules or the meaning screen fire. The rules
    choose the category when they fired (they say exactly why); otherwise the
    meaning screen's category counts, or its weaker sign (the direct question).

    Where the rules read the alarming words as an idiom or a listed exception, the
    meaning screen does not overrule them; where they read a denial ("I've never
    self harmed"), its crisis becomes a weaker sign: the person is asked directly."""
    rules_fired = any(c in CATEGORIES for c in found)
    if meaning.category is None:
        if meaning.weak and not found and not explained:
            found["weak_sign"] = [meaning.reason]
        return
    if rules_fired:
        reasons.append(meaning.reason)
    elif explained - {"a denial"}:
        what = " and ".join(sorted(explained))
        reasons.append(f"{meaning.reason}; not counted: the rules read {what} here")
    elif explained:
        found.setdefault("weak_sign", []).append(
            f"{meaning.reason}; the rules read a denial here, so it is asked directly"
        )
    else:
        found[meaning.category] = [meaning.reason]


def _sentence_numbers(tokens: tuple[Token, ...]) -> list[int]:
    out, n = [], 0
    for t in tokens:
        out.append(n)
        if t.stem == SENTENCE:
            n += 1
    return out


_DOUBLING = frozenset({"not", "never"})


def _denial(
    tokens: tuple[Token, ...],
    start: int,
    gap: list[int],
    not_denied: set[int],
    negation: Negation,
) -> tuple[int, int | None] | None:
    """The token that denies a match starting at `start` and, when that denial
    is itself negated (a double negative), the earlier "not"/"never"."""
    cue = None
    for i in gap:
        if tokens[i].surface in negation.cues and i not in not_denied:
            cue = i
            break
    else:
        i = start - 1
        while i >= 0 and start - i <= negation.window:
            t = tokens[i]
            if t.is_boundary or t.surface in negation.scope_breakers:
                break
            if t.surface in negation.cues and i not in not_denied:
                cue = i
                break
            i -= 1
    if cue is None:
        return None
    # A double negative may reach across "I" ("I never said I wasn't"), so only
    # punctuation ends the search for it.
    i = cue - 1
    while i >= 0 and cue - i <= negation.window:
        t = tokens[i]
        if t.is_boundary:
            break
        if t.surface in _DOUBLING and i not in not_denied:
            return cue, i
        i -= 1
    return cue, None
