"""Long messages split within Telegram's limit, never losing text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.split import split_html
from tests.standin.entities import parse_html


def read(html: str) -> str:
    return parse_html(html).text


def words(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_short_message_is_one_part() -> None:
    assert split_html("<b>SP-7K3Q</b>\n\nHello &amp; welcome") == [
        "<b>SP-7K3Q</b>\n\nHello &amp; welcome"
    ]


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraphs = [f"<b>Part {n}</b>\n" + ("word " * 150).strip() for n in range(12)]
    parts = split_html("\n\n".join(paragraphs), limit=2000)
    assert len(parts) > 1
    for part in parts:
        assert len(read(part)) <= 2000
        for paragraph in part.split("\n\n"):
            assert paragraph in paragraphs  # no paragraph was split


def test_a_long_quote_is_split_between_words_with_its_tags_reopened() -> None:
    quote = " ".join(f"w{n}" for n in range(3000))
    parts = split_html(f"<b>Alex wrote:</b> <i>{quote}</i>", limit=4000)
    assert len(parts) == 5
    assert all(p.startswith("<i>") and p.endswith("</i>") for p in parts[1:])
    said = [w for p in parts for w in read(p).split()]
    assert said == ["Alex", "wrote:", *quote.split()]  # every word, none cut in two
    assert all(len(read(p)) <= 4000 for p in parts)


def test_a_word_longer_than_a_message_is_split_inside_it_and_nothing_is_lost() -> None:
    text = "&amp;" * 9000
    parts = split_html(text)
    assert [len(read(p)) for p in parts] == [4000, 4000, 1000]


html_text = st.lists(
    st.one_of(
        st.text(alphabet="abc \n", min_size=1, max_size=40),
        st.sampled_from(["&amp;", "&lt;b&gt;", "&quot;", "<b>bold</b>", "\n\n", "é", "🚨"]),
        st.builds(lambda t: f"<i>{t}</i>", st.text(alphabet="xy \n", min_size=1, max_size=300)),
    ),
    max_size=120,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=html_text, limit=st.integers(min_value=20, max_value=400))
def test_any_message_splits_into_valid_parts_within_the_limit(text: str, limit: int) -> None:
    parts = split_html(text, limit)
    for part in parts:
        assert len(read(part)) <= limit
    assert words("".join(read(p) for p in parts)) == words(read(text) if text.strip() else "")
