"""Loads and checks rules.yaml, and compiles it once.

The file is meant to be read and extended by a clinical safety officer, so a
mistake in it is reported with the rule id and what is wrong, when the bot
starts, never while a patient is waiting for a reply.

Two steps: pydantic models (`RulesFile` and the entries in it) check the shape
of the file, then `build_rules` compiles it into the frozen dataclasses the
screener uses, which is where a phrase that cannot be read is found. Either
way a mistake becomes one `RulesError` sentence that says where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from bot.safety.patterns import PatternError, PhraseCompiler
from bot.safety.text import Normaliser, english_words

RULES_FILE = Path(__file__).with_name("rules.yaml")

CATEGORIES = ("suicide", "self_harm", "harm_to_others", "unsafe_at_home", "medical_emergency")
#: Signs short of a crisis: a health problem worth NHS 111 or a GP (not 999), and a
#: weaker sign that earns the direct question about thoughts of harm.
CONCERNS = ("health_worry", "weak_sign")
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
    #: Counts only just after a safety alert, as a follow-up ("I've got the pills here").
    after_alert: bool = False


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
    """How a denial ("I'm not suicidal") is told apart from the risk itself."""

    window: int
    cues: frozenset[str]
    scope_breakers: frozenset[str]
    not_denials: re.Pattern[str] | None
    doubts: re.Pattern[str] | None


@dataclass(frozen=True)
class RuleSet:
    """rules.yaml, compiled: what the screener needs and nothing it must parse."""

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


# --- the shape of rules.yaml ----------------------------------------------------------


def _says(message: str) -> WrapValidator:
    """Report any failure of a field as `message` (`{field}`: its key): it tells a
    clinical safety officer what to write, where pydantic would say "Input
    should be a valid list"."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(message.format(field=info.field_name)) from None

    return WrapValidator(check)


def _none_is(empty: object) -> BeforeValidator:
    """A key with nothing under it (None in YAML) means the same as leaving it out."""
    return BeforeValidator(lambda value: empty if value is None else value)


_Phrase = Annotated[str, StringConstraints(pattern=r"\S")]
Phrases = Annotated[list[_Phrase], Field(min_length=1), _says("needs a list of phrases")]
#: `unless`, `not_denials` and `doubts`, which may be left out or empty
MaybePhrases = Annotated[list[_Phrase], _none_is([]), _says("needs a list of phrases")]
Words = Annotated[list[str], _none_is([]), _says("{field} must be a list of words or phrases")]


class _Entry(BaseModel, extra="forbid"):
    """What rules and idioms share. `id` is checked first: the other mistakes
    in an entry are reported by its id."""

    id: str
    why: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1), _says("needs a short 'why'")
    ]
    phrases: Phrases
    unless: MaybePhrases = []

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        """A missing id, why or phrases is reported like an empty one."""
        if not isinstance(data, dict):
            raise ValueError("each entry must be a mapping")
        return {"id": None, "why": None, "phrases": None} | data

    @field_validator("id", mode="before")
    @classmethod
    def _well_formed(cls, value: Any) -> Any:
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise ValueError(f"id {value!r} must look like 'suicide.want_to_die'")
        return value


class RuleEntry(_Entry):
    """A rule, in the list of its category under `rules` (or of its concern under
    `concerns`). `after_alert`: only a follow-up to a recent alert counts."""

    negatable: Annotated[StrictBool, _says("negatable must be true or false")] = True
    after_alert: Annotated[StrictBool, _says("after_alert must be true or false")] = False


class IdiomEntry(_Entry):
    """An idiom, under `not_a_crisis`. `masks` may be one word or a list."""

    masks: Annotated[
        list[str] | None,
        BeforeValidator(lambda value: [value] if isinstance(value, str) else value),
        _says("masks must be a word or a list of words"),
    ] = None


