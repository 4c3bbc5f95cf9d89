"""Importing from an API: pages followed, summaries completed, retries, and a
clear error when the server can't be reached. The servers are aiohttp apps on
127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.directory import SourceUnavailable, import_directory, load_directory
from bot.directory.api import fetch_services
from bot.store import Database
from tests.directory.conftest import FIXTURES

ORUK1_SERVICES = json.loads((FIXTURES / "oruk1_services.json").read_text())
ORUK3_SERVICE = json.loads((FIXTURES / "oruk3_full_service.json").read_text())


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Any]]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def oruk1_app(requests: list[dict[str, str]]) -> web.Application:
    """Pages as ORUK 1.0 (Spring) serves them: `number` counts from 0."""

    async def services(request: web.Request) -> web.Response:
        requests.append(dict(request.query))
        page, size = int(request.query.get("page", 1)), int(request.query.get("per_page", 50))
        size = min(size, 2)  # this server gives at most two a page, whatever is asked
        total_pages = -(-len(ORUK1_SERVICES) // size)
        content = ORUK1_SERVICES[(page - 1) * size : page * size]
        return web.json_response(
            {
                "totalElements": len(ORUK1_SERVICES),
                "totalPages": total_pages,
                "number": page - 1,
                "size": size,
                "first": page == 1,
                "last": page >= total_pages,
                "empty": not content,
                "content": content,
            }
        )

    app = web.Application()
    app.router.add_get("/api/services", services)
    return app


async def test_oruk1_api_is_followed_across_pages(database: Database, serve: Any) -> None:
    requests: list[dict[str, str]] = []
    base = await serve(oruk1_app(requests))
    summary = await import_directory(database, f"{base}/api", backoff=0)
    assert summary.added == 5 and summary.format == "ORUK 1.0 API"
    assert [r["page"] for r in requests] == ["1", "2", "3"]
    assert summary.feed == f"{base.removeprefix('http://')}/api"
    index = await load_directory(database)
    assert {a.base.name for a in index.activities} >= {"Bootle Debt Clinic", "Netherton Job Club"}


async def test_oruk3_summaries_are_completed_from_the_service_endpoint(serve: Any) -> None:
    summary_only = {
        k: ORUK3_SERVICE[k] for k in ("id", "name", "description", "status", "organization")
    }
    hits: list[str] = []

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "total_items": 1,
                "total_pages": 1,
                "page_number": 1,
                "size": 1,
                "first_page": True,
                "last_page": True,
                "empty": False,
                "contents": [summary_only],
            }
        )

    async def detail(request: web.Request) -> web.Response:
        hits.append(request.match_info["id"])
        return web.json_response(ORUK3_SERVICE)

    app = web.Application()
    app.router.add_get("/services", listing)
    app.router.add_get("/services/{id}", detail)
    base = await serve(app)
    services, envelope = await fetch_services(f"{base}/services", backoff=0)
    assert envelope == "ORUK 3.0 pages"
    assert hits == [ORUK3_SERVICE["id"]]
    assert services[0]["service_at_locations"]


async def test_a_busy_server_is_tried_again(serve: Any) -> None:
    calls = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.json_response([ORUK3_SERVICE])

    app = web.Application()
    app.router.add_get("/services", flaky)
    services, _ = await fetch_services(await serve(app), backoff=0)
    assert calls == 3 and len(services) == 1


async def test_an_unreachable_server_gives_a_clear_error(database: Database) -> None:
    with socket.socket() as probe:  # a port nobody is listening on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceUnavailable) as unavailable:
        await import_directory(database, f"http://127.0.0.1:{port}/api", retries=1, backoff=0)
    message = str(unavailable.value)
    assert message.startswith(f"Could not reach 127.0.0.1:{port}")
    assert "The directory in use has not changed." in message


async def test_a_missing_endpoint_says_to_check_the_address(serve: Any) -> None:
    base = await serve(web.Application())
    with pytest.raises(SourceUnavailable, match="404 Not Found: check the address"):
        await fetch_services(f"{base}/api", backoff=0)
