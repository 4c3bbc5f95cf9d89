"""Crisis-language screening.

Every free-text message is screened before the conversation sees it. A match
means: reply at once with crisis contacts (the template `Screening.template`,
under messages/<lang>/safety/) and flag the case as urgent for a link worker.
The screen only signposts and flags; it never scores risk and never decides
anything about the person: a link worker does.

    >>> from bot.safety import screen
    >>> s = screen("i dont want to be here anymore")
    >>> s.category, s.is_crisis
    ('suicide', True)
    >>> screen("just killing time til my appointment").is_crisis
    False

The rules are data, in bot/safety/rules.yaml, for a clinical safety officer to
read and extend; they are loaded and compiled once, when this package is
imported. `screen` is pure and deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.safety.rules import CATEGORIES, CONCERNS, RULES_FILE, RulesError, RuleSet, load_rules
from bot.safety.screening import Screener, Screening

if TYPE_CHECKING:
    from bot.safety.meaning import Meaning

__all__ = [
    "CATEGORIES",
    "CONCERNS",
    "RULES_FILE",
    "RuleSet",
    "RulesError",
    "Screener",
    "Screening",
    "load_rules",
    "more_serious",
    "screen",
]

_screener = Screener(load_rules())


def screen(text: str, *, after_alert: bool = False, meaning: Meaning | None = None) -> Screening:
    """Screen one message for crisis language (see bot/safety/screening.py).
    `after_alert`: they raised a safety alert a short while ago; `meaning`: what
    the meaning-based screen read in it (bot/safety/meaning.py), if it ran."""
    return _screener.screen(text, after_alert=after_alert, meaning=meaning)


def more_serious(category: str, than: str) -> bool:
    """Whether `category` needs faster action than `than` (rules.yaml's severity order)."""
    order = _screener.rules.severity
    return order.index(category) < order.index(than)
