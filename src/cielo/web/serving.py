"""How `cielo serve` puts responses on the wire: uvicorn's httptools protocol, with a response's
head and body sent in one write.

Why: uvicorn writes the status line and headers when the app sends ``http.response.start``
and the body on ``http.response.body``, two ``transport.write`` calls. uvloop sends each at
once: two system calls and two TCP segments per answer, and on loopback the kernel also runs
the receiver's side of each segment on the sender's CPU. Joining the writes of one turn of the
event loop into one send made the 2 km promotions search ~20% faster over HTTP
(docs/performance-history.md). No server option does it (TCP_CORK would need a second system call per
answer to uncork), hence these few lines.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HELD_BYTES = 256 * 1024


class CoalescingTransport:
    """A transport whose writes made during one turn of the event loop leave as one write at
    the start of the next (or at once, before a close). Everything else is the transport's."""

    __slots__ = ("_transport", "_loop", "_pending", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._size += len(data)
        if self._size >= MAX_HELD_BYTES:  # a large body goes at once (and the transport's flow control sees it)
            self.flush()

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        self._size = 0
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending, self._size = None, 0
        self._transport.abort()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