class FuzzySection(BaseModel):
    """`fuzzy`: which misspellings to correct, and which words never to."""

    targets: Words = []
    protect: Words = []
    min_length: int = 5


class NegationSection(BaseModel):
    """`negation`: what makes a denial, and what does not."""

    window: int = 6
    cues: Words = []
    scope_breakers: Words = []
    not_denials: MaybePhrases = []
    doubts: MaybePhrases = []


class RulesFile(BaseModel):
    """The whole of rules.yaml. Other top-level keys (`policy`) are for people."""

    version: Literal[1]
    severity: Words
    spelling: Annotated[
        dict[str, str], _none_is({}), _says("spelling must map written forms to what they mean")
    ] = {}
    fuzzy: Annotated[FuzzySection, _none_is({})] = FuzzySection()
    groups: Annotated[
        dict[str, list[str]], _none_is({}), _says("groups must map names to lists of phrases")
    ] = {}
    negation: Annotated[NegationSection, _none_is({})] = NegationSection()
    not_a_crisis: Annotated[list[IdiomEntry], _none_is([])] = []
    rules: dict[str, list[RuleEntry]]
    concerns: Annotated[dict[str, list[RuleEntry]], _none_is({})] = {}

    @field_validator("concerns", mode="before")
    @classmethod
    def _known_concerns(cls, concerns: Any) -> Any:
        if isinstance(concerns, dict) and set(concerns) - set(CONCERNS):
            raise ValueError(f"concerns may only list {CONCERNS}")
        return concerns

    @model_validator(mode="before")
    @classmethod
    def _version_1(cls, data: Any) -> Any:
        """The version is checked first: a file written for another version would
        otherwise be reported for whatever else changed. A missing severity or
        rules is reported like an empty one."""
        if not isinstance(data, dict):
            raise ValueError("expected a mapping at the top level")
        if data.get("version") != 1:
            raise ValueError(f"version must be 1, not {data.get('version')!r}")
        return {"severity": None, "rules": None} | data

    @field_validator("severity")
    @classmethod
    def _every_category_once(cls, severity: list[str]) -> list[str]:
        if sorted(severity) != sorted(CATEGORIES):
            raise ValueError(f"severity must list each of {CATEGORIES} once")
        return severity

    @field_validator("rules", mode="before")
    @classmethod
    def _a_list_per_category(cls, rules: Any) -> Any:
        """In the order of CATEGORIES, which is the order the screener tries them in."""
        if not isinstance(rules, dict) or set(rules) != set(CATEGORIES):
            raise ValueError(f"rules must have one list for each of {CATEGORIES}")
        for category in CATEGORIES:
            if not rules[category]:
                raise ValueError(f"rules.{category} is empty")
        return {category: rules[category] for category in CATEGORIES}

    @model_validator(mode="after")
    def _ids_name_their_list_once(self) -> RulesFile:
        """Every reason the screener gives starts with an id, so an id must say
        its category (or that it is an idiom) and point to one entry."""
        entries: list[tuple[str, _Entry]] = [(IDIOM_PREFIX, e) for e in self.not_a_crisis]
        entries += [(f"{c}.", e) for c, rules in self.rules.items() for e in rules]
        entries += [(f"{c}.", e) for c, rules in self.concerns.items() for e in rules]
        seen: set[str] = set()
        for prefix, entry in entries:
            if not entry.id.startswith(prefix):
                raise ValueError(f"{entry.id}: id must start with {prefix!r}")
            if entry.id in seen:
                raise ValueError(f"{entry.id}: id used twice")
            seen.add(entry.id)
        return self


