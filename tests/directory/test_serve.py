"""The read-only Open Referral UK 3.0 API of our directory (issue 15): checked
against the UK profile's published OpenAPI schema (skipped without ../shared),
its paging and filters, and a round trip: export, import into an empty
database, the same activities."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.directory import import_directory, import_sample
from bot.directory.export import term_id
from bot.directory.index import record_of
from bot.directory.serve import DirectoryAPI
from bot.store import Database
from bot.store.directory import active_activities
from tests.conftest import SHARED

ORUK3 = SHARED / "open-referral-uk" / "oruk3"
REMOTE = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/"


@pytest.fixture
async def api(database: Database) -> AsyncIterator[TestClient[Any, Any]]:
    await import_sample(database)
    client = TestClient(TestServer(DirectoryAPI(database).app()))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def get(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.json() if status == 200 else await response.text()


class Schemas:
    """The profile's OpenAPI responses, their remote $refs read from ../shared."""

    def __init__(self) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        referencing = pytest.importorskip("referencing")
        if not (ORUK3 / "openapi.json").exists():
            pytest.skip(f"the ORUK 3.0 OpenAPI schema is not at {ORUK3} (../shared is absent)")
        self.openapi = json.loads((ORUK3 / "openapi.json").read_text(encoding="utf-8"))
        draft7 = referencing.jsonschema.DRAFT7
        resources = []
        for file in [*ORUK3.glob("*.json"), *ORUK3.glob("compiled/*.json")]:
            relative = file.relative_to(ORUK3).as_posix()
            contents = json.loads(file.read_text(encoding="utf-8"))
            resources.append((REMOTE + relative, draft7.create_resource(contents)))
        self.registry = referencing.Registry().with_resources(resources)
        self.jsonschema = jsonschema

    def check(self, path: str, body: Any) -> None:
        response = self.openapi["paths"][path]["get"]["responses"]["200"]
        schema = json.loads(
            json.dumps(response["content"]["application/json"]["schema"]).replace(
                '"#/components/schemas/Page"', '"#/definitions/Page"'
            )
        )
        schema["definitions"] = {"Page": self.openapi["components"]["schemas"]["Page"]}
        if "allOf" in schema:  # a page: its envelope's fields must all be there
            schema["required"] = ["total_items", "total_pages", "page_number", "size",
                                  "first_page", "last_page", "empty", "contents"]  # fmt: skip
        validator = self.jsonschema.Draft7Validator(
            schema, registry=self.registry, format_checker=self.jsonschema.FormatChecker()
        )
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, (path, errors[:5])


async def test_every_endpoint_follows_the_profiles_openapi_schema(
    api: TestClient[Any, Any],
) -> None:
    schemas = Schemas()
    schemas.check("/", await get(api, "/"))
    page = await get(api, "/services?page=1&per_page=100")
    schemas.check("/services", page)
    assert page["total_items"] == 42 and page["size"] == 42
    for summary in page["contents"]:
        schemas.check("/services/{id}", await get(api, f"/services/{summary['id']}"))
    links = await get(api, "/service_at_locations?per_page=100")
    schemas.check("/service_at_locations", links)
    first = links["contents"][0]
    schemas.check(
        "/service_at_locations/{id}", await get(api, f"/service_at_locations/{first['id']}")
    )
    terms = await get(api, "/taxonomy_terms?per_page=200")
    schemas.check("/taxonomy_terms", terms)
    term = terms["contents"][0]
    schemas.check("/taxonomy_terms/{id}", await get(api, f"/taxonomy_terms/{term['id']}"))
    taxonomies = await get(api, "/taxonomies")
    schemas.check("/taxonomies", taxonomies)
    schemas.check(
        "/taxonomies/{id}", await get(api, f"/taxonomies/{taxonomies['contents'][0]['id']}")
    )


async def test_paging_and_filters(api: TestClient[Any, Any]) -> None:
    page = await get(api, "/services?page=5&per_page=10")
    assert (page["total_items"], page["total_pages"], page["page_number"], page["size"]) == (
        42, 5, 5, 2
    )  # fmt: skip
    assert page["last_page"] and not page["first_page"] and not page["empty"]
    beyond = await get(api, "/services?page=6&per_page=10")
    assert beyond["empty"] and beyond["contents"] == []

    walking = await get(api, f"/services?taxonomy_term_id={term_id('Walking')}")
    assert sorted(s["name"] for s in walking["contents"]) == [
        "Ainsdale Health Walk", "Seafront Health Walk"
    ]  # fmt: skip

    near = await get(api, "/services?postcode=L20%203AB&proximity=1000&per_page=100")
    names = [s["name"] for s in near["contents"]]
    assert names and "Ainsdale Health Walk" not in names  # Southport: far away
    assert "Evening Money Helpline" in names  # by phone: it reaches everyone
    everything = await get(api, "/services?postcode=L20%203AB&per_page=100")
    assert (
        everything["total_items"] == 42
        and everything["contents"][0]["name"] != "Ainsdale Health Walk"
    )

    assert (await get(api, "/services?modified_after=2099-01-01T00:00:00Z"))["empty"]
    assert (await get(api, "/services?modified_after=2000-01-01"))["total_items"] == 42
    assert "not a postcode" in await get(api, "/services?postcode=nowhere", status=400)
    await get(api, "/services/no-such-id", status=404)


async def test_no_patient_data_is_ever_served(api: TestClient[Any, Any]) -> None:
    body = json.dumps(await get(api, "/services?per_page=100"))
    for word in ("patient", "case", "telegram", "chat_id", "answers"):
        assert f'"{word}' not in body


async def test_export_then_import_gives_the_same_activities(
    database: Database, api: TestClient[Any, Any], tmp_path: Path
) -> None:
    listing = await get(api, "/services?per_page=100")
    services = [await get(api, f"/services/{s['id']}") for s in listing["contents"]]
    exported = tmp_path / "exported.json"
    exported.write_text(json.dumps(services), encoding="utf-8")

    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}")
    await other.upgrade()
    try:
        summary = await import_directory(other, exported, feed="neighbours")
        assert summary.added == 42 and not summary.warnings
        before = await _activities(database)
        after = await _activities(other)
    finally:
        await other.close()
    assert sorted(after) == sorted(before)
    for name, record in before.items():
        assert after[name] == record, name


async def _activities(db: Database) -> dict[str, Any]:
    """Each active activity as the record matching works on, without the ids a
    feed gives (each scheme has its own)."""
    async with db.sessions() as session:
        activities = await active_activities(session)
    found = {}
    for activity in activities:
        record = record_of(activity)
        organisation = replace(record.organisation, source_id="")
        # Need areas are a set (their order means nothing, and PostgreSQL may give
        # the terms they come from in another order).
        found[record.name] = replace(record, source_id="", organisation=organisation,
                                     need_areas=tuple(sorted(record.need_areas)))  # fmt: skip
    return found


def test_spbot_directory_serve(tmp_path: Path) -> None:
    """The command serves until SIGTERM, then stops cleanly."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url}
    spbot = Path(sys.executable).with_name("spbot")
    subprocess.run([spbot, "directory", "import", "--sample"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen(
        [spbot, "directory", "serve", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/services?per_page=1") as r:
                    page = json.loads(r.read())
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr
                time.sleep(0.2)
        assert page["total_items"] == 42 and page["size"] == 1
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=15)
    assert server.returncode == 0
    assert f"http://127.0.0.1:{port}/services" in out
