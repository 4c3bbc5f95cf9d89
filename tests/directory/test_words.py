from __future__ import annotations

from bot.directory import taxonomy
from bot.directory.words import Synonyms, activity_terms, default_synonyms
from flows.directory import NEED_AREAS


def test_synonyms_file_loads_and_phrases_are_short() -> None:
    synonyms = Synonyms.load()
    assert len(synonyms.groups) > 10
    for group in synonyms.groups:
        assert group.about and group.words
        assert all(len(phrase.split()) <= 3 for phrase in group.words), group


def test_their_words_find_synonyms_and_phrases() -> None:
    words = default_synonyms().person_words("I'm skint and I want to meet people")
    said = [w.said for w in words]
    assert said == ["skint", "meet people"]
    skint = dict(words[0].terms)
    assert skint["debt"] == "money and debt"
    assert "meet peopl" in activity_terms("Come and meet people over tea")


def test_stemming_joins_word_forms() -> None:
    (walk,) = default_synonyms().person_words("walks")
    assert "walk" in dict(walk.terms)
    assert "walk" in activity_terms("Walking group")


def test_common_words_are_left_out() -> None:
    assert default_synonyms().person_words("I would really like some help with the things") == []


def test_taxonomy_table_uses_real_need_areas() -> None:
    for _, needs in taxonomy.TERM_NEEDS:
        assert set(needs) <= set(NEED_AREAS)
    assert taxonomy.need_areas_for(["Debt advice"]) == ("money",)
    assert taxonomy.need_areas_for(["Carers"]) == ("caring",)
    assert taxonomy.need_areas_for(["Walking Football"]) == ("loneliness", "activity")
    assert taxonomy.need_areas_for(["indebted"]) == ()
    assert taxonomy.format_for("A one-to-one chat") == "one_to_one"
    assert taxonomy.format_for("A friendly group") == "group"
    assert taxonomy.format_for("Debt advice") == "one_to_one"
