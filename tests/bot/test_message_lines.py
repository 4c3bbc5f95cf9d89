"""Lines in the messages stay lines (bot/messages.py renders with `trim_blocks`).

Jinja's `trim_blocks` takes away the newline after every block tag, an `{% endif %}`
at the end of a line of words too. Such a line ran into the next: a patient's
/mydata summary read "…you agreed on 5 December 2026• Wellbeing scores: none", and
a link worker's /mine "Due Sat 5 Dec · ⏰ overdueReferred 3 days ago". Where a line
of words ends with a block tag and words follow, the tag keeps its newline
(`+%}`), or a blank line follows (a new paragraph)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.messages import Messages

MESSAGES = Path(__file__).resolve().parents[2] / "messages"
#: A block tag that ends a line and takes its newline with it.
ENDS_WITH_TAG = re.compile(r"\{%[^%]*[^+]%\}$")
TAG_ONLY = re.compile(r"^(\s*\{[%#].*?[%#]\})+\s*$")


def runs_into_the_next(lines: list[str]) -> list[int]:
    """Lines of words (1-based) whose last tag takes their newline while words follow.
    What follows is the next line that is not only tags; a branch that ends there
    (`else`, `elif`) is followed by words only the other branch shows."""
    found = []
    for i, line in enumerate(lines):
        if not ENDS_WITH_TAG.search(line.rstrip()) or TAG_ONLY.match(line):
            continue
        for after in lines[i + 1 :]:
            if not TAG_ONLY.match(after):
                if after.strip():
                    found.append(i + 1)
                break
            if re.search(r"\{%-?\s*(else|elif)\b", after):
                break
    return found


def without_comments(template: str) -> str:
    """A template with its comments blank (their lines kept, so numbers still match)."""
    return re.sub(r"\{#.*?#\}", lambda c: "\n" * c.group().count("\n"), template, flags=re.S)


def test_no_line_of_words_runs_into_the_next() -> None:
    # The report is an HTML page: its line ends are not what a reader sees.
    templates = [p for p in sorted(MESSAGES.rglob("*.j2")) if "report" not in p.parts]
    assert len(templates) > 100
    glued = {
        str(p.relative_to(MESSAGES)): lines
        for p in templates
        if (lines := runs_into_the_next(without_comments(p.read_text("utf-8")).split("\n")))
    }
    assert glued == {}


def test_the_check_finds_what_ran_together() -> None:
    assert runs_into_the_next(["Name: {{ n }}{% if a %} (18){% endif %}", "Postcode"]) == [1]
    assert runs_into_the_next(["• {{ c }}{% if x %}, {{ x }}{% endif %}", "{% endfor %}",
                               "• Messages"]) == [1]  # fmt: skip
    assert runs_into_the_next(["Name: {{ n }}{% if a %} (18){% endif +%}", "Postcode"]) == []
    assert runs_into_the_next(["Name: {{ n }}{% if a %} (18){% endif %}", "", "Postcode"]) == []
    assert runs_into_the_next(["{% if a %}", "Postcode"]) == []
    assert runs_into_the_next(["{% if a %}Yes.{% if b %} And b.{% endif %}", "{% else %}",
                               "No."]) == []  # fmt: skip


def test_the_mydata_summary_and_my_cases_read_line_by_line() -> None:
    messages = Messages()
    now = datetime(2026, 12, 5, 10, tzinfo=UTC)
    summary = messages.render(
        "referral/your_data", answers="3 answers", consented=now, scores="none", sent=4,
        cases=[{"reference": "SP-7K3Q", "status": "waiting", "messages": 2, "check_ins": 1,
                "alerts": 0}],
    )  # fmt: skip
    assert [line for line in summary.splitlines() if line.startswith("•")] == [
        "• Your answers to my questions (3 answers), and that you agreed on 5 December 2026",
        "• Wellbeing scores: none",
        "• Your referral <b>SP-7K3Q</b> (waiting): 2 messages and notes, 1 check-in",
        "• Messages we sent you: 4",
    ]
    case = {"urgent": False, "reference": "SP-7K3Q", "status": "claimed", "due": now,
            "overdue": True, "opened_at": now - timedelta(days=3), "claimed_at": None,
            "last": None}  # fmt: skip
    mine = messages.render("staff/mine", total=1, items=[case], now=now, pages=1, page=1)
    assert "· ⏰ overdue\nReferred 3 days ago" in mine
