"""Fetching services from an Open Referral UK API, page by page.

Given a base URL (`https://example.org/api`) we read `/services`; given the
`/services` endpoint or any JSON URL, we read that. Both paging envelopes live
feeds serve are followed to the last page:

- ORUK 3.0: `{total_items, total_pages, page_number, size, first_page, last_page, empty, contents}`
- ORUK 1.0: `{totalElements, totalPages, number, size, first, last, empty, content}`

ORUK 3.0 list pages may carry only a summary of each service; those are completed
from `/services/{id}`. Network errors and busy servers (429, 5xx) are retried with
a growing pause; a server that cannot be reached ends the import with one clear
sentence and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

from bot.directory.records import ImportRejected, Problem, SourceUnavailable

#: Keys only a full service record has; a listing item with none is a summary.
DETAIL_KEYS = frozenset(
    {
        "service_at_locations", "locations", "schedules", "regular_schedules", "attributes",
        "service_taxonomys", "service_taxonomies", "contacts", "cost_options",
    }
)  # fmt: skip
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 10_000  # a feed that never says "last page" must still end
REQUEST_SECONDS = 30.0


def services_endpoint(url: str) -> str:
    """The URL to page through: the base URL's /services, unless the URL already
    names an endpoint or a file."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/services") or path.endswith(".json") or urlsplit(url).query:
        return url
    return url.rstrip("/") + "/services"


class ServiceFetcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        per_page: int = 100,
        retries: int = 3,
        backoff: float = 0.5,
        detail_concurrency: int = 8,
        progress: bool = False,
    ) -> None:
        self.client = client
        self.per_page = per_page
        self.retries = retries
        self.backoff = backoff
        self.detail_slots = asyncio.Semaphore(detail_concurrency)
        self.progress = progress

    async def services(self, url: str) -> tuple[list[Any], str]:
        """Every service the feed lists (with details), and which paging it used."""
        endpoint = services_endpoint(url)
        items: list[Any] = []
        envelope = "none"
        bar = tqdm(desc="Fetching pages", unit=" pages", disable=not self.progress)
        page = 1
        with bar:
            while page <= MAX_PAGES:
                document = await self.get_json(endpoint, self._page_params(endpoint, page))
                contents, envelope, last = read_page(document, page)
                last = last or urlsplit(endpoint).path.endswith(".json")
                items.extend(contents)
                bar.update(1)
                if last or not contents:
                    break
                page += 1
        summaries = [
            i
            for i, item in enumerate(items)
            if isinstance(item, dict) and not DETAIL_KEYS & item.keys()
        ]
        if summaries and envelope != "none":
            await self._complete(endpoint, items, summaries)
        return items, envelope

    def _page_params(self, endpoint: str, page: int) -> dict[str, Any] | None:
        if urlsplit(endpoint).path.endswith(".json"):
            return None  # a file published as it is: there are no pages to ask for
        return {"page": page, "per_page": self.per_page}

    async def _complete(self, endpoint: str, items: list[Any], positions: list[int]) -> None:
        base = endpoint.split("?", 1)[0].rstrip("/")
        bar = tqdm(total=len(positions), desc="Fetching services", disable=not self.progress)

        async def one(position: int) -> None:
            service_id = items[position].get("id")
            if service_id is None:
                return
            async with self.detail_slots:
                detail = await self.get_json(f"{base}/{service_id}", None)
            if isinstance(detail, dict):
                items[position] = detail
            bar.update(1)

        with bar:
            await asyncio.gather(*(one(position) for position in positions))

    async def get_json(self, url: str, params: dict[str, Any] | None) -> Any:
        response = await self._get(url, params)
        try:
            return json.loads(response.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = (
                f"line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else "the text"
            )
            raise ImportRejected(
                str(response.url),
                [Problem(str(response.url), where, f"is not valid JSON ({_reason(exc)})")],
                1,
            ) from None

    async def _get(self, url: str, params: dict[str, Any] | None) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self.client.get(url, params=params)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise SourceUnavailable(
                        f"Could not reach {_host(url)} ({_transport_reason(exc)}) after "
                        f"{attempt + 1} tries: check the address and your connection, then "
                        "try again. The directory in use has not changed."
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    raise SourceUnavailable(
                        f"{response.url} answered {response.status_code} "
                        f"{response.reason_phrase}: "
                        + (
                            "check the address (an API base URL such as https://example.org/api, "
                            "or its /services endpoint)."
                            if response.status_code == 404
                            else "try again later. The directory in use has not changed."
                        )
                    )
                await asyncio.sleep(_retry_after(response))
            await asyncio.sleep(self.backoff * (2**attempt))
            attempt += 1


def read_page(document: Any, page: int) -> tuple[list[Any], str, bool]:
    """The services on one page, which envelope it used, and whether it is the last."""
    if isinstance(document, list):
        return document, "none", True
    if not isinstance(document, dict):
        return [], "none", True
    if "contents" in document:  # ORUK 3.0
        contents = document.get("contents") or []
        total = document.get("total_pages")
        last = bool(document.get("last_page")) or (isinstance(total, int) and page >= total)
        return list(contents), "ORUK 3.0 pages", last
    if "content" in document:  # ORUK 1.0 (Spring pages)
        contents = document.get("content") or []
        total = document.get("totalPages")
        last = bool(document.get("last")) or (isinstance(total, int) and page >= total)
        return list(contents), "ORUK 1.0 pages", last
    return [document], "none", True


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), 30.0)
    except ValueError:
        return 0.0


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the connection was refused or the name was not found"
    return type(exc).__name__


def _reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


async def fetch_services(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    progress: bool = False,
    retries: int = 3,
    backoff: float = 0.5,
) -> tuple[list[Any], str]:
    """All services at `url`, following pages. See the module docstring.
    Each request may take up to REQUEST_SECONDS before it counts as failed."""
    if client is not None:
        return await ServiceFetcher(
            client, progress=progress, retries=retries, backoff=backoff
        ).services(url)
    async with httpx.AsyncClient(
        timeout=REQUEST_SECONDS, follow_redirects=True, headers={"Accept": "application/json"}
    ) as own_client:
        return await ServiceFetcher(
            own_client, progress=progress, retries=retries, backoff=backoff
        ).services(url)
