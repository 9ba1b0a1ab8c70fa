"""The sandbox's callback page: what arrived, and the exact commands to run next (API.md §3.1)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.support.db import db_sql
from tests.support.panel import Panel, csrf_of
from tests.support.promo import SANDBOX, authorize, card_page

CALLBACK = "http://127.0.0.1:8000/sandbox/callback"  # the default public address's
VERIFIER = "v" * 20 + "-._~" + "x" * 30
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
# A curl that records what it was asked and answers what the service answered (run afterwards).
FAKE_CURL = """curl() { python3 -c 'import json, sys; json.dump(sys.argv[1:], open("args.json", "w"))' "$@"; cat answer.json; }"""


@pytest.fixture
def creds(client):
    panel = Panel(client)
    panel.register("dev@example.com")
    creds = panel.application_with_token(redirect_urls=CALLBACK)
    client.cookies.clear()  # the holder's browser is not the developer's
    return creds


def _page(client, url: str):
    parts = urlsplit(url)
    assert parts.scheme + "://" + parts.netloc + parts.path == CALLBACK
    page = client.get(parts.path + "?" + parts.query)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    return page.text


def _command(page: str) -> str:
    return html.unescape(re.search(r'data-field="next_command">(.*?)</pre>', page, re.S).group(1))


def _run(command: str, tmp_path, answer: str, **variables) -> tuple[list[str], dict[str, str]]:
    """Run the page's command in bash with the fake curl; what curl was given, and the variables set."""
    (tmp_path / "answer.json").write_text(answer)
    assigned = "".join(f"{name}={value}\n" for name, value in variables.items())
    script = f"{FAKE_CURL}\n{assigned}{command}\necho; declare -p ACCESS_TOKEN REFRESH_TOKEN CARD_ID 2>/dev/null || true"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    values = dict(re.findall(r'declare -- (\w+)="([^"]*)"', done.stdout))
    return json.loads((tmp_path / "args.json").read_text()), values


def _as_request(args: list[str]) -> tuple[str, dict[str, str], dict, tuple[str, str] | None]:
    url, headers, body, user = None, {}, None, None
    it = iter(args)
    for arg in it:
        if arg in ("-s", "-X"):
            if arg == "-X":
                assert next(it) == "POST"
        elif arg == "-H":
            name, _, value = next(it).partition(": ")
            headers[name] = value
        elif arg == "-u":
            user = tuple(next(it).split(":", 1))
        elif arg == "-d":
            body = json.loads(next(it))
        else:
            url = arg
    return url, headers, body, user


def test_a_code_is_shown_with_the_exchange_that_works(client, creds, tmp_path):
    landed = authorize(client, creds, redirect_url=CALLBACK, state="try-1", code_challenge=CHALLENGE,
                       code_challenge_method="S256")
    page = _page(client, landed)
    code = re.search(r'data-field="code">([^<]+)<', page).group(1)
    assert 'data-field="state">try-1<' in page and "CODE_VERIFIER" in page
    command = _command(page)

    tokens = {"access_token": "hta_1", "refresh_token": "hta_2", "token_type": "Bearer", "expires_in": 3600}
    args, variables = _run(command, tmp_path, json.dumps(tokens), CLIENT_SECRET=creds.client_secret,
                           CODE_VERIFIER=VERIFIER)
    assert variables == {"ACCESS_TOKEN": "hta_1", "REFRESH_TOKEN": "hta_2"}
    url, headers, body, user = _as_request(args)
    assert url == "http://127.0.0.1:8000" + SANDBOX + "/access-token"
    assert body == {"grant_type": "authorization_code", "code": code, "code_verifier": VERIFIER}
    # what the command sends is what the service takes
    exchanged = client.post(urlsplit(url).path, json=body, headers=headers, auth=user)
    assert exchanged.status_code == 201, exchanged.text
    assert user == (creds.client_id, creds.client_secret) and headers["Client-Id"] == creds.client_id

    # reloaded once the code is used: it says so, and offers no command
    again = _page(client, landed)
    assert "can no longer be exchanged" in again and "next_command" not in again


def test_a_code_without_pkce_needs_no_verifier(client, creds, tmp_path):
    page = _page(client, authorize(client, creds, redirect_url=CALLBACK))
    command = _command(page)
    assert "CODE_VERIFIER" not in page
    args, _ = _run(command, tmp_path, '{"access_token": "a", "refresh_token": "r"}', CLIENT_SECRET=creds.client_secret)
    url, headers, body, user = _as_request(args)
    assert set(body) == {"grant_type", "code"}
    assert client.post(urlsplit(url).path, json=body, headers=headers, auth=user).status_code == 201


def test_an_expired_or_unknown_code_says_start_again(client, creds, settings):
    landed = authorize(client, creds, redirect_url=CALLBACK)
    db_sql(settings, "UPDATE oauth_codes SET expires_at = created_at")
    for url in (landed, CALLBACK + "?code=nonsense&state=x"):
        page = _page(client, url)
        assert "can no longer be exchanged" in page and "fresh sign-in link" in page


def test_a_production_code_is_not_described(client, settings):
    panel = Panel(client)
    panel.register("prod@example.com")
    creds = panel.application_with_token(environment="production", redirect_urls=CALLBACK)
    client.cookies.clear()
    page = _page(client, authorize(client, creds, base="/promotions/v1", redirect_url=CALLBACK))
    assert "can no longer be exchanged" in page and creds.client_id not in page


def test_deny_and_nothing(client, creds):
    denied = _page(client, authorize(client, creds, redirect_url=CALLBACK, state="s-9", decision="deny"))
    assert "chose <strong>Deny</strong>" in denied and 'data-field="state">s-9<' in denied
    assert "error <code>server_error</code>" in _page(client, CALLBACK + "?error=server_error")
    assert "Nothing arrived here" in _page(client, CALLBACK + "?")


def test_a_card_id_is_shown_with_the_command_that_reads_it(client, creds, tmp_path):
    from tests.support.promo import NEXT_YEAR, tokens_for

    tokens = tokens_for(client, creds, redirect_url=CALLBACK)
    form = card_page(client, creds, tokens, redirect=CALLBACK)
    added = client.post(SANDBOX + "/oauth/cards", follow_redirects=False, data={
        "csrf_token": csrf_of(form.text), "request": re.search(r'name="request" value="([^"]+)"', form.text).group(1),
        "card_number": "4111 1111 1111 1111", "expiry_month": "12", "expiry_year": NEXT_YEAR, "cvv": "123",
        "holder_name": "MARIA SILVA", "type": "CREDIT"})
    assert added.status_code == 303, added.text
    page = _page(client, added.headers["location"])
    card_id = re.search(r'data-field="card_id">(\d+)<', page).group(1)
    args, variables = _run(_command(page), tmp_path, "{}", CLIENT_ID=creds.client_id,
                           ACCESS_TOKEN=tokens["access_token"])
    url, headers, _, _ = _as_request(args)
    assert variables["CARD_ID"] == card_id
    read = client.get(urlsplit(url).path, headers=headers)
    assert read.status_code == 200 and read.json()["id"] == int(card_id)
