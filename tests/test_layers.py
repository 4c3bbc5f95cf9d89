"""The rules that keep the layers honest (docs/architecture.md), checked on the
source itself so that a change that breaks one fails here, not in review.

- `flows/` is pure: it imports nothing from `bot` and does no I/O.
- `bot/patients` and `bot/staff` never import each other.
- Only `bot/store` builds SQL, and units of work are opened only as
  transactions or looks (`bot.store.db.Database`).
- A conversation's state changes only in `bot.store.patients.save_conversation`
  (a check-in's in `bot.store.checkins.save_check_in`), from what a flow
  returned; a flow moves only through its table's triggers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUERY_BUILDERS = {"select", "update", "delete", "insert", "text", "func", "exists", "and_", "or_"}


def modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text("utf-8"))


def imports(tree: ast.Module) -> Iterator[tuple[str, list[str]]]:
    """(module, names) for every import, at any depth (local imports count too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


@pytest.mark.parametrize(("side", "other"), [("bot/patients", "bot.staff"),
                                             ("bot/staff", "bot.patients")])  # fmt: skip
def test_the_two_front_doors_do_not_import_each_other(side: str, other: str) -> None:
    found = [
        (path, module)
        for path, tree in modules(side)
        for module, _ in imports(tree)
        if module == other or module.startswith(other + ".")
    ]
    assert found == []


def test_only_the_store_builds_sql() -> None:
    found = []
    for path, tree in modules("bot", "flows"):
        if path.startswith("bot/store/"):
            continue
        for module, names in imports(tree):
            if not module.startswith("sqlalchemy"):
                continue
            if module == "sqlalchemy" and not names:  # `import sqlalchemy`
                found.append((path, module))
            if (
                module.startswith(("sqlalchemy.dialects", "sqlalchemy.sql"))
                or set(names) & QUERY_BUILDERS
            ):
                found.append((path, f"{module}: {names}"))
    assert found == []


def test_units_of_work_are_opened_only_as_transactions_or_looks() -> None:
    """Outside bot/store/db.py the bot opens a unit of work only as
    `Database.transaction`, `durable_transaction` or `reading`: on SQLite a session
    of its own would take the write lock without waiting its turn, even to read
    (docs/architecture.md, "SQLite's writers take turns")."""
    found = [
        (path, node.lineno)
        for path, tree in modules("bot")
        if path != "bot/store/db.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sessions"  # `db.sessions()`, not an activity's sessions
    ]
    assert found == []


def test_flows_are_pure() -> None:
    found = [
        (path, module)
        for path, tree in modules("flows")
        for module, _ in imports(tree)
        if module.split(".")[0] in {"bot", "sqlalchemy", "telegram", "aiohttp", "httpx", "asyncio"}
    ]
    assert found == []


def _state_assignments(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """(enclosing function, line) of every `<something>.state = ...`."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            targets = (
                node.targets if isinstance(node, ast.Assign)
                else [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign)
                else []
            )  # fmt: skip
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Attribute) and leaf.attr == "state":
                        yield function.name, node.lineno


#: The only places a stored conversation's state is set: from a flow's result.
SAVED_FROM_A_FLOW = {
    ("bot/store/patients.py", "save_conversation"),
    ("bot/store/checkins.py", "save_check_in"),
}


def test_a_conversation_state_changes_only_where_a_flow_result_is_saved() -> None:
    found = [
        (path, function, line)
        for path, tree in modules("bot")
        for function, line in _state_assignments(tree)
        if (path, function) not in SAVED_FROM_A_FLOW
    ]
    assert found == []


def test_a_flow_moves_only_through_its_table() -> None:
    """Its model is given the stored state when it is built; after that only the
    machine's triggers move it (no set_state, no assignment)."""
    found = [
        (path, function, line)
        for path, tree in modules("flows")
        for function, line in _state_assignments(tree)
        if function != "__init__"
    ]
    calls = [
        (path, node.lineno)
        for path, tree in modules("bot", "flows")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("set_state", "to_state")
    ]
    assert found == [] and calls == []
