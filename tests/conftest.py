"""Shared fixtures. `database` (and `fresh_database_url`) runs a test on SQLite and, when
SPBOT_TEST_POSTGRES_URL is set, again on PostgreSQL in a database of its own (so
parallel runs on one server never see each other's rows), copied from one migrated
template per test process (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.safety import model_files
from bot.safety.meaning import MeaningScreen
from bot.safety.model_files import ModelFilesError
from bot.store import Database
from tests.postgres import POSTGRES_URL, SKIP_REASON, drop_templates, template

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and "postgresql" in (
            callspec.params.get("database"),
            callspec.params.get("fresh_database_url"),
            callspec.params.get("e2e_database_url"),
        ):
            item.add_marker(pytest.mark.postgres)


_sqlite_template: list[bytes] = []


async def migrated_sqlite(path: Path) -> None:
    """A migrated, empty SQLite file at `path` (readable by its owner only): a copy
    of one migrated once per test process (migrating takes a third of a second)."""
    if not _sqlite_template:
        with tempfile.TemporaryDirectory() as folder:
            template = Path(folder) / "template.sqlite3"
            db = Database(f"sqlite+aiosqlite:///{template}")
            await db.upgrade()
            await db.checkpoint()
            await db.close()
            _sqlite_template.append(template.read_bytes())
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(_sqlite_template[0])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_templates()


# -- a hung test says where it hangs ---------------------------------------------------
#: Before pytest-timeout ends a hung test (pyproject.toml), every asyncio task's stack
#: is printed: its own dump shows only threads, and an asyncio test hangs in a task
#: while its thread sits in `select`.
TASKS_BEFORE_TIMEOUT = 15.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    limit = (
        float(marker.args[0])
        if marker and marker.args
        else float(item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)
    )
    timer = None
    if limit > TASKS_BEFORE_TIMEOUT:
        main = threading.main_thread()
        timer = threading.Timer(limit - TASKS_BEFORE_TIMEOUT, _print_tasks, (item, main))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _print_tasks(item: pytest.Item, thread: threading.Thread) -> None:
    """Every task of the event loop running in `thread` (found on its stack), on the
    process's own stderr (an xdist worker's reaches the terminal; what a test
    prints is captured, and lost when the worker is ended)."""
    frame = sys._current_frames().get(thread.ident or 0)
    loop = None
    while frame is not None and loop is None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            loop = candidate
        frame = frame.f_back
    out = io.StringIO()
    print(f"\n{item.nodeid} is still running; its asyncio tasks:", file=out)
    if loop is None:
        print("  (no event loop running)", file=out)
    else:
        for _ in range(3):  # the set of tasks may change while it is read
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                tasks = []
        for task in tasks:
            print(f"  {task.get_name()}:", file=out)
            for where in _awaiting(task.get_coro()):
                print(f"    {where}", file=out)
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    os.write(2, out.getvalue().encode(errors="replace"))


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a migrated, empty PostgreSQL database of this test's own (skipped,
    saying why, without SPBOT_TEST_POSTGRES_URL)."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database's URL: a SQLite file, or a PostgreSQL database of
    this test's own."""
    if request.param == "sqlite":
        await migrated_sqlite(tmp_path / "test.sqlite3")
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy() as url:
        yield url


@pytest.fixture
async def database(fresh_database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database (on both, see `fresh_database_url`)."""
    db = Database(fresh_database_url)
    yield db
    await db.close()


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The embedding model's folder, fetched once if it is not there (`make install`
    fetches it); the test is skipped, saying why, when it cannot be had."""
    pytest.importorskip("tokenizers", reason="the encoder needs the `tokenizers` package")
    folder = model_files.default_model_dir()
    try:
        return model_files.verify(folder)
    except ModelFilesError as missing:
        if os.environ.get("SPBOT_NO_MODEL_FETCH"):
            pytest.skip(f"embedding model not available (SPBOT_NO_MODEL_FETCH is set): {missing}")
    try:
        return model_files.fetch(folder)
    except ModelFilesError as exc:
        pytest.skip(f"embedding model not available and could not be fetched: {exc}")


@pytest.fixture(scope="session")
def meaning_screen(model_dir: Path) -> MeaningScreen:
    """The meaning-based crisis screen, loaded once per test process."""
    return MeaningScreen.load(model_dir)


def _awaiting(coro: object) -> Iterator[str]:
    """Where a suspended coroutine waits, outermost first: the chain of awaits (a
    task's own stack shows only its outermost frame)."""
    for _ in range(40):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            return
        yield f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
