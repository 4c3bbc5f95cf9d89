"""ONS4 personal well-being: the four questions' bands, as ONS publishes them.

Satisfaction, worthwhile and happiness: 0-4 low, 5-6 medium, 7-8 high, 9-10 very
high. Anxiety (lower is better): 0-1 very low, 2-3 low, 4-5 medium, 6-10 high.
"""

from __future__ import annotations

#: The stored names of the four questions, in the order they are asked.
MEASURES = ("life_satisfaction", "worthwhile", "happiness", "anxiety")

_POSITIVE = ((4, "low"), (6, "medium"), (8, "high"), (10, "very_high"))
_ANXIETY = ((1, "very_low"), (3, "low"), (5, "medium"), (10, "high"))


def band(measure: str, score: int | None) -> str | None:
    """The ONS band of a 0-10 score ("low", "medium", "high", "very_high",
    "very_low"), or None for a skipped question."""
    if score is None:
        return None
    if measure not in MEASURES:
        raise ValueError(f"not an ONS4 measure: {measure!r}")
    if not 0 <= score <= 10:
        raise ValueError(f"ONS4 scores are 0-10, not {score}")
    bands = _ANXIETY if measure == "anxiety" else _POSITIVE
    return next(name for top, name in bands if score <= top)
