from pathlib import Path

from flows import case, referral
from flows.diagram import case_diagram, in_readme, markers, referral_diagram

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_committed_readme_diagram_matches_the_flow_table() -> None:
    current = README.read_text(encoding="utf-8")
    assert in_readme(current) == current, "README.md's diagram is stale: run `make diagram`"


def test_the_diagram_draws_every_state_and_conditional_transition() -> None:
    diagram = referral_diagram()
    for state in referral.STATES:
        assert f'state "{state}"' in diagram
    assert "ons_anxious --> suggestions: answer [has_suggestions]" in diagram


def test_the_case_diagram_draws_the_life_of_a_case() -> None:
    diagram = case_diagram()
    for state in case.STATES:
        assert f'state "{state}"' in diagram
    assert "waiting --> claimed: claim" in diagram
    assert "closed --> claimed: reopen [holds_or_admin]" in diagram


def test_a_readme_without_the_case_markers_still_gets_its_referral_diagram() -> None:
    current = README.read_text(encoding="utf-8")
    begin, end = markers("case")
    without = current[: current.index(begin)] + current[current.index(end) + len(end) :]
    assert in_readme(without) == without
