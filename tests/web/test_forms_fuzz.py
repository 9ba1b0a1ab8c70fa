"""The HTML forms (card page, holder sign-in and sign-up, developer panel) take any input with a
valid CSRF token and answer a page or a redirect, never a 5xx (hypothesis drives the fields;
the forms are not in any OpenAPI document, so schemathesis does not reach them)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.panel import Panel, csrf_of
from tests.support.promo import HOLDER_PASSWORD, SANDBOX, add_card, login_params, partner_app, request_id_of, tokens_for

# Any text a browser can send (a lone surrogate cannot be UTF-8 encoded), with the plausible
# values mixed in so that the deeper checks are reached too.
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_digits = st.integers(-10, 10**20).map(str)
FORM = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _field(*plausible: str):
    return st.sampled_from(plausible) | _text | _digits


def test_card_form_takes_any_input(client):
    creds = partner_app(client)
    tokens = tokens_for(client, creds)
    seen: list[int] = []

    @FORM
    @given(st.fixed_dictionaries({}, optional={
        "card_number": _field("4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "4111111111111112"),
        "expiry_month": _field("12", "1", "13", "0"), "expiry_year": _field("2030", "99", "1999", "99999"),
        "cvv": _field("123", "000", "1234", "12a"), "holder_name": _field("MARIA SILVA", " "),
        "nickname": _field("mine", ""), "type": _field("CREDIT", "DEBIT", "PREPAID"),
        "partner": st.lists(_field("1", "999999"), max_size=3)}))
    def probe(fields):
        response = add_card(client, creds, tokens, **fields)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text[:500]

    probe()
    assert 303 in seen and any(400 <= status < 500 for status in seen), sorted(set(seen))  # both paths reached


def test_login_forms_take_any_input(client):
    """The sign-up form (a CPF never seen) and the sign-in form (a holder who has one). Login is
    throttled (5 attempts a minute per CPF, 30 per address), so the examples are few and spread
    over several CPFs."""
    creds = partner_app(client)
    tokens_for(client, creds)  # Maria signs up: her CPF is now known
    cpfs = ["390.533.447-05", "123.456.780-62", "987.654.320-29", "111.222.334-77", "555.666.770-53"]
    seen: list[int] = []
    # a link id that cannot be one never reaches the database (a NUL byte was a 500 on PostgreSQL)
    for bad in ("\x00", "x" * 43, "x" * 42 + "\x00", "é" * 43):
        for path in ("/oauth/login", "/oauth/consent", "/oauth/cards"):
            assert client.post(SANDBOX + path, data={"request": bad}).status_code == 400, (path, bad)
        assert client.get(SANDBOX + "/oauth/login", params={"request": bad}).status_code == 400, bad

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(cpfs), st.fixed_dictionaries({}, optional={
        "password": _field(HOLDER_PASSWORD, ""), "password_confirm": _field(HOLDER_PASSWORD, ""),
        "accept_terms": _field("yes"), "request": _field("x")}))
    def probe(cpf, fields):
        start = client.get(SANDBOX + "/login", params=login_params(creds, cpf=cpf, email=f"{cpf[:3]}@example.com"),
                           follow_redirects=False)
        assert start.status_code == 301, start.text
        page = client.get(start.headers["location"])
        data = {"csrf_token": csrf_of(page.text), "request": request_id_of(page.text), "password": HOLDER_PASSWORD,
                "password_confirm": HOLDER_PASSWORD, "accept_terms": "yes", **fields}
        response = client.post(SANDBOX + "/oauth/login", data=data, follow_redirects=False)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text[:500]

    probe()
    assert 303 in seen and any(400 <= status < 500 for status in seen), sorted(set(seen))


def test_developer_panel_forms_take_any_input(client):
    panel = Panel(client)
    panel.register("fuzz@example.com")
    created = panel.create_application()
    app_id = int(re.search(r"/developer/applications/(\d+)", created.text).group(1))
    seen: list[int] = []

    @FORM
    @given(st.fixed_dictionaries({}, optional={
        "name": _field("My app", ""), "environment": _field("sandbox", "production", "staging"),
        "redirect_urls": _field("https://app.example.com/cb", "http://127.0.0.1/cb\nmyapp:/cb", "javascript:x",
                                "https://a.example.com/#f")}),
           st.fixed_dictionaries({}, optional={
        "name": _field("main", ""), "requests_per_minute": _field("600", "0", "1000001"),
        "max_page_size": _field("100", "0", "1001"), "max_body_bytes": _field("16384", "1"),
        "api_groups": st.lists(_field("holder", "partner", "admin"), max_size=3)}))
    def probe(application, token):
        application = {"name": "My app", "environment": "sandbox", "redirect_urls": "https://app.example.com/cb",
                       **application}
        token = {"name": "main", "requests_per_minute": "600", "max_page_size": "100", "max_body_bytes": "16384",
                 "api_groups": ["holder"], **token}
        response = panel.post_form("/developer/applications", "/developer/applications", application)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text[:500]
        response = panel.post_form(f"/developer/applications/{app_id}", f"/developer/applications/{app_id}/tokens",
                                   token)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text[:500]

    probe()
    assert 200 in seen and any(400 <= status < 500 for status in seen), sorted(set(seen))
