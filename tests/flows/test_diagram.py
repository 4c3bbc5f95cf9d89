"""The diagrams are drawn from the flows' own tables, and show every move."""

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
    assert "free_times --> suggestions: answer [has_suggestions]" in diagram


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


def _label(row: dict[str, object]) -> str:
    conditions = row.get("conditions")
    if isinstance(conditions, list):  # drawn joined: [confirmed & alert_unseen]
        conditions = " & ".join(conditions)
    return f"{row['trigger']} [{conditions}]" if conditions else str(row["trigger"])


def test_every_move_in_the_referral_table_is_drawn() -> None:
    """What a clinical safety officer reviews is the whole table: each row is an
    arrow, either from its own state or from the group of states it applies to."""
    diagram = referral_diagram()
    # Two moves between the same states share one arrow: "a --> b: answer | want_contact".
    drawn = set()
    for line in diagram.splitlines():
        arrow, _, labels = line.strip().partition(": ")
        drawn |= {f"{arrow}: {label.removesuffix(' [internal]')}" for label in labels.split(" | ")}
    group_of = {tuple(states): name for name, (_, states) in referral.GROUPS.items()}
    dests_of: dict[tuple[str, str, str], list[str]] = {}
    for row in referral.TRANSITIONS:
        key = (row["trigger"], str(row["source"]), str(row.get("conditions")))
        dests_of.setdefault(key, []).append(row["dest"])
    for row in referral.TRANSITIONS:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        drawn_from = [group_of[tuple(sources)]] if tuple(sources) in group_of else sources
        dests = dests_of[(row["trigger"], str(row["source"]), str(row.get("conditions")))]
        drawn_to = group_of.get(tuple(dests), row["dest"]) if len(dests) > 1 else row["dest"]
        if row["dest"] is None:  # stays where it is (drawn as "[internal]")
            arrows = [f"{source} --> {source}: {row['trigger']}" for source in drawn_from]
        else:
            arrows = [f"{source} --> {drawn_to}: {_label(row)}" for source in drawn_from]
        assert any(arrow in drawn for arrow in arrows), (row, arrows)
    for name, (label, _) in referral.GROUPS.items():
        assert f'state "{label}" as {name}' in diagram


def test_a_link_worker_taking_over_and_going_back_after_restart_are_drawn() -> None:
    diagram = referral_diagram()
    assert "not_with_a_worker --> handed_off: worker_took_over" in diagram
    assert "any_question --> confirm_restart: restart" in diagram
    assert "confirm_restart --> any_question: answer [goes_back_there]" in diagram
