"""Loads and checks rules.yaml, and compiles it once.

The file is meant to be read and extended by a clinical safety officer, so a
mistake in it is reported with the rule id and what is wrong, when the bot
starts, never while a patient is waiting for a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.safety.patterns import PatternError, PhraseCompiler
from bot.safety.text import Normaliser, english_words

RULES_FILE = Path(__file__).with_name("rules.yaml")

CATEGORIES = ("suicide", "self_harm", "harm_to_others", "unsafe_at_home", "medical_emergency")
IDIOM_PREFIX = "idiom."
_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


class RulesError(ValueError):
    """rules.yaml is not valid; the message says where."""


@dataclass(frozen=True)
class Rule:
    """Phrases that signal one category."""

    id: str
    category: str
    why: str
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None
    negatable: bool
    #: stems of which a message must contain one to possibly match (None: any)
    needs: frozenset[str] | None


@dataclass(frozen=True)
class Idiom:
    """Phrases that look alarming but are not (e.g. "killing time"). The words
    in `masks` (stems; None means every word of the phrase) are hidden from the
    rules wherever the phrase is found."""

    id: str
    why: str
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None
    masks: frozenset[str] | None
    needs: frozenset[str] | None


@dataclass(frozen=True)
class Negation:
    window: int
    cues: frozenset[str]
    scope_breakers: frozenset[str]
    not_denials: re.Pattern[str] | None
    doubts: re.Pattern[str] | None


@dataclass(frozen=True)
class RuleSet:
    version: int
    severity: tuple[str, ...]
    normaliser: Normaliser
    idioms: tuple[Idiom, ...]
    rules: tuple[Rule, ...]
    negation: Negation


def load_rules(path: Path = RULES_FILE) -> RuleSet:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return build_rules(data, source=str(path))


def build_rules(data: Any, *, source: str = "rules.yaml") -> RuleSet:
    """Validate the parsed YAML and compile every phrase."""
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping at the top level")
    version = data.get("version")
    if version != 1:
        raise RulesError(f"{source}: version must be 1, not {version!r}")

    severity = tuple(_list(data, "severity", source))
    if sorted(severity) != sorted(CATEGORIES):
        raise RulesError(f"{source}: severity must list each of {CATEGORIES} once")

    spelling = data.get("spelling") or {}
    if not isinstance(spelling, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in spelling.items()
    ):
        raise RulesError(f"{source}: spelling must map written forms to what they mean")
    fuzzy = data.get("fuzzy") or {}
    normaliser = Normaliser(
        spelling,
        fuzzy_targets=_list(fuzzy, "targets", source),
        fuzzy_protect=_list(fuzzy, "protect", source),
        fuzzy_min_length=int(fuzzy.get("min_length", 5)),
        dictionary=english_words(),
    )

    groups = data.get("groups") or {}
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise RulesError(f"{source}: groups must map names to lists of phrases")
    compiler = PhraseCompiler(groups, normaliser.phrase_words, normaliser.stem)

    def compiled(phrases: Any, where: str) -> tuple[re.Pattern[str], frozenset[str] | None]:
        if (
            not isinstance(phrases, list)
            or not phrases
            or not all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            raise RulesError(f"{source}: {where}: needs a list of phrases")
        try:
            pattern, needs = compiler.compile_any(phrases)
            return re.compile(pattern), needs
        except (PatternError, re.error) as exc:
            raise RulesError(f"{source}: {where}: {exc}") from None

    def optional_regex(phrases: Any, where: str) -> re.Pattern[str] | None:
        return compiled(phrases, where)[0] if phrases else None

    seen: set[str] = set()

    def check_id(entry: Any, where: str, prefix: str) -> str:
        if not isinstance(entry, dict):
            raise RulesError(f"{source}: {where}: each entry must be a mapping")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
            raise RulesError(
                f"{source}: {where}: id {rule_id!r} must look like 'suicide.want_to_die'"
            )
        if not rule_id.startswith(prefix):
            raise RulesError(f"{source}: {rule_id}: id must start with {prefix!r}")
        if rule_id in seen:
            raise RulesError(f"{source}: {rule_id}: id used twice")
        seen.add(rule_id)
        why = entry.get("why")
        if not isinstance(why, str) or not why.strip():
            raise RulesError(f"{source}: {rule_id}: needs a short 'why'")
        unknown = set(entry) - {"id", "why", "phrases", "unless", "masks", "negatable"}
        if unknown:
            raise RulesError(f"{source}: {rule_id}: unknown keys {sorted(unknown)}")
        return rule_id

    idioms = []
    for n, entry in enumerate(data.get("not_a_crisis") or []):
        idiom_id = check_id(entry, f"not_a_crisis[{n}]", IDIOM_PREFIX)
        masks = entry.get("masks")
        mask_stems = None
        if masks is not None:
            words = [w for m in _as_list(masks) for w in normaliser.phrase_words(m)]
            mask_stems = frozenset(normaliser.stem(w) for w in words)
        pattern, needs = compiled(entry.get("phrases"), idiom_id)
        idioms.append(
            Idiom(
                id=idiom_id,
                why=entry["why"].strip(),
                regex=pattern,
                unless=optional_regex(entry.get("unless"), f"{idiom_id} unless"),
                masks=mask_stems,
                needs=needs,
            )
        )

    rules_data = data.get("rules")
    if not isinstance(rules_data, dict) or set(rules_data) != set(CATEGORIES):
        raise RulesError(f"{source}: rules must have one list for each of {CATEGORIES}")
    rules = []
    for category in CATEGORIES:
        for n, entry in enumerate(rules_data[category] or []):
            rule_id = check_id(entry, f"rules.{category}[{n}]", f"{category}.")
            negatable = entry.get("negatable", True)
            if not isinstance(negatable, bool):
                raise RulesError(f"{source}: {rule_id}: negatable must be true or false")
            pattern, needs = compiled(entry.get("phrases"), rule_id)
            rules.append(
                Rule(
                    id=rule_id,
                    category=category,
                    why=entry["why"].strip(),
                    regex=pattern,
                    unless=optional_regex(entry.get("unless"), f"{rule_id} unless"),
                    negatable=negatable,
                    needs=needs,
                )
            )
        if not rules_data[category]:
            raise RulesError(f"{source}: rules.{category} is empty")

    neg = data.get("negation") or {}
    negation = Negation(
        window=int(neg.get("window", 6)),
        cues=frozenset(w for c in _list(neg, "cues", source) for w in normaliser.phrase_words(c)),
        scope_breakers=frozenset(
            w for c in _list(neg, "scope_breakers", source) for w in normaliser.phrase_words(c)
        ),
        not_denials=optional_regex(neg.get("not_denials"), "negation.not_denials"),
        doubts=optional_regex(neg.get("doubts"), "negation.doubts"),
    )

    normaliser.freeze(compiler.vocabulary.surfaces | negation.cues | negation.scope_breakers)
    return RuleSet(
        version=1,
        severity=severity,
        normaliser=normaliser,
        idioms=tuple(idioms),
        rules=tuple(rules),
        negation=negation,
    )


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _list(data: Any, key: str, source: str) -> list[str]:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{source}: {key} must be a list of words or phrases")
    return value
