"""The HTML check is what catches unescaped patient text before Telegram does, so
it is tested on its own, case by case, against tdlib's behaviour and wording."""

from __future__ import annotations

import html

import pytest

from tests.standin.entities import EntityParseError, parse_html, plain, utf16_len


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("Is 3 < 5?", 'Unsupported start tag "" at byte offset 5'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>bold</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        (
            '<span class="other">x</span>',
            'Tag "span" must have class "tg-spoiler" at byte offset 0',
        ),
        ("<a href=http://x>y</a>", "Unexpected end of name token at byte offset 8"),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        ("<br/>", 'Unsupported start tag "br/" at byte offset 0'),
        ('<b ="x">', 'Empty attribute name in the tag "b" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("é <x>", 'Unsupported start tag "x" at byte offset 3'),  # offsets count UTF-8 bytes
    ],
)
def test_telegram_refuses_what_tdlib_refuses(source: str, error: str) -> None:
    for strict in (True, False):
        with pytest.raises(EntityParseError) as refused:
            parse_html(source, strict=strict)
        assert str(refused.value) == error


@pytest.mark.parametrize("source", ["Fish & chips", "A -> B", "Tom &amp Jerry", "&nbsp;"])
def test_strict_mode_refuses_what_telegram_would_show_unescaped(source: str) -> None:
    with pytest.raises(EntityParseError, match="stand-in strict mode"):
        parse_html(source)
    assert parse_html(source, strict=False).text  # Telegram itself shows it as typed


def test_escaped_patient_text_always_parses() -> None:
    nasty = "<script>&amp; \"quotes\" 'apostrophes' a<b>c </b> & > <"
    for escaped in (html.escape(nasty), html.escape(nasty, quote=False)):
        parsed = parse_html(f"You said: <i>{escaped}</i>")
        assert parsed.text == f"You said: {nasty}".rstrip()


def test_entities_come_out_as_the_bot_api_reports_them() -> None:
    parsed = parse_html(
        "<b>Bold</b> <i>it</i> <u>u</u> <s>s</s> <tg-spoiler>sp</tg-spoiler> "
        '<span class="tg-spoiler">sp2</span> <a href="https://example.org/?a=1&amp;b=2">link</a> '
        '<code>c</code> <pre><code class="language-python">x = 1</code></pre> '
        "<blockquote>q</blockquote> <blockquote expandable>e</blockquote>"
    )
    assert parsed.text == "Bold it u s sp sp2 link c x = 1 q e"
    kinds = [
        (e["type"], parsed.text[e["offset"] : e["offset"] + e["length"]]) for e in parsed.entities
    ]
    assert kinds == [
        ("bold", "Bold"),
        ("italic", "it"),
        ("underline", "u"),
        ("strikethrough", "s"),
        ("spoiler", "sp"),
        ("spoiler", "sp2"),
        ("text_link", "link"),
        ("code", "c"),
        ("pre", "x = 1"),
        ("blockquote", "q"),
        ("expandable_blockquote", "e"),
    ]
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert link["url"] == "https://example.org/?a=1&b=2"
    pre = next(e for e in parsed.entities if e["type"] == "pre")
    assert pre["language"] == "python"


def test_offsets_are_utf16_and_case_and_entities_are_decoded() -> None:
    parsed = parse_html("😀 <B>x&#x27;y</B> &#128512;&quot;")
    assert parsed.text == "😀 x'y 😀\""
    assert parsed.entities == ({"type": "bold", "offset": 3, "length": 3},)
    assert utf16_len(parsed.text) == len(parsed.text) + 2


def test_text_is_trimmed_like_telegram_trims_it() -> None:
    trimmed = parse_html("\n  <b>hi</b>  \n")
    assert (trimmed.text, trimmed.entities) == ("hi", ({"type": "bold", "offset": 0, "length": 2},))
    assert parse_html("<b>  x</b>").text == "  x"  # leading spaces inside an entity stay
    assert plain("  hello \n").text == "hello"
    assert parse_html("<b></b>").text == ""
