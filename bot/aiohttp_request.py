"""python-telegram-bot's requests to the Bot API, made with aiohttp.

python-telegram-bot sends its requests through a `BaseRequest` (its documented
way to change the networking library); its own, `HTTPXRequest`, uses httpx. Over
httpx a sendMessage cost 0.8-0.9 ms of CPU, and over aiohttp 0.4 ms (2,000 each,
to the Bot API stand-in in a process of its own): every update costs a
getUpdates and at least one send, so that was 0.9 ms of the bot's 10 an update
(issue 16). aiohttp already serves the webhook (bot/webhook.py).

What python-telegram-bot expects of a request is kept: timeouts raise `TimedOut`,
every other failure to get an answer `NetworkError` (delivery and the receiver
retry both: bot/delivery.py, bot/telegram.py), and a file goes as multipart.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """`HTTPXRequest`'s settings (a pool of connections, and timeouts in seconds:
    None waits for ever), over aiohttp. A write has no timeout of its own in
    aiohttp: the whole request is bounded by connect, write and read together."""

    __slots__ = ("_connect", "_pool", "_pool_size", "_read", "_session", "_write")

    def __init__(
        self,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write = read_timeout, write_timeout
        self._connect, self._pool = connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = self._write if isinstance(write_timeout, DefaultValue) else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp's `connect` is the wait for a pooled connection and the connecting.
        waits = (pool, connect)
        timeout = aiohttp.ClientTimeout(
            total=_sum(read, write, pool, connect),
            connect=_sum(*waits),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class named, as HTTPXRequest does: many of aiohttp's say nothing else.
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _sum(*seconds: float | None) -> float | None:
    """Several waits together (None: one of them is for ever)."""
    return None if any(s is None for s in seconds) else sum(s for s in seconds if s is not None)


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """The parameters as a form, as HTTPXRequest sends them; as multipart with files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
