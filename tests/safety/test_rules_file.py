"""rules.yaml itself: it loads, every id is unique and well formed, and a
mistake in it is reported clearly when the bot starts."""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

import pytest
import yaml

from bot.safety import CATEGORIES, RULES_FILE, RulesError, Screener, load_rules
from bot.safety.rules import CONCERNS, build_rules


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _all_ids(data: dict[str, Any]) -> list[str]:
    ids = [entry["id"] for entry in data["not_a_crisis"]]
    for category in CATEGORIES:
        ids += [entry["id"] for entry in data["rules"][category]]
    for concern in data.get("concerns") or {}:
        ids += [entry["id"] for entry in data["concerns"][concern]]
    return ids


def test_rules_file_loads() -> None:
    rules = load_rules()
    assert rules.version == 1
    assert {r.category for r in rules.rules} == set(CATEGORIES) | set(CONCERNS)
    assert rules.idioms


def test_every_rule_id_is_unique(raw: dict[str, Any]) -> None:
    # Read from the YAML itself, not through the loader, so this test does not
    # depend on the loader's own check.
    counts = Counter(_all_ids(raw))
    assert [i for i, n in counts.items() if n > 1] == []


def test_rule_ids_name_their_category_and_every_rule_says_why(raw: dict[str, Any]) -> None:
    for category in CATEGORIES:
        for entry in raw["rules"][category]:
            assert entry["id"].startswith(f"{category}."), entry["id"]
            assert re.fullmatch(r"[a-z_]+\.[a-z_]+", entry["id"])
            assert entry["why"].strip()
            assert entry["phrases"]
    for entry in raw["not_a_crisis"]:
        assert entry["id"].startswith("idiom.")
        assert entry["why"].strip()


def test_severity_lists_every_category_once(raw: dict[str, Any]) -> None:
    assert sorted(raw["severity"]) == sorted(CATEGORIES)


def test_policy_is_written_down(raw: dict[str, Any]) -> None:
    policy = raw["policy"]
    for topic in ("denial", "hyperbole", "idiom", "sadness", "past"):
        assert topic in policy.lower(), topic


def test_negation_words_are_strings(raw: dict[str, Any]) -> None:
    # YAML reads a bare `no` as False: every cue must have been quoted.
    assert all(isinstance(w, str) for w in raw["negation"]["cues"])
    assert "no" in raw["negation"]["cues"]


# --- mistakes are caught when the rules load ---------------------------------------


def _with(raw: dict[str, Any], change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    change(data)
    return data


def test_a_duplicate_id_is_rejected(raw: dict[str, Any]) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["rules"]["suicide"].append(dict(data["rules"]["suicide"][0]))

    with pytest.raises(RulesError, match="used twice"):
        build_rules(_with(raw, duplicate))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rules"]["suicide"][0].update(id="self_harm.x"), "must start with"),
        (lambda d: d["rules"]["suicide"][0].update(why=""), "why"),
        (lambda d: d["rules"]["suicide"][0].update(phrases=[]), "list of phrases"),
        (lambda d: d["rules"]["suicide"][0].update(phrases="want to die"), "list of phrases"),
        (lambda d: d["rules"]["suicide"][0].update(phrases=["want (to die"]), r"missing '\)'"),
        (lambda d: d["rules"]["suicide"][0].update(phrases=["want @nothing"]), "unknown group"),
        (lambda d: d["rules"]["suicide"][0].update(phrases=["want % die"]), "cannot read"),
        (lambda d: d["rules"]["suicide"][0].update(colour="red"), "unknown keys"),
        (lambda d: d["rules"]["suicide"][0].update(negatable="yes"), "negatable"),
        (lambda d: d["rules"].pop("self_harm"), "one list for each"),
        (lambda d: d.update(severity=["suicide"]), "severity"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d["groups"].update(loop=["@loop"]), "refers to itself"),
        (lambda d: d["negation"].update(cues=[False]), "cues"),
    ],
)
def test_mistakes_are_reported_with_where_they_are(
    raw: dict[str, Any], change: Any, message: str
) -> None:
    data = _with(raw, change)
    if "loop" in data["groups"]:
        data["rules"]["suicide"][0]["phrases"] = ["@loop"]
    with pytest.raises(RulesError, match=message):
        build_rules(data)


def test_a_clinical_safety_officer_can_add_a_rule(raw: dict[str, Any]) -> None:
    def add(data: dict[str, Any]) -> None:
        data["rules"]["suicide"].append(
            {
                "id": "suicide.catch_the_bus",
                "why": "online slang for suicide",
                "phrases": ['(want | going) to "ctb"'],
            }
        )

    screener = Screener(build_rules(_with(raw, add)))
    s = screener.screen("honestly i want to ctb")
    assert s.category == "suicide"
    assert s.reasons[0].startswith("suicide.catch_the_bus: matched 'want to ctb'")


def test_negatable_false_means_a_denial_never_cancels_the_rule(raw: dict[str, Any]) -> None:
    def strict(data: dict[str, Any]) -> None:
        for entry in data["rules"]["suicide"]:
            if entry["id"] == "suicide.suicide_named":
                entry["negatable"] = False

    s = Screener(build_rules(_with(raw, strict))).screen("I'm not suicidal")
    assert s.category == "suicide"
    assert not any("denied" in r for r in s.reasons)


