"""Every reason code reads as plain English, one or two sentences."""

from __future__ import annotations

import pytest

from bot.messages import Messages, html_to_text
from flows.directory import NEED_AREAS, Reason

render = Messages().render


@pytest.mark.parametrize(
    ("reasons", "sentence"),
    [
        (
            [Reason("need", {"need_area": "loneliness"}), Reason("group"),
             Reason("near", {"miles": 0.8}), Reason("time", {"day": 1, "part": "morning", "weekly": True})],
            "It's a friendly group 0.8 miles from you on Tuesday mornings, and you said you'd like "
            "to meet people.",
        ),
        (
            [Reason("words", {"word": "walking", "matched": "walking", "synonym": False}),
             Reason("group"), Reason("district", {"district": "L20"}), Reason("free")],
            "It's a friendly group in L20, near you, and you mentioned “walking”. It's free.",
        ),
        (
            [Reason("words", {"word": "skint", "matched": "money and debt", "synonym": True}),
             Reason("one_to_one"), Reason("phone"), Reason("time", {"day": 0, "part": "evening", "weekly": True})],
            "It's one-to-one help over the phone on Monday evenings. It's about money and debt, and "
            "you said “skint”.",
        ),
        (
            [Reason("need", {"need_area": "caring"}), Reason("online"),
             Reason("time", {"day": 5, "part": None, "weekly": False})],
            "It's online on some Saturdays, and you said you look after someone.",
        ),
        ([Reason("need", {"need_area": "money"})], "It could help, because you said you'd like help with money."),
        ([Reason("near", {"miles": 1.0})], "It's 1 mile from you."),
        ([], ""),
    ],
)  # fmt: skip
def test_reasons_read_as_sentences(reasons: list[Reason], sentence: str) -> None:
    assert render("directory/reasons", reasons=reasons) == sentence


@pytest.mark.parametrize("need_area", NEED_AREAS)
def test_every_need_area_has_words(need_area: str) -> None:
    text = render("directory/reasons", reasons=[Reason("need", {"need_area": need_area})])
    assert "what you told us" not in text and text.startswith("It could help, because you")


def test_their_words_are_escaped() -> None:
    reasons = [Reason("words", {"word": "<b>tea</b>", "matched": "<b>tea</b>", "synonym": False})]
    html = render("directory/reasons", reasons=reasons)
    assert "<b>" not in html
    assert html_to_text(html) == "It could help, because you mentioned “<b>tea</b>”."