def _sentence(error: ValidationError, data: Any) -> str:
    """The first mistake pydantic found, as one sentence that says where it is:
    in an entry, its id, or its position when the id is what is wrong."""
    errors = error.errors()
    loc, kind = errors[0]["loc"], errors[0]["type"]
    if kind == "extra_forbidden":
        keys = [e["loc"][-1] for e in errors if e["type"] == kind and e["loc"][:-1] == loc[:-1]]
        what = f"unknown keys {sorted(map(str, keys))}"
    else:
        what = str(errors[0]["ctx"]["error"]) if kind == "value_error" else errors[0]["msg"]
    if loc[:1] == ("not_a_crisis",) and len(loc) > 1:
        position, entry = f"not_a_crisis[{loc[1]}]", data["not_a_crisis"][loc[1]]
    elif loc[:1] == ("rules",) and len(loc) > 2:
        position, entry = f"rules.{loc[1]}[{loc[2]}]", data["rules"][loc[1]][loc[2]]
    elif not loc or what.startswith(str(loc[-1])):
        return what  # it names its key: "severity must list each of ..."
    else:
        return f"{'.'.join(map(str, loc))}: {what}"
    rule_id = entry.get("id") if isinstance(entry, dict) else None
    where = rule_id if isinstance(rule_id, str) and _ID.fullmatch(rule_id) else position
    return f"{where}{' unless' if loc[-1] == 'unless' else ''}: {what}"


# --- compiling ------------------------------------------------------------------------


def build_rules(data: Any, *, source: str = "rules.yaml") -> RuleSet:
    """Check the parsed YAML, then compile every phrase."""
    try:
        checked = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"{source}: {_sentence(exc, data)}") from None
    fuzzy, neg = checked.fuzzy, checked.negation
    normaliser = Normaliser(
        checked.spelling,
        fuzzy_targets=fuzzy.targets,
        fuzzy_protect=fuzzy.protect,
        fuzzy_min_length=fuzzy.min_length,
        dictionary=english_words(),
    )
    compiler = PhraseCompiler(checked.groups, normaliser.phrase_words, normaliser.stem)

    def compiled(phrases: list[str], where: str) -> tuple[re.Pattern[str], frozenset[str] | None]:
        try:
            pattern, needs = compiler.compile_any(phrases)
            return re.compile(pattern), needs
        except (PatternError, re.error) as exc:
            raise RulesError(f"{source}: {where}: {exc}") from None

    def optional(phrases: list[str], where: str) -> re.Pattern[str] | None:
        return compiled(phrases, where)[0] if phrases else None

    def words(phrases: list[str]) -> frozenset[str]:
        return frozenset(w for p in phrases for w in normaliser.phrase_words(p))

    idioms = []
    for idiom in checked.not_a_crisis:
        regex, needs = compiled(idiom.phrases, idiom.id)
        masks = None if idiom.masks is None else words(idiom.masks)
        idioms.append(
            Idiom(
                id=idiom.id,
                why=idiom.why,
                regex=regex,
                unless=optional(idiom.unless, f"{idiom.id} unless"),
                masks=None if masks is None else frozenset(map(normaliser.stem, masks)),
                needs=needs,
            )
        )
    rules = []
    for category, entries in [*checked.rules.items(), *checked.concerns.items()]:
        for rule in entries:
            regex, needs = compiled(rule.phrases, rule.id)
            rules.append(
                Rule(
                    id=rule.id,
                    category=category,
                    why=rule.why,
                    regex=regex,
                    unless=optional(rule.unless, f"{rule.id} unless"),
                    negatable=rule.negatable,
                    needs=needs,
                    after_alert=rule.after_alert,
                )
            )
    negation = Negation(
        window=neg.window,
        cues=words(neg.cues),
        scope_breakers=words(neg.scope_breakers),
        not_denials=optional(neg.not_denials, "negation.not_denials"),
        doubts=optional(neg.doubts, "negation.doubts"),
    )

    normaliser.freeze(compiler.vocabulary.surfaces | negation.cues | negation.scope_breakers)
    return RuleSet(
        version=1,
        severity=tuple(checked.severity),
        normaliser=normaliser,
        idioms=tuple(idioms),
        rules=tuple(rules),
        negation=negation,
    )