# --- the words of each mistake ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["rules"]["suicide"].__setitem__(0, "x"),
            "rules.suicide[0]: each entry must be a mapping",
        ),
        (
            lambda d: d["not_a_crisis"].__setitem__(0, ["x"]),
            "not_a_crisis[0]: each entry must be a mapping",
        ),
        (
            lambda d: d["rules"]["suicide"][0].update(id="Suicide"),
            "rules.suicide[0]: id 'Suicide' must look like 'suicide.want_to_die'",
        ),
        (
            lambda d: d["not_a_crisis"][0].pop("id"),
            "not_a_crisis[0]: id None must look like 'suicide.want_to_die'",
        ),
        (
            lambda d: d["rules"]["suicide"][0].update(id="self_harm.x"),
            "self_harm.x: id must start with 'suicide.'",
        ),
        (
            lambda d: d["not_a_crisis"][0].update(id="suicide.x"),
            "suicide.x: id must start with 'idiom.'",
        ),
        (
            lambda d: d["rules"]["suicide"].append(dict(d["rules"]["suicide"][0])),
            "{first}: id used twice",
        ),
        (
            lambda d: d["not_a_crisis"].append(dict(d["not_a_crisis"][0])),
            "{idiom}: id used twice",
        ),
        (lambda d: d["rules"]["suicide"][0].update(why="  "), "{first}: needs a short 'why'"),
        (lambda d: d["not_a_crisis"][0].pop("why"), "{idiom}: needs a short 'why'"),
        (
            lambda d: d["rules"]["suicide"][0].update(phrases=["want to die", " "]),
            "{first}: needs a list of phrases",
        ),
        (lambda d: d["rules"]["suicide"][0].pop("phrases"), "{first}: needs a list of phrases"),
        (
            lambda d: d["rules"]["suicide"][0].update(unless="cake"),
            "{first} unless: needs a list of phrases",
        ),
        (
            lambda d: d["rules"]["suicide"][0].update(unless=["cut (cake"]),
            "{first} unless: missing ')' in phrase 'cut (cake'",
        ),
        (
            lambda d: d["not_a_crisis"][0].update(phrases=["want % die"]),
            "{idiom}: cannot read '% die' in phrase 'want % die'",
        ),
        (
            lambda d: d["rules"]["suicide"][0].update(colour="red", size=2),
            "{first}: unknown keys ['colour', 'size']",
        ),
        # masks is for idioms and negatable for rules: on the other kind they would do nothing
        (
            lambda d: d["rules"]["suicide"][0].update(masks="kill"),
            "{first}: unknown keys ['masks']",
        ),
        (
            lambda d: d["not_a_crisis"][0].update(negatable=False),
            "{idiom}: unknown keys ['negatable']",
        ),
        (
            lambda d: d["rules"]["suicide"][0].update(negatable=None),
            "{first}: negatable must be true or false",
        ),
        (
            lambda d: d["not_a_crisis"][0].update(masks=5),
            "{idiom}: masks must be a word or a list of words",
        ),
        (lambda d: d.update(version="1"), "version must be 1, not '1'"),
        (lambda d: d.pop("version"), "version must be 1, not None"),
        (lambda d: d.pop("severity"), f"severity must list each of {CATEGORIES} once"),
        (lambda d: d.update(severity="suicide"), "severity must be a list of words or phrases"),
        (
            lambda d: d.update(spelling={"u": 2}),
            "spelling must map written forms to what they mean",
        ),
        (
            lambda d: d["fuzzy"].update(targets="suicide"),
            "targets must be a list of words or phrases",
        ),
        (
            lambda d: d["groups"].update(pills="tablets"),
            "groups must map names to lists of phrases",
        ),
        (
            lambda d: d["rules"].update(other=[]),
            f"rules must have one list for each of {CATEGORIES}",
        ),
        (lambda d: d["rules"].update(self_harm=None), "rules.self_harm is empty"),
        (
            lambda d: d["negation"].update(scope_breakers="and"),
            "scope_breakers must be a list of words or phrases",
        ),
        (lambda d: d["negation"].update(doubts="yet"), "negation.doubts: needs a list of phrases"),
        (
            lambda d: d["negation"].update(not_denials=["not (sure"]),
            "negation.not_denials: missing ')' in phrase 'not (sure'",
        ),
    ],
)
def test_each_mistake_is_one_sentence_in_the_same_words(
    raw: dict[str, Any], change: Any, message: str
) -> None:
    # {first} and {idiom}: the ids of the first suicide rule and the first idiom
    first, idiom = raw["rules"]["suicide"][0]["id"], raw["not_a_crisis"][0]["id"]
    with pytest.raises(RulesError) as caught:
        build_rules(_with(raw, change), source="rules.yaml")
    assert str(caught.value) == "rules.yaml: " + message.format(first=first, idiom=idiom)


def test_the_top_level_must_be_a_mapping() -> None:
    with pytest.raises(RulesError) as caught:
        build_rules(["version", 1], source="/srv/rules.yaml")
    assert str(caught.value) == "/srv/rules.yaml: expected a mapping at the top level"


def test_a_mistake_in_pydantic_s_words_still_says_where_it_is(raw: dict[str, Any]) -> None:
    with pytest.raises(RulesError, match=r"^rules\.yaml: negation\.window: .*integer") as caught:
        build_rules(_with(raw, lambda d: d["negation"].update(window="six")))
    assert "\n" not in str(caught.value)


def test_a_key_with_nothing_under_it_reads_as_left_out(raw: dict[str, Any]) -> None:
    def empty(data: dict[str, Any]) -> None:
        data["rules"]["suicide"][0]["unless"] = None
        data["not_a_crisis"][0]["masks"] = None
        data["negation"]["doubts"] = None
        data["fuzzy"]["protect"] = None

    rules = build_rules(_with(raw, empty))
    assert rules.rules[0].unless is None
    assert rules.idioms[0].masks is None
    assert rules.negation.doubts is None
