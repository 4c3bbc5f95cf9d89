"""The crisis replies: one per category, the right numbers in each, honest about
what the bot is, safe HTML for Telegram, and plain enough to read in a crisis."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.messages import MESSAGES, Messages, html_to_text
from bot.safety import CATEGORIES, screen

ORGANISATION = "Sefton Social Prescribing"
LOCAL = ["Sefton crisis line: 0800 145 6570"]

NHS_111 = "NHS 111"
SAMARITANS = "116 123"
SHOUT = "85258"
PAPYRUS = "0800 068 4141"
DOMESTIC_ABUSE_HELPLINE = "0808 2000 247"

#: The contacts each reply must give (shared/DOMAIN.md, "Crisis signposting").
NUMBERS = {
    "suicide": ["999", "A&E", NHS_111, "option 2", SAMARITANS, SHOUT, "SHOUT", PAPYRUS],
    "self_harm": ["999", "A&E", NHS_111, "option 2", SAMARITANS, SHOUT],
    "harm_to_others": ["999", NHS_111, "option 2", SAMARITANS, SHOUT],
    "unsafe_at_home": ["999", "55", DOMESTIC_ABUSE_HELPLINE, "Refuge", SAMARITANS, SHOUT],
    "medical_emergency": ["999"],
}
#: Categories whose reply lists the organisation's local crisis lines.
LISTS_LOCAL_LINES = ("suicide", "self_harm", "harm_to_others", "unsafe_at_home")


@pytest.fixture(scope="module")
def messages() -> Messages:
    return Messages()


def render(messages: Messages, category: str, local: list[str] | None = None) -> str:
    return messages.render(
        f"safety/{category}",
        local_crisis_lines=LOCAL if local is None else local,
        organisation_name=ORGANISATION,
    )


def test_there_is_a_reply_for_every_category_and_every_screening() -> None:
    for category in CATEGORIES:
        assert (MESSAGES / "en" / "safety" / f"{category}.html.j2").is_file(), category
    assert screen("i want to die").template == "safety/suicide"
    assert screen("hello").template is None


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_reply_gives_its_numbers(messages: Messages, category: str) -> None:
    text = html_to_text(render(messages, category))
    for number in NUMBERS[category]:
        assert number in text, f"{category} reply lacks {number!r}"


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_reply_is_honest_about_what_the_bot_is(messages: Messages, category: str) -> None:
    text = html_to_text(render(messages, category))
    assert "not an emergency service" in text
    assert "Nobody is watching it all the time" in text
    assert "I have told our link worker team" in text
    assert "when they are next at work" in text
    # What next is asked apart (before the handoff) or not at all (after it): the
    # reply itself never talks of carrying on a referral.
    assert "carry on" not in text.lower()
    with_team = html_to_text(
        messages.render(f"safety/{category}", with_team=True, local_crisis_lines=[],
                        response_time_text="within 2 working days")
    )  # fmt: skip
    assert "get in touch with you within 2 working days" in with_team


@pytest.mark.parametrize("category", CATEGORIES)
def test_no_risk_score_and_no_medical_advice(messages: Messages, category: str) -> None:
    text = html_to_text(render(messages, category)).lower()
    for word in ("risk", "score", "level", "assess", "diagnos", "dose", "take your", "should take"):
        assert word not in text, f"{category} reply says {word!r}"


@pytest.mark.parametrize("category", LISTS_LOCAL_LINES)
def test_local_crisis_lines_are_listed_when_configured(messages: Messages, category: str) -> None:
    assert "Sefton crisis line: 0800 145 6570" in render(messages, category)
    without = render(messages, category, local=[])
    assert "Sefton" not in without.replace(ORGANISATION, "")
    assert "\n\n\n" not in without


def test_the_organisation_name_never_doubles_up(messages: Messages) -> None:
    for name in ("", "the Social Prescribing Team", "Sefton Social Prescribing"):
        text = messages.render("safety/suicide", local_crisis_lines=[], organisation_name=name)
        assert "I have told our link worker team" in text
        assert "the the" not in text and "team team" not in text.lower()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@pytest.mark.parametrize("category", CATEGORIES)
def test_reply_is_telegram_safe_html(messages: Messages, category: str) -> None:
    hostile = ['<a href="https://evil.example">x</a> & <script>', "Tom & Jerry's line"]
    html = render(messages, category, local=hostile)
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ("b", "i", "a"), tag
        if tag == "a":
            assert [name for name, _ in attrs] == ["href"]
    # every & starts an entity: Telegram rejects a bare one
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#\d+;|#x[0-9a-f]+;)", html)
    if category in LISTS_LOCAL_LINES:
        assert "&lt;script&gt;" in html and "evil.example" not in parser.tags.__repr__()


@pytest.mark.parametrize("category", CATEGORIES)
def test_reply_is_short_and_plain(messages: Messages, category: str) -> None:
    text = html_to_text(render(messages, category, local=[]))
    words = text.split()
    assert len(words) <= 130, f"{category} reply has {len(words)} words"
    sentences = [s for s in re.split(r"[.?!:\n]+", text) if s.strip()]
    longest = max(len(s.split()) for s in sentences)
    assert longest <= 20, f"{category} reply has a {longest}-word sentence"
    long_words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 10]
    assert len(long_words) <= 2, long_words


def test_a_health_worry_is_pointed_to_111_or_a_gp_not_999_now(messages: Messages) -> None:
    text = html_to_text(messages.render("safety/health_worry"))
    assert "NHS 111" in text and "GP" in text and "call 999 now" not in text.lower()


@pytest.mark.parametrize("category", CATEGORIES)
def test_childline_and_papyrus_for_someone_who_may_be_under_18(
    messages: Messages, category: str
) -> None:
    young = html_to_text(messages.render(f"safety/{category}", young=True, local_crisis_lines=[]))
    adult = html_to_text(messages.render(f"safety/{category}", young=False, local_crisis_lines=[]))
    if category != "medical_emergency":
        assert "Childline" in young and "0800 1111" in young and "Papyrus" in young
        assert young.count("Papyrus") == 1
    assert "Childline" not in adult
