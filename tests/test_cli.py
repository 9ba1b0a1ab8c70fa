"""`cielo serve` as started from the command line."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.live import LiveServer
from tests.support.panel import csrf_of

pytestmark = pytest.mark.slow

PROXY = "127.0.0.2"  # a load balancer in front (any 127.0.0.0/8 address reaches the server)


def _wrong_sign_ins(server: LiveServer, local_address: str, forwarded_for: list[str]) -> list[int]:
    """One wrong developer sign-in for each X-Forwarded-For, all at once, from ``local_address``,
    each with an e-mail of its own (so only the address's throttle can refuse them)."""
    transport = httpx.HTTPTransport(local_address=local_address)
    with httpx.Client(base_url=server.url, transport=transport) as browser:
        csrf = csrf_of(browser.get("/developer/sign-in").text)
        cookies = dict(browser.cookies)

    async def go():
        transport = httpx.AsyncHTTPTransport(local_address=local_address)
        async with httpx.AsyncClient(base_url=server.url, transport=transport, cookies=cookies, timeout=60) as client:
            answers = await asyncio.gather(*(
                client.post("/developer/sign-in", headers={"X-Forwarded-For": address},
                            data={"csrf_token": csrf, "email": f"dev-{i}@example.com", "password": "wrong password!"})
                for i, address in enumerate(forwarded_for)))
        return [answer.status_code for answer in answers]

    return asyncio.run(go())


def test_the_client_is_who_a_trusted_proxy_says(tmp_path):
    """CIELO_FORWARDED_ALLOW_IPS names the proxies whose X-Forwarded-For and X-Forwarded-Proto
    are believed: behind one, each client is throttled by its own address (30 wrong passwords
    a minute), not by the proxy's; anyone else's X-Forwarded-For is ignored."""
    server = LiveServer(tmp_path, None, extra_env={"CIELO_FORWARDED_ALLOW_IPS": PROXY}).start()
    try:
        # through the proxy: the forwarded address is throttled, another forwarded address is not
        assert _wrong_sign_ins(server, PROXY, ["203.0.113.7"] * 30) == [400] * 30
        assert _wrong_sign_ins(server, PROXY, ["203.0.113.7"]) == [429]
        assert _wrong_sign_ins(server, PROXY, ["203.0.113.8"]) == [400]
        # not a proxy: whatever X-Forwarded-For it sends, it is throttled as itself
        assert _wrong_sign_ins(server, "127.0.0.1", [f"198.51.100.{i}" for i in range(30)]) == [400] * 30
        assert _wrong_sign_ins(server, "127.0.0.1", ["198.51.100.200"]) == [429]

        # the scheme: a page reached over https at the proxy sets its cookie Secure
        https = {"X-Forwarded-Proto": "https"}
        with httpx.Client(base_url=server.url, transport=httpx.HTTPTransport(local_address=PROXY)) as proxied:
            assert "secure" in proxied.get("/developer/sign-in", headers=https).headers["set-cookie"].lower()
        with httpx.Client(base_url=server.url) as direct:
            assert "secure" not in direct.get("/developer/sign-in", headers=https).headers["set-cookie"].lower()
    finally:
        server.stop()
