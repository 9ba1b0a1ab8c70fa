"""Reading a Promotions API request (promo/requests.py): the access profile's body size holds
whatever the framing (API.md §2), checked as the body is read."""

from __future__ import annotations

from tests.support.panel import Panel
from tests.support.promo import PAULISTA, SANDBOX, basic, place, promote


async def chunked(app, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, bytes, int]:
    """POST ``chunks`` as a chunked body would arrive (one ``http.request`` message each, no
    Content-Length): the answer's status and body, and how many chunks the app read."""
    read = 0

    async def receive():
        nonlocal read
        if read == len(chunks):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked"),
                         *((k.lower().encode(), v.encode()) for k, v in headers.items())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), read


def test_a_chunked_body_over_the_profile_is_refused_before_it_is_all_read(app, client, admin, settings):
    panel = Panel(client)
    panel.register("dev@example.com")
    small = panel.application_with_token(body="256", groups=("partner",))
    headers = {"Client-Id": small.client_id, "Access-Token": small.access_token, "Content-Type": "application/json"}
    shop = place(client, admin, *PAULISTA)
    promotion = promote(client, admin, shop)["id"]
    path = f"{SANDBOX}/commercial-establishments/{shop}/subscriptions"

    padded = [b'{"promotionID": %d, "action": "S"' % promotion] + [b" " * 100] * 20 + [b"}"]  # ~2 KB
    status, body, read = client.portal.call(chunked, app, path, headers, padded)
    assert status == 413 and b"256 bytes" in body
    assert read == 4  # the chunk that passed 256 bytes was the last one read

    fits = [b'{"promotionID": %d,' % promotion, b' "action"', b': "S"}']
    status, body, read = client.portal.call(chunked, app, path, headers, fits)
    assert status == 202 and read == 3, body


def test_a_chunked_body_over_the_token_endpoints_limit_is_refused_before_it_is_all_read(app, client, creds):
    headers = {**basic(creds), "Content-Type": "application/json"}
    padded = [b'{"grant_type": "authorization_code", "code": "'] + [b"x" * 1000] * 40 + [b'"}']  # ~40 KB
    status, body, read = client.portal.call(chunked, app, SANDBOX + "/access-token", headers, padded)
    assert status == 413 and b"16384 bytes" in body
    assert read == 18  # the chunk that passed 16,384 bytes was the last one read
