"""A read-only Open Referral UK 3.0 API of the directory (`spbot directory serve`),
so a council or a neighbouring scheme can reuse what link workers have curated.

    GET /                          about this API
    GET /services                  paged: page, per_page; filters: postcode with
                                   proximity (metres), taxonomy_term_id, taxonomy_id,
                                   modified_after, organization_id, search
    GET /services/{id}             a fully nested service
    GET /service_at_locations      paged, the same filters
    GET /service_at_locations/{id}
    GET /taxonomies, /taxonomies/{id}, /taxonomy_terms, /taxonomy_terms/{id}

Pages use the profile's envelope `{total_items, total_pages, page_number, size,
first_page, last_page, empty, contents}`. Only active activities are served, and
only the directory's tables are read: no patient data, ever. The records are
built once per directory version (`directory_version`: one cheap query a request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.directory.export import (
    TAXONOMY_ID,
    service_id,
    service_record,
    service_summary,
    taxonomy_record,
    term_id,
    term_record,
)
from bot.directory.postcodes import area_of, distance_miles, load_centroids, normalise_postcode
from bot.store import Database
from bot.store import directory as store
from bot.store.directory import Activity

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 50
METRES_PER_MILE = 1609.344
PROFILE_URL = "https://github.com/openreferral/uk-profile"


@dataclass
class _Held:
    version: int
    activities: list[Activity]
    full: dict[str, dict[str, Any]]  # service id -> nested service
    centroids: Any


class DirectoryAPI:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._held: _Held | None = None

    async def held(self) -> _Held:
        version = await _version(self.db)
        if self._held is None or self._held.version != version:
            async with self.db.reading(one_snapshot=True) as session:
                activities = await store.active_activities(session)
                areas = {area_of(p.postcode) for a in activities for p in a.locations if p.postcode}
                centroids = await load_centroids(session, areas)
            full = {service_id(a): service_record(a) for a in activities}
            self._held = _Held(version, activities, full, centroids)
        return self._held

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self.about),
                web.get("/services", self.services),
                web.get("/services/{id}", self.service),
                web.get("/service_at_locations", self.service_at_locations),
                web.get("/service_at_locations/{id}", self.service_at_location),
                web.get("/taxonomies", self.taxonomies),
                web.get("/taxonomies/{id}", self.taxonomy),
                web.get("/taxonomy_terms", self.taxonomy_terms),
                web.get("/taxonomy_terms/{id}", self.taxonomy_term),
            ]
        )
        return app

    # --- endpoints ------------------------------------------------------------------

    async def about(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"version": "3.0", "profile": PROFILE_URL,
             "openapi_url": "https://raw.githubusercontent.com/openreferral/uk-profile/main/openapi.json"}
        )  # fmt: skip

    async def services(self, request: web.Request) -> web.Response:
        held = await self.held()
        chosen = self._filtered(held, request)
        return _page(request, [service_summary(a) for a in chosen])

    async def service(self, request: web.Request) -> web.Response:
        held = await self.held()
        found = held.full.get(request.match_info["id"])
        if found is None:
            raise _not_found("service")
        return web.json_response(found)

    async def service_at_locations(self, request: web.Request) -> web.Response:
        held = await self.held()
        rows = []
        for activity in self._filtered(held, request):
            for link in held.full[service_id(activity)]["service_at_locations"]:
                rows.append(
                    {
                        "id": link["id"],
                        "service_id": link["service_id"],
                        "location_id": link["location_id"],
                        "service": service_summary(activity),
                        "location": {k: v for k, v in link["location"].items()
                                     if not isinstance(v, list)},
                    }
                )  # fmt: skip
        return _page(request, rows)

    async def service_at_location(self, request: web.Request) -> web.Response:
        held = await self.held()
        wanted = request.match_info["id"]
        for service in held.full.values():
            if any(link["id"] == wanted for link in service["service_at_locations"]):
                return web.json_response(service)
        raise _not_found("service_at_location")

    async def taxonomies(self, request: web.Request) -> web.Response:
        return _page(request, [taxonomy_record()])

    async def taxonomy(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != TAXONOMY_ID:
            raise _not_found("taxonomy")
        return web.json_response(taxonomy_record())

    async def taxonomy_terms(self, request: web.Request) -> web.Response:
        held = await self.held()
        return _page(request, [term_record(name) for name in _terms(held)])

    async def taxonomy_term(self, request: web.Request) -> web.Response:
        held = await self.held()
        for name in _terms(held):
            if term_id(name) == request.match_info["id"]:
                return web.json_response(term_record(name))
        raise _not_found("taxonomy_term")

    # --- filters ----------------------------------------------------------------------

    def _filtered(self, held: _Held, request: web.Request) -> list[Activity]:
        query = request.query
        chosen = list(held.activities)
        term = query.get("taxonomy_term_id")
        if term:
            chosen = [a for a in chosen if any(term_id(t) == term for t in a.taxonomy_terms)]
        if query.get("taxonomy_id"):
            chosen = chosen if query["taxonomy_id"] == TAXONOMY_ID else []
        if query.get("organization_id"):
            chosen = [a for a in chosen
                      if service_summary(a)["organization_id"] == query["organization_id"]]  # fmt: skip
        if query.get("search"):
            words = query["search"].lower()
            chosen = [a for a in chosen if words in f"{a.name}\n{a.description}".lower()]
        if query.get("modified_after"):
            after = _datetime(query["modified_after"])
            chosen = [a for a in chosen if _aware(a.updated_at) >= after]
        if query.get("postcode"):
            chosen = self._near(held, chosen, query["postcode"], query.get("proximity"))
        return chosen

    def _near(
        self, held: _Held, chosen: list[Activity], postcode: str, proximity: str | None
    ) -> list[Activity]:
        """Activities within `proximity` metres of the postcode's centre, nearest
        first; without a proximity, all of them, nearest first (those without a
        place last). Online and phone activities reach everyone."""
        normal = normalise_postcode(postcode)
        point = held.centroids.locate(normal) if normal else None
        if point is None:
            raise web.HTTPBadRequest(
                text=f"postcode {postcode!r} is not a postcode this directory can place"
            )
        limit = None
        if proximity:
            try:
                limit = float(proximity) / METRES_PER_MILE
            except ValueError:
                raise web.HTTPBadRequest(text="proximity is a distance in metres") from None

        def miles(activity: Activity) -> float:
            found = [
                distance_miles(point, spot)
                for place in activity.locations
                if (spot := _spot(place, held.centroids)) is not None
            ]
            if not found:
                return 0.0 if (activity.online or activity.by_phone) else math.inf
            return min(found)

        measured = sorted(((miles(a), a.id, a) for a in chosen), key=lambda t: (t[0], t[1]))
        return [a for distance, _, a in measured if limit is None or distance <= limit]


def _spot(place: Any, centroids: Any) -> tuple[float, float] | None:
    if place.latitude is not None and place.longitude is not None:
        return (place.latitude, place.longitude)
    located: tuple[float, float] | None = centroids.locate(place.postcode)
    return located


def _terms(held: _Held) -> list[str]:
    return sorted({t for a in held.activities for t in a.taxonomy_terms}, key=str.lower)


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    try:
        page = max(1, int(request.query.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(request.query.get("per_page", DEFAULT_PER_PAGE))))
    except ValueError:
        raise web.HTTPBadRequest(text="page and per_page are whole numbers") from None
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return web.json_response(
        {
            "total_items": total,
            "total_pages": pages,
            "page_number": page,
            "size": len(contents),
            "first_page": page == 1,
            "last_page": page >= pages,
            "empty": not contents,
            "contents": contents,
        }
    )


def _datetime(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(text="modified_after is a date and time (ISO 8601)") from None
    return _aware(when)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f"no such {what}")


async def _version(db: Database) -> int:
    async with db.reading() as session:
        return await store.directory_version(session) or 0
