from pathlib import Path

from flows import referral
from flows.diagram import in_readme, referral_diagram

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_committed_readme_diagram_matches_the_flow_table() -> None:
    current = README.read_text(encoding="utf-8")
    assert in_readme(current) == current, "README.md's diagram is stale: run `make diagram`"


def test_the_diagram_draws_every_state_and_conditional_transition() -> None:
    diagram = referral_diagram()
    for state in referral.STATES:
        assert f'state "{state}"' in diagram
    assert "ons_anxious --> suggestions: answer [has_suggestions]" in diagram
