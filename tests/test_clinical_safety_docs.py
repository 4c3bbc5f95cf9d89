"""The hazard log and the privacy document cite the tests that prove each control:
a clinical safety officer or a data protection officer relies on those names, so
every one must exist (a renamed test would otherwise leave them pointing at
nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The documents a clinical safety officer or a data protection officer relies on.
DOCS = [*sorted((ROOT / "docs" / "clinical-safety").glob("*.md")), ROOT / "docs" / "privacy.md"]


@pytest.mark.parametrize("document", DOCS, ids=lambda p: p.name)
def test_every_test_the_safety_documents_cite_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)", text))
    missing = [
        f"{path}::{name}"
        for path, name in sorted(cited)
        if not (ROOT / path).exists()
        or not re.search(rf"def {name}\b", (ROOT / path).read_text(encoding="utf-8"))
    ]
    assert not missing, f"{document.name} cites tests that do not exist: {missing}"
