"""uvicorn's httptools protocol, with a response's head written together with its body: one write
system call per response, not two.

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the body
when it sends ``http.response.body``: two writes, two TCP segments (the server sets TCP_NODELAY), and
a client that reads the head, then wakes again for the body. At capacity the two writes made uvicorn's
``send`` the largest own-time frame of the http processes (16 % of their samples). Here a head with a
Content-Length waits for the body's first piece, which Starlette sends next in the same turn, and
both go out in one write. A streamed (chunked) response, a HEAD request and a response without a
body get their head at once, as before, so nothing waits on a body that may be slow to come.

Served through uvicorn's ``--http`` option (``cli.UVICORN``), by every server process of the app and
by the benchmarks' bare baseline alike."""
from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _Head:
    """Stands in for the transport while uvicorn writes a response's head, and keeps it."""
    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data = data


class _HeadThenBody:
    """Stands in for the transport while uvicorn writes a body's first piece: the head goes with it."""
    __slots__ = ("transport", "head")

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport, self.head = transport, head

    def write(self, data: bytes) -> None:
        self.transport.write(self.head + data)

    def close(self) -> None:
        self.transport.close()


class HeadWithBodyCycle(RequestResponseCycle):
    head = b""   # the head kept for the body's first piece

    async def send(self, message: Any) -> None:
        # uvicorn's send waits only here, for a paused client: waited for first, its own send runs
        # through without yielding, so nothing else sees the transport stood in for meanwhile
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        transport = self.transport
        if message["type"] == "http.response.start" and not self.response_started:
            kept = self.transport = _Head()
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if self.chunked_encoding is False and self.scope["method"] != "HEAD" and kept.data:
                self.head = kept.data
            elif kept.data:
                transport.write(kept.data)
            return
        if not self.head:
            await super().send(message)
            return
        self.transport = _HeadThenBody(transport, self.head)
        self.head = b""
        try:
            await super().send(message)
        finally:
            self.transport = transport


class HeadWithBodyProtocol(HttpToolsProtocol):
    """Each request's cycle is a ``HeadWithBodyCycle``; everything else is uvicorn's."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = HeadWithBodyCycle
