"""Password hashing off the event loop, on a pool of bounded size (security/passwords.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from cielo.security import passwords
from tests.support.db import run
from tests.support.live import LiveServer
from tests.support.panel import csrf_of


def test_hashing_leaves_the_event_loop_free():
    """While a hash and four checks run, the loop keeps turning: its longest pause is a small
    part of one hash (on the loop, each would stop it for a whole hash, ~0.2 s)."""
    started = time.perf_counter()
    stored = passwords.hash_password("a password of mine")
    one_hash = time.perf_counter() - started

    async def go():
        pauses: list[float] = []
        done = asyncio.Event()

        async def ticker():
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.002)
                now = time.perf_counter()
                pauses.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        made = await passwords.hash_off_loop("another password")
        checks = await asyncio.gather(*(passwords.verify_off_loop(stored, f"wrong guess {i}") for i in range(4)))
        done.set()
        await ticking
        return made, checks, max(pauses)

    made, checks, longest_pause = run(go())
    assert passwords.verify_password(made, "another password") and checks == [False] * 4
    assert longest_pause < one_hash / 2, (longest_pause, one_hash)


def test_the_hashing_pool_is_bounded(monkeypatch):
    """However many sign-ins arrive together, at most POOL_SIZE hashes run at once (CPU and
    Argon2's 64 MiB each); the others wait their turn without holding the loop."""
    running, most = 0, 0
    lock = threading.Lock()

    class Slow:
        def verify(self, stored, password):
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return True

    monkeypatch.setattr(passwords, "_hasher", Slow())

    async def go():
        return await asyncio.gather(*(passwords.verify_off_loop("stored", "x") for _ in range(3 * passwords.POOL_SIZE)))

    assert run(go()) == [True] * 3 * passwords.POOL_SIZE
    assert most == passwords.POOL_SIZE


@pytest.mark.slow
def test_wrong_sign_ins_do_not_stall_a_live_server(tmp_path):
    """The review's finding: 12 concurrent wrong developer sign-ins took /healthz from 40 ms to
    ~1 s. Now /healthz keeps answering while they are checked."""
    server = LiveServer(tmp_path, None).start()
    try:
        with httpx.Client(base_url=server.url) as browser:
            csrf = csrf_of(browser.get("/developer/sign-in").text)
            cookies = dict(browser.cookies)

        async def go():
            async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=60) as client:
                async def sign_in(i: int) -> int:
                    response = await client.post("/developer/sign-in", data={
                        "csrf_token": csrf, "email": f"nobody-{i}@example.com", "password": "wrong password!"})
                    return response.status_code

                async def health() -> float:
                    await asyncio.sleep(0.1)  # the sign-ins are being checked by now
                    slowest = 0.0
                    for _ in range(10):
                        started = time.perf_counter()
                        assert (await client.get("/healthz")).status_code == 200
                        slowest = max(slowest, time.perf_counter() - started)
                        await asyncio.sleep(0.05)
                    return slowest

                *codes, slowest = await asyncio.gather(*(sign_in(i) for i in range(12)), health())
                return codes, slowest

        codes, slowest = run(go())
    finally:
        server.stop()
    assert codes == [400] * 12
    assert slowest < 0.5, slowest  # on the loop: 12 checks of ~0.2 s in a row
