"""A TCP proxy in front of PostgreSQL that a test can break on purpose.

The shared PostgreSQL server is never touched: the bot is pointed at the proxy, and
the test switches the proxy's mode while the bot runs.

    async with PgProxy() as proxy:
        settings = Settings(database_url=proxy.url("spbot_fault_1234"), ...)
        proxy.refuse()   # new connections are closed at once, open ones are cut
        proxy.freeze()   # connections stay open, but no byte passes either way
        proxy.forward()  # back to normal (for connections not stranded by freeze)
        proxy.cut()      # drop every open connection once, mid-stream
        proxy.forget()   # open connections are reset when the client next speaks

Freezing is the fault a timeout must catch: nothing fails, nothing arrives. A
connection open when the proxy froze stays silent for good, even after `forward()`,
as behind a firewall that has forgotten it (only the client's own timeout, or
`cut()`/`refuse()`, ends it); a connection opened during the freeze waits, and goes
through after `forward()`, as a retried SYN would. With `freeze(resume=True)` the
open connections carry on after `forward()` instead, as TCP does when a network
comes back before it gives up.

Forgetting is the fault only asking finds: nothing arrives to say a connection is
gone (as when a firewall or NAT forgets an idle one, or a server's host dies), and
the client learns it only when it next sends something, and is answered with a
reset.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Literal, Self

Mode = Literal["forward", "refuse", "freeze"]
CHUNK = 64 * 1024


class PgProxy:
    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "forward"
        #: Connections accepted, all modes (a reconnecting client shows up here).
        self.accepted = 0
        #: Connections closed at once because the proxy was refusing.
        self.refused = 0
        #: Connections ended by `cut()` or by switching to `refuse()`.
        self.cut_count = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        assert self._server is not None
        self._server.close()
        self._drop_all()
        await self._server.wait_closed()

    def url(self, database: str = "test", user: str = "postgres") -> str:
        """A SQLAlchemy URL reaching `database` through the proxy."""
        return f"postgresql+asyncpg://{user}@127.0.0.1:{self.port}/{database}"

    # -- modes -------------------------------------------------------------------------

    def forward(self) -> None:
        """Pass bytes both ways (but a stranded connection stays silent: see freeze)."""
        self.mode = "forward"
        self._flowing.set()

    def refuse(self) -> None:
        """Close new connections as soon as they open, and cut the open ones."""
        self.mode = "refuse"
        self._flowing.set()  # nothing waits in a frozen state: they are all cut
        self.cut()

    def freeze(self, *, resume: bool = False) -> None:
        """Keep every connection open, new ones too, but let no byte through. Unless
        `resume`, the connections open now never pass a byte again."""
        self.mode = "freeze"
        self._flowing.clear()
        if not resume:
            for link in self._links:
                link.stranded = link.upstream is not None

    def forget(self) -> None:
        """Forget every open connection, silently: the next bytes its client sends
        are not passed on, and its socket is reset (new connections go through)."""
        for link in self._links:
            link.forgotten = True

    def cut(self) -> int:
        """Drop every open connection now, mid-stream; return how many there were."""
        dropped = self._drop_all()
        self.cut_count += dropped
        return dropped

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # -- the work ----------------------------------------------------------------------

    def _drop_all(self) -> int:
        links = list(self._links)
        self._links.clear()
        for link in links:
            link.drop()
        return len(links)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "refuse":
            self.refused += 1
            writer.transport.abort()
            return
        link = _Link(writer, asyncio.current_task())
        self._links.add(link)
        try:
            await self._flowing.wait()  # a frozen network does not even reach the server
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            link.upstream = up_writer
            await asyncio.gather(
                self._pump(link, reader, up_writer), self._pump(link, up_reader, writer)
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            link.drop()

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Copy one direction until EOF, holding each chunk while the proxy is frozen
        (for good once the link is stranded: only `drop()` ends the wait)."""
        while data := await reader.read(CHUNK):
            if link.forgotten:
                link.drop()
                return
            await self._flowing.wait()
            if link.stranded:
                await asyncio.Event().wait()
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


class _Link:
    """One client connection and, once made, its connection to the server."""

    def __init__(self, client: asyncio.StreamWriter, task: asyncio.Task[None] | None) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.task = task
        self.stranded = False  # frozen for good (see PgProxy.freeze)
        self.forgotten = False  # reset when next used (see PgProxy.forget)

    def drop(self) -> None:
        """Abort both sockets (a reset, not a polite close) and stop the pumps."""
        self.client.transport.abort()
        if self.upstream is not None:
            self.upstream.transport.abort()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
