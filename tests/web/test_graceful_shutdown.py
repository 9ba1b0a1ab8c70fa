"""SIGTERM to `cielo serve` (one process, and the supervisor of several): a request already in
flight when the signal arrives — its body still arriving — is finished and answered 200 and
its write kept, new connections are no longer taken, and the process exits cleanly (status
0) within uvicorn's grace period."""

from __future__ import annotations

import json
import signal
import socket
import time

import httpx
import pytest

from tests.support.db import WHITELABEL
from tests.support.live import LiveServer

pytestmark = pytest.mark.slow


def _response(sock: socket.socket, seconds: float) -> tuple[int, dict]:
    sock.settimeout(seconds)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-answer"
        body += chunk
    return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_the_requests_in_flight(tmp_path, workers):
    server = LiveServer(tmp_path, None, workers=workers).start()
    try:
        token = server.cli("admin", "token", "create", "--name", "t").stdout.strip().splitlines()[-1]
        body = json.dumps({"canvas_space_name": "in-flight", "api_key": "k", "api_secret": "s"}).encode()
        head = (f"POST {WHITELABEL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(head + body[:10])  # the request is in the application, reading its body
        time.sleep(0.5)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # shutting down, the request still in flight
        with pytest.raises(httpx.HTTPError):  # no new connection is taken meanwhile
            httpx.get(server.url + "/healthz", timeout=2)
        sock.sendall(body[10:])
        status, answer = _response(sock, 10)
        sock.close()
        assert status == 200, answer
        assert answer["new_customer"]["canvas_space_name"] == "in-flight"
        assert server.proc.wait(timeout=15) == 0
        assert "Application shutdown complete." in server.log
    finally:
        server.stop()
    server.start()  # the write was kept
    try:
        kept = httpx.get(server.url + WHITELABEL + "/in-flight", headers={"Authorization": f"Bearer {token}"})
        assert kept.status_code == 200
    finally:
        server.stop()
