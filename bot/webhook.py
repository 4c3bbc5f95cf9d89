"""`spbot run --webhook`: Telegram posts each update to this instance (several sit
behind one load balancer, on one PostgreSQL). A small aiohttp app, rather than
python-telegram-bot's webhook server, because an update must be kept in the inbox
(a committed transaction) before Telegram hears 200, exactly as polling confirms an
update only once it is kept (docs/architecture.md rule 1); PTB answers 200 as soon
as an update is in its memory.

- `POST <the path of WEBHOOK_URL>`: an update. Refused (403) without the right
  `X-Telegram-Bot-Api-Secret-Token`; 200 once kept; 500 if the database cannot
  keep it (Telegram tries again later, and the person still gets the crisis
  contacts at once if they need them).
- `GET /healthz`: 200 with the backlog while the database answers, 503 if not.
- `GET /metrics`: Prometheus's text format (bot/metrics.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics
from bot.store import Database
from bot.store.db import trouble
from bot.store.health import Backlog, backlog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Telegram's updates are small; anything this big is not one.
MAX_BODY = 1 << 20
#: /healthz and /metrics wait this long for the database.
HEALTH_TIMEOUT = 5.0

#: Keeps one update (durably); False if the database could not.
Keep = Callable[[dict[str, Any]], Awaitable[bool]]


@dataclass(frozen=True)
class WebhookConfig:
    host: str
    port: int
    url: str
    secret: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


class WebhookServer:
    def __init__(
        self,
        config: WebhookConfig,
        keep: Keep,
        db: Database,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.keep = keep
        self.db = db
        self.metrics = metrics
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self.port = config.port

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.config.path, self._update)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.config.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("webhook listening", extra={"port": self.port, "path": self.config.path})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret.encode()):
            log.warning("webhook request without the right secret refused")
            return web.json_response({"ok": False}, status=403)
        try:
            payload = await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        except ConnectionResetError:
            # Telegram (or a proxy in front) hung up halfway: nothing came to keep,
            # and Telegram posts it again. Not an error of ours to log as one.
            log.info("webhook post cut off before its end")
            return web.json_response({"ok": False}, status=400)  # nobody is there to read it
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        if not await self.keep(payload):
            return web.json_response({"ok": False}, status=500)  # Telegram sends it again
        return web.json_response({"ok": True})

    async def _backlog(self) -> Backlog | None:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT), self.db.reading() as session:
                return await backlog(session, self.clock())
        except Exception as exc:
            log.warning("health check: %s", trouble(exc))
            return None

    async def _healthz(self, request: web.Request) -> web.Response:
        found = await self._backlog()
        if found is None:
            return web.json_response({"database": "unreachable"}, status=503)
        return web.json_response(
            {
                "database": "ok",
                "outbox_backlog": found.outbox,
                "oldest_unsent_seconds": round(found.oldest_unsent_seconds, 3),
                "inbox_waiting": found.inbox,
            }
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        body = self.metrics.render(await self._backlog())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
