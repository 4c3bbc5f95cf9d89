"""Every word a patient reads, in plain English (issue 13): a reading age of about
9, measured over every patient template (the referral, check-ins and the crisis
replies) with a well-kept readability library, textstat (Flesch-Kincaid grade; a
reading age is the grade plus 5). The median and the worst are printed, so a change
that makes the words harder shows in the test log before it fails the test."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

textstat = pytest.importorskip("textstat")

MESSAGES = Path(__file__).resolve().parents[2] / "messages" / "en"
#: What patients read (link workers' and commissioners' words are for professionals).
FOR_PATIENTS = ["referral", "referral/errors", "checkin", "safety"]
MEDIAN_READING_AGE = 9.0
#: The worst single message. The ONS4 wellbeing questions are asked in the ONS's
#: own words (validated: not ours to reword), at about 11.
WORST_READING_AGE = 12.0


def as_read(template: str) -> str:
    """A template as a person reads it: no Jinja, no HTML; a name where a value goes;
    each line of a list read as a sentence."""
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}", "", template, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", "Sam", text, flags=re.S)
    text = re.sub(r"<[^>]+>", "", text).replace("•", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(line + ("" if not line or line[-1] in ".?!:" else ".") for line in lines)


def reading_ages() -> dict[str, float]:
    ages = {}
    for folder in FOR_PATIENTS:
        for path in sorted((MESSAGES / folder).glob("*.j2")):
            text = as_read(path.read_text(encoding="utf-8"))
            if len(text.split()) >= 8:  # a button's worth of words has no reading age
                ages[f"{folder}/{path.name.removesuffix('.html.j2')}"] = (
                    textstat.flesch_kincaid_grade(text) + 5
                )
    return ages


def test_patients_read_plain_english() -> None:
    ages = reading_ages()
    median = statistics.median(ages.values())
    worst = sorted(ages.items(), key=lambda item: item[1], reverse=True)[:5]
    print(f"\nreading age over {len(ages)} patient messages: median {median:.1f}; hardest: "
          + ", ".join(f"{name} {age:.1f}" for name, age in worst))  # fmt: skip
    assert len(ages) > 80  # every folder was read
    assert median <= MEDIAN_READING_AGE
    assert worst[0][1] <= WORST_READING_AGE, worst
