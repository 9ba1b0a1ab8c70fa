"""`cielo serve`'s wire: a response's head and body leave in one write (serving.py), and every
kind of answer (keep-alive, HEAD, 204, streamed, Connection: close, large) still arrives whole."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from cielo.web.serving import (
    MAX_HELD_BYTES,
    CoalescingHttpToolsProtocol,
    CoalescingTransport,
)
from tests.support.db import run


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False
        self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default


# The source of uvicorn's protocol class that CoalescingHttpToolsProtocol subclasses, as read and
# measured with it (uvicorn 0.55.0). The class is uvicorn's internals, not its API: when it
# changes, read it again (the transport must still be set only in connection_made, and every
# write go through self.transport), measure the coalescing again against plain httptools
# (benchmarks/promotions.py, 2 km), and only then record the new digest here.
UVICORN_HTTPTOOLS_PROTOCOL_SHA256 = "ec7f438cf5cec43e89f2636c4521d2937acfcbd11db4cfdc627dad3b9962ff3f"


def test_the_uvicorn_class_we_subclass_is_the_one_we_read():
    import hashlib
    import inspect

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    digest = hashlib.sha256(inspect.getsource(HttpToolsProtocol).encode()).hexdigest()
    assert digest == UVICORN_HTTPTOOLS_PROTOCOL_SHA256, (
        f"uvicorn {uvicorn.__version__} changed HttpToolsProtocol: re-read it and re-measure cielo.web.serving")
    assert CoalescingHttpToolsProtocol.__mro__[1] is HttpToolsProtocol


def test_writes_of_one_turn_leave_as_one():
    async def go():
        loop = asyncio.get_running_loop()
        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.writelines([b"he", b"", b"llo"])
        assert real.writes == [] and transport.get_write_buffer_size() == 24
        await asyncio.sleep(0)
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nhello"]
        assert transport.get_write_buffer_size() == 0
        transport.write(b"next")  # a later turn: its own write
        await asyncio.sleep(0)
        assert real.writes[1:] == [b"next"]
        # anything else is the transport's own
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)

    run(go())


def test_close_and_eof_send_what_is_held_first_and_abort_drops_it():
    async def go():
        loop = asyncio.get_running_loop()
        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"bye")
        transport.close()
        assert real.writes == [b"bye"] and real.closed
        await asyncio.sleep(0)  # the scheduled flush finds nothing more to send
        assert real.writes == [b"bye"]

        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"last")
        transport.write_eof()
        assert real.writes == [b"last"] and real.eof

        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"lost")
        transport.abort()
        await asyncio.sleep(0)
        assert real.writes == [] and real.aborted

        real = Recording()
        transport = CoalescingTransport(real, loop)
        transport.write(b"late")
        real.closed = True  # the peer went away before the turn ended
        await asyncio.sleep(0)
        assert real.writes == []

    run(go())


def test_a_large_body_is_not_held():
    async def go():
        real = Recording()
        transport = CoalescingTransport(real, asyncio.get_running_loop())
        transport.write(b"head")
        transport.write(b"x" * MAX_HELD_BYTES)
        assert real.writes == [b"head" + b"x" * MAX_HELD_BYTES]
        assert transport.get_write_buffer_size() == 0

    run(go())


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
    else:
        body = b"y" * 1_000_000 if path == "/large" else b'{"ok":true}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(raw)
        received = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return received
            received += chunk


def test_a_real_server_answers_every_kind_of_response_whole():
    async def go():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(_app, http=CoalescingHttpToolsProtocol, loop="uvloop", log_level="warning",
                                lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server offers a flag, no event
            await asyncio.sleep(0.01)
        try:
            get = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
            answer = await asyncio.to_thread(
                _exchange, port, get * 3 + b"HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n"
                + b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                + b"GET /large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            responses = answer.split(b"HTTP/1.1 ")[1:]
            assert len(responses) == 7
            for response in responses[:3]:
                assert response.startswith(b"200 OK") and response.endswith(b'\r\n\r\n{"ok":true}')
            assert responses[3].startswith(b"200 OK") and responses[3].endswith(b"content-length: 11\r\n\r\n")
            assert responses[4].startswith(b"204 No Content")
            assert responses[5].startswith(b"200 OK") and b"transfer-encoding: chunked" in responses[5]
            assert responses[5].endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")
            assert responses[6].startswith(b"200 OK") and responses[6].endswith(b"\r\n\r\n" + b"y" * 1_000_000)
        finally:
            server.should_exit = True
            await task

    run(go())


def test_every_process_collects_garbage_at_the_tuned_thresholds(settings):
    """The application factory (every serving worker) and the command line set the collector's
    thresholds (cielo.web.runtime: the defaults cost about a tenth of batched ingestion)."""
    import gc

    from cielo.app import create_app
    from cielo.web import runtime

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        create_app(settings)
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert runtime.GC_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*before)
