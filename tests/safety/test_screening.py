"""The screen against the corpus, and the properties every screening must have.

The corpus (corpus.yaml) was written by hand before the rules were tuned. The
held-out sets (holdout.yaml, holdout2.yaml) were written later and measured
once before the rules were changed for them; those first-run figures, in their
headers, are the honest estimate of how the rules do on phrasings nobody tuned
them for. After that every file is a regression test.

The report printed by `test_corpus_report` gives recall per category, overall
recall, false-alarm rate, and every miss and false alarm with its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.safety import CATEGORIES, Screening, screen

HERE = Path(__file__).parent
SOURCES = ("corpus.yaml", "holdout.yaml", "holdout2.yaml")

#: Overall recall of crisis messages must be at least this.
MIN_RECALL = 0.98
#: Ordinary messages screened as a crisis must be at most this share.
MAX_FALSE_ALARM_RATE = 0.05
#: Categories where every corpus message must raise an alarm: a missed suicide
#: or medical emergency is the hazard this screen exists to prevent.
MUST_CATCH_ALL = ("suicide", "medical_emergency")


@dataclass(frozen=True)
class Line:
    text: str
    expect: str | None  # a category, or None for an ordinary message
    kind: str  # the section of the file
    source: str  # the file
    note: str = ""


def _lines() -> list[Line]:
    lines = []
    for source in SOURCES:
        data = yaml.safe_load((HERE / source).read_text(encoding="utf-8"))
        for category, entries in data["crisis"].items():
            assert category in CATEGORIES, category
            for entry in entries:
                e = entry if isinstance(entry, dict) else {"text": entry}
                lines.append(Line(e["text"], category, category, source, e.get("note", "")))
        for kind, entries in data["ordinary"].items():
            for entry in entries:
                e = entry if isinstance(entry, dict) else {"text": entry}
                lines.append(Line(e["text"], None, kind, source, e.get("note", "")))
    return lines


LINES = _lines()
CRISIS = [line for line in LINES if line.expect]
ORDINARY = [line for line in LINES if not line.expect]


@dataclass(frozen=True)
class Results:
    screened: dict[str, Screening]

    def caught(self, line: Line) -> bool:
        return line.expect in self.screened[line.text].categories

    def false_alarm(self, line: Line) -> bool:
        return self.screened[line.text].is_crisis

    @property
    def misses(self) -> list[Line]:
        return [line for line in CRISIS if not self.caught(line)]

    @property
    def false_alarms(self) -> list[Line]:
        return [line for line in ORDINARY if self.false_alarm(line)]

    def recall(self, category: str | None = None, source: str | None = None) -> float:
        lines = [
            line
            for line in CRISIS
            if category in (None, line.expect) and source in (None, line.source)
        ]
        return sum(self.caught(line) for line in lines) / len(lines)

    @property
    def any_alarm_recall(self) -> float:
        """Share of crisis messages that raised some alarm (any category)."""
        return sum(self.screened[line.text].is_crisis for line in CRISIS) / len(CRISIS)

    def false_alarm_rate(self, source: str | None = None) -> float:
        lines = [line for line in ORDINARY if source in (None, line.source)]
        return sum(self.false_alarm(line) for line in lines) / len(lines)


@pytest.fixture(scope="module")
def results() -> Results:
    return Results({line.text: screen(line.text) for line in LINES})


def _report(r: Results) -> str:
    out = ["", "Crisis-language screening: corpus report", "=" * 41]
    out.append(f"crisis messages {len(CRISIS)}, ordinary messages {len(ORDINARY)}")
    for category in CATEGORIES:
        n = sum(line.expect == category for line in CRISIS)
        out.append(f"  recall {category:<18} {r.recall(category):7.1%}  ({n} messages)")
    out.append(
        f"  recall overall            {r.recall():7.1%}  (right category among those matched)"
    )
    out.append(f"  any alarm raised          {r.any_alarm_recall:7.1%}")
    out.append(
        f"  false-alarm rate          {r.false_alarm_rate():7.1%}  "
        f"({len(r.false_alarms)} of {len(ORDINARY)})"
    )
    for source in SOURCES:
        out.append(
            f"  {source:<16} recall {r.recall(source=source):6.1%}, "
            f"false alarms {r.false_alarm_rate(source):5.1%}"
        )
    out.append("  Held-out first-run figures, before any tuning for them, are in their headers.")
    for title, lines in (("Misses", r.misses), ("False alarms", r.false_alarms)):
        out.append(f"{title}: {len(lines)}")
        for line in lines:
            s = r.screened[line.text]
            label = line.expect or line.kind
            out.append(
                f"  [{label}, {line.source}] {line.text!r} -> {s.categories or 'no concern'}"
            )
            if line.note:
                out.append(f"      note: {line.note}")
            for reason in s.reasons:
                out.append(f"      {reason}")
    return "\n".join(out)


def test_corpus_is_big_enough() -> None:
    corpus = [line for line in LINES if line.source == "corpus.yaml"]
    for category in CATEGORIES:
        assert sum(line.expect == category for line in corpus) >= 25, category
    assert sum(bool(line.expect) for line in corpus) >= 170
    assert sum(not line.expect for line in corpus) >= 170
    texts = [line.text for line in LINES]
    duplicates = {t for t in texts if texts.count(t) > 1}
    assert not duplicates, f"lines appear twice: {duplicates}"


def test_corpus_report(results: Results, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(_report(results))
    assert results.recall() >= MIN_RECALL, _report(results)
    assert results.false_alarm_rate() <= MAX_FALSE_ALARM_RATE, _report(results)


@pytest.mark.parametrize("category", MUST_CATCH_ALL)
def test_no_suicide_or_medical_emergency_is_missed(results: Results, category: str) -> None:
    missed = [
        line.text
        for line in CRISIS
        if line.expect == category and not results.screened[line.text].is_crisis
    ]
    assert not missed, f"{category} messages screened as no concern: {missed}"


def test_every_match_has_a_reason(results: Results) -> None:
    for text, s in results.screened.items():
        assert bool(s.categories) == s.is_crisis
        assert s.category == (s.categories[0] if s.categories else None)
        assert all(r.strip() for r in s.reasons)
        for category in s.categories:
            assert any(r.startswith(f"{category}.") for r in s.reasons), (text, s)


def test_categories_are_ordered_most_serious_first() -> None:
    s = screen("he hits me and i want to die and i have taken all my tablets")
    assert s.categories == ("medical_emergency", "suicide", "unsafe_at_home")
    assert s.category == "medical_emergency"
    assert s.template == "safety/medical_emergency"


# --- negation -----------------------------------------------------------------

DENIALS = [
    ("I'm not suicidal, just lonely", "suicide.suicide_named"),
    ("I've never self harmed", "self_harm.named"),
    ("I would never hurt myself, I have my grandkids", "self_harm.hurt_self"),
    ("I don't want to die, I want to live a better life", "suicide.want_to_die"),
    ("No chest pain, just aching joints", "medical_emergency.chest_pain"),
    ("my husband has never hit me, he's lovely", "unsafe_at_home.violence"),
    ("im not gonna hurt myself dont worry", "self_harm.hurt_self"),
]


@pytest.mark.parametrize(("text", "rule"), DENIALS)
def test_an_explicit_denial_does_not_alarm_but_is_recorded(text: str, rule: str) -> None:
    s = screen(text)
    assert not s.is_crisis, s
    assert any(r.startswith(rule) and "denied by" in r for r in s.reasons), s.reasons


DENIAL_WITH_OTHER_RISK = [
    ("I'm not suicidal but I have been cutting again", "self_harm"),
    ("I'm not going to kill myself but I can't promise I won't hurt myself", "self_harm"),
    ("I don't want to die but sometimes I think about it", "suicide"),
    ("i havent cut for a while but the urges are back", "self_harm"),
    ("I'm not suicidal, I just think everyone would be better off without me", "suicide"),
]


@pytest.mark.parametrize(("text", "category"), DENIAL_WITH_OTHER_RISK)
def test_a_denial_with_other_risk_still_alarms(text: str, category: str) -> None:
    s = screen(text)
    assert category in s.categories, s


def test_a_doubted_denial_says_why_it_still_counts() -> None:
    s = screen("I don't want to die but sometimes I think about it")
    assert any("denial is doubted" in r and "sometimes" in r for r in s.reasons), s.reasons


DOUBLE_NEGATIVES = [
    "I'm not not suicidal",
    "i never said i wasnt suicidal",
    "I'm not saying I'm not suicidal",
]


@pytest.mark.parametrize("text", DOUBLE_NEGATIVES)
def test_a_double_negative_is_not_a_denial(text: str) -> None:
    s = screen(text)
    assert s.category == "suicide", s
    assert "double negative" in s.reasons[0]


def test_someone_else_at_risk_is_flagged() -> None:
    assert screen("my daughter keeps saying she wants to kill herself").category == "suicide"
    s = screen("he's threatening to kill himself if I leave")
    assert s.categories == ("suicide", "unsafe_at_home")


NOT_DENIALS = [
    "I can't stop thinking about killing myself",
    "im not ok i want to die",
    "not gonna lie i want to kill myself",
    "I'm not sure I want to live anymore",
    "no one would care if i killed myself",
    "i dont know how to stop cutting myself",
    "I can't sleep and I want to die",
]


@pytest.mark.parametrize("text", NOT_DENIALS)
def test_negations_that_are_not_denials_do_not_cancel_a_match(text: str) -> None:
    s = screen(text)
    assert s.is_crisis, s


# --- idioms -----------------------------------------------------------------------

IDIOMS = [
    "just killing time before the group",
    "I'm dying to try the choir",
    "this heat is killing me",
    "my feet are killing me",
    "I could murder a cup of tea",
    "I'd kill for a walking group nearby",
    "bored to death at home",
    "dead tired after the walk",
    "the scones there are to die for",
    "I'll kill two birds with one stone",
    "we were dying of laughter",
    "this job will be the death of me",
    "my back's killing me",
    "i'm dying for a brew",
    "I nearly died laughing",
    "the suspense is killing me",
    "she killed it at the karaoke",
    "sick to death of this rain",
    "dead chuffed with my allotment",
    "I could strangle whoever invented self-checkouts",
    "that hill nearly killed me",
    "I overdosed on chocolate at christmas",
    "i've cut down on the booze",
    "I'm at the end of my rope with the council",
    "I'd like to hang out with people my age",
    "my phone's dead",
    "I lost my brother to suicide and want a support group",
    "my son hit me up for money again",
    "kmsl that was so funny",
]


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_do_not_alarm(text: str) -> None:
    s = screen(text)
    assert not s.is_crisis, s


IDIOM_LOOKALIKES = [
    ("I'm dead tired of living", "suicide"),
    ("I want to die for real this time", "suicide"),
    ("I'm dying inside and I want to die", "suicide"),
    ("i feel like i could kill someone and i mean it", "harm_to_others"),
    ("my husband is killing me, he hits me every night", "unsafe_at_home"),
    ("I'm killing myself tonight", "suicide"),
    ("he said he'll kill me if I leave", "unsafe_at_home"),
]


@pytest.mark.parametrize(("text", "category"), IDIOM_LOOKALIKES)
def test_an_idiom_hides_only_its_own_words(text: str, category: str) -> None:
    assert category in screen(text).categories


def test_an_idiom_is_recorded_in_the_reasons() -> None:
    s = screen("just killing time til my appointment")
    assert any(r.startswith("idiom.killing_time:") for r in s.reasons), s.reasons


# --- how people write -----------------------------------------------------------

WRITTEN_ANY_HOW = [
    ("I DONT WANT TO BE HERE ANYMORE", "suicide"),
    ("i want to dieeeee", "suicide"),
    ("sooooo done, want to kill myselff", "suicide"),
    ("feeling sucidal", "suicide"),
    ("i feel suicidle", "suicide"),
    ("i feel suiciddal", "suicide"),
    ("kms", "suicide"),
    ("wanna unalive myself", "suicide"),
    ("thinking about sewer slide", "suicide"),
    ("I\u2019ve saved up my tablets", "suicide"),
    ("i want to k1ll mys3lf", "suicide"),
    ("i took a whole packet of paracetomol", "medical_emergency"),
    ("ive od'd", "medical_emergency"),
    ("been cuttin myself", "self_harm"),
    ("selfharm again", "self_harm"),
    ("he hits me", "unsafe_at_home"),
    ("cant breath", "medical_emergency"),
]


@pytest.mark.parametrize(("text", "category"), WRITTEN_ANY_HOW)
def test_how_people_really_write(text: str, category: str) -> None:
    assert category in screen(text).categories


# --- robustness and speed ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    """(How fast, even on text like this, is measured by `make bench`.)"""
    s = screen(text)
    assert isinstance(s, Screening)
    assert s.category in (None, *CATEGORIES)


_WORDS = st.sampled_from(
    [
        "i",
        "want",
        "to",
        "die",
        "kill",
        "myself",
        "not",
        "never",
        "dont",
        "cant",
        "he",
        "hits",
        "me",
        "dying",
        "killing",
        "time",
        "suicidal",
        "tablets",
        "all",
        "my",
        "pills",
        "chest",
        "pain",
        "the",
        "and",
        "but",
        "sometimes",
        "cut",
        "cutting",
        "myself",
        "my",
        "husband",
        "safe",
        "home",
        "no",
        "one",
        "...",
        ",",
        ".",
        "!",
        "dead",
        "tired",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=60))
def test_risky_word_salad_never_raises(words: list[str]) -> None:
    s = screen(" ".join(words))
    assert all(r for r in s.reasons)


def test_empty_and_blank_messages() -> None:
    for text in ("", "   ", "\n\n", "...", "🙂", "👍👍"):
        s = screen(text)
        assert not s.is_crisis
        assert s.reasons == ()


def test_screening_is_deterministic() -> None:
    text = "i'm not suicidal but sometimes i want to die, he hits me"
    assert screen(text) == screen(text)


# --- Precision where it is cheap, concerns short of a crisis, follow-ups -------------


@pytest.mark.parametrize(
    "text",
    ["I want to get fit", "I want to be fit and healthy", "get fit and lose weight",
     "trying to keep fit now I've retired", "my sister says I'm fit for my age"],
)  # fmt: skip
def test_getting_fit_is_a_goal_not_a_seizure(text: str) -> None:
    s = screen(text)
    assert not s.is_crisis and s.concern is None, s.reasons


@pytest.mark.parametrize("text", ["he's fitting and his lips are blue", "i'm having a fit"])
def test_a_seizure_still_is(text: str) -> None:
    assert screen(text).category == "medical_emergency"


@pytest.mark.parametrize(
    "text",
    ["my chest hurts when I walk up hills", "chest gets tight on the stairs",
     "had pains in my chest for a few weeks now, on and off"],
)  # fmt: skip
def test_chest_pain_with_effort_is_a_health_worry_not_999(text: str) -> None:
    s = screen(text)
    assert not s.is_crisis and s.concern == "health_worry", s.reasons


def test_chest_pain_now_is_still_an_emergency() -> None:
    assert screen("crushing pain in my chest and my arm has gone numb").category == (
        "medical_emergency"
    )


def test_wishing_to_take_the_tablets_is_about_suicide_not_an_overdose_taken() -> None:
    s = screen("better off if I just took all his tablets myself")
    assert s.category == "suicide" and "medical_emergency" not in s.categories


@pytest.mark.parametrize(
    "text", ["I've got the pills here.", "I've got them in my hand now", "it's tonight"]
)
def test_a_follow_up_counts_only_just_after_an_alert(text: str) -> None:
    assert not screen(text).is_crisis
    assert screen(text, after_alert=True).category == "suicide"


@pytest.mark.parametrize(
    "text",
    ["whats the point of anything", "I feel so hopeless lately", "nothing to look forward to",
     "I can't cope anymore with the bills and the kids"],
)  # fmt: skip
def test_a_weaker_sign_is_a_concern_not_a_crisis(text: str) -> None:
    s = screen(text)
    assert not s.is_crisis and s.concern == "weak_sign", s.reasons


def test_a_crisis_outranks_a_concern() -> None:
    s = screen("whats the point, i want to die")
    assert s.category == "suicide" and s.concern is None
