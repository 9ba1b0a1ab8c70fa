"""The logs (cielo.logs, ARCHITECTURE.md "Logs"): one JSON format for every line — the
service's, uvicorn's and the access line — with one timestamp format and no terminal colour
codes; and, with a real `cielo serve` logging at DEBUG through every flow (holder sign-in,
cards, partner calls, the panel, the back office, white-label), no token, secret, password,
CPF, e-mail or card number in any line."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from datetime import datetime, timezone

import httpx
import pytest

from cielo.logs import AccessLog, logging_config
from tests.support.db import WHITELABEL
from tests.support.panel import PASSWORD, Panel
from tests.support.promo import HOLDER_PASSWORD, MARIA, SANDBOX, add_card, basic, tokens_for

TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")
CARD = "4111111111111111"
API_SECRET = "wl-api-secret-never-logged"


def _lines_of(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no log line at all"
    parsed = []
    for line in lines:
        assert "\x1b" not in line and "\\u001b" not in line, f"a terminal colour code: {line}"
        parsed.append(json.loads(line))  # every line one JSON object
    return parsed


def _one_format(lines: list[dict]) -> None:
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line), line
        assert TIME.fullmatch(line["time"]), line
        assert "color_message" not in line, line


@pytest.fixture
def captured():
    """The service's logging configuration at DEBUG, written into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    config = logging_config("DEBUG")
    config["handlers"]["stderr"]["stream"] = buffer
    logging.config.dictConfig(config)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved
        for name in ("cielo", "uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.NOTSET)
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True


def test_one_json_format_for_every_line(captured):
    # uvicorn's own records carry a coloured copy of their message
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42,
                                            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    logging.getLogger("uvicorn.error").info("Uvicorn running on \x1b[1mhttp://127.0.0.1:8000\x1b[0m")
    logging.getLogger("cielo.subscriptions").warning("a request failed", extra={"error": "ValueError: x"})
    logging.getLogger("cielo.subscriptions").debug("a detail")
    logging.getLogger("aiosqlite").debug("executing %s", "a statement with its parameters")  # not ours: not at DEBUG
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("cielo.error").exception("unhandled error")
    access = io.BytesIO()
    AccessLog(stream=access).write({"method": "GET", "path": "/healthz", "status": 200, "duration_ms": 1.0})
    lines = _lines_of(captured.getvalue() + access.getvalue().decode())
    _one_format(lines)
    assert [line["logger"] for line in lines] == ["uvicorn.error", "uvicorn.error", "cielo.subscriptions",
                                                   "cielo.subscriptions", "cielo.error", "cielo.access"]
    assert lines[0]["message"] == "Started server process [42]"
    assert lines[1]["message"] == "Uvicorn running on http://127.0.0.1:8000"
    assert "RuntimeError: boom" in lines[4]["exc_info"]
    # the access line and the others: the same instant written the same way
    stamp = datetime(2026, 12, 7, 4, 46, 37, 452000, tzinfo=timezone.utc)
    record = logging.LogRecord("cielo", logging.INFO, __file__, 1, "m", None, None)
    record.created = stamp.timestamp()
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None and formatter.formatTime(record) == "2026-12-07T04:46:37.452+00:00"



@pytest.mark.slow
def test_no_secret_in_any_log_line(server_factory):
    server = server_factory(extra_env={"CIELO_LOG_LEVEL": "DEBUG"})
    admin = server.cli("admin", "token", "create", "--name", "logs", "--scope", "all").stdout.strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {admin}"}
    secrets = [admin, PASSWORD, HOLDER_PASSWORD, MARIA["cpf"], re.sub(r"\D", "", MARIA["cpf"]), MARIA["email"],
               "dev@example.com", CARD, "4111 1111 1111 1111", API_SECRET]
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as browser:
        # the panel: sign-up, a wrong password, sign-in, an application and its token
        panel = Panel(browser)
        panel.sign_up("dev@example.com")
        panel.sign_in("dev@example.com", password="not the password")
        panel.sign_in("dev@example.com")
        creds = panel.application_with_token()
        browser.cookies.clear()
        secrets += [creds.client_secret, creds.access_token]
        # the holder: sign-up, consent, code, tokens, refresh, a wrong password, a card
        tokens = tokens_for(browser, creds)
        secrets += [tokens["access_token"], tokens["refresh_token"]]
        refreshed = browser.post(SANDBOX + "/refresh-token", headers=basic(creds),
                                 json={"grant_type": "refresh_token", "code": tokens["refresh_token"]}).json()
        secrets += [refreshed["access_token"], refreshed["refresh_token"]]
        browser.cookies.clear()
        assert add_card(browser, creds, refreshed).status_code in (301, 302, 303)
        holder = {"Client-Id": creds.client_id, "Access-Token": refreshed["access_token"]}
        me = browser.get(SANDBOX + "/me", headers=holder)
        assert me.status_code == 200 and me.json()["email"] == MARIA["email"]
        cards = browser.get(SANDBOX + "/me/cards", params={"_offset": 0, "_limit": 10}, headers=holder).json()
        browser.get(SANDBOX + "/me/transactions", headers=holder,
                    params={"_offset": 0, "_limit": 10, "start_date": "2026-01-01", "end_date": "2026-12-31"})
        # the back office: an establishment, a promotion, a purchase by full card number
        shop = browser.post("/admin/v1/sandbox/commercial-establishments", headers=bearer, json={
            "fictitiousName": "Loja", "businessActivityId": 5812, "cpf": MARIA["cpf"], "latitude": -23.56,
            "longitude": -46.65}).json()["id"]
        promotion = browser.post("/admin/v1/sandbox/promotions", headers=bearer, json={
            "commercialEstablishmentId": shop, "title": "P", "description": "", "campaignType": "G",
            "startDate": "2026-01-01", "endDate": "2999-12-31", "active": True, "premium": "x", "rules": {}}).json()["id"]
        for card in ({"cardNumber": CARD}, {"cardId": cards[0]["id"]}, {"cardNumber": "4111111111111112"}):
            browser.post("/admin/v1/sandbox/transactions", headers=bearer, json={
                **card, "commercialEstablishmentId": shop, "amount": "10.00", "occurredAt": "2026-03-01T12:00:00-03:00",
                "productPrimary": {"id": 1, "description": "Crédito"}})
        # the partner: establishments (by the owner's CPF), a search, a subscription through the queue
        partner = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
        browser.get(SANDBOX + "/commercial-establishments", params={"cpf": MARIA["cpf"]}, headers=partner)
        browser.get(SANDBOX + "/promotions", headers=partner, params={
            "latitude": -23.56, "longitude": -46.65, "radius": 2000, "_offset": 0, "_limit": 10})
        queued = browser.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", headers=partner,
                              json={"promotionID": promotion, "action": "S"})
        browser.get(queued.headers["location"], headers=partner)
        browser.get(SANDBOX + "/me", headers={**partner, "Access-Token": refreshed["access_token"] + "x"})
        # white-label: every verb, and a refused token
        wl = {"canvas_space_name": "logs-space", "api_key": "k", "api_secret": API_SECRET}
        assert browser.post(WHITELABEL, json=wl, headers=bearer).status_code == 200
        browser.get(WHITELABEL + "/logs-space", headers=bearer)
        browser.patch(WHITELABEL, json={"canvas_space_name": "logs-space", "api_secret": API_SECRET + "2"}, headers=bearer)
        browser.request("DELETE", WHITELABEL, json={"canvas_space_name": "logs-space"}, headers=bearer)
        browser.get(WHITELABEL, headers={"Authorization": f"Bearer {creds.access_token}"})
        # /login carrying the holder's data in its query, refused
        browser.get(SANDBOX + "/login", params={"client_id": creds.client_id, "redirect_url": "https://elsewhere.example",
                                                **MARIA})
    server.stop()  # flushes the access lines
    log = server.log
    lines = _lines_of(log)
    _one_format(lines)
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    assert sum(line["logger"] == "cielo.access" for line in lines) > 40
    for value in secrets:
        assert value and value not in log, f"{value!r} is in the log"
