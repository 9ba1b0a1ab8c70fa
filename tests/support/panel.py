"""Driving the developer panel's HTML forms from tests (the browser tests use Chromium)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def field(html: str, name: str) -> str | None:
    match = re.search(rf'data-field="{name}">([^<]+)<', html)
    return match.group(1) if match else None


@dataclass
class Credentials:
    app_id: int
    client_id: str
    client_secret: str
    access_token: str | None = None


class Panel:
    def __init__(self, client) -> None:
        self.client = client

    def post_form(self, page: str, action: str, data: dict, **kwargs):
        html = self.client.get(page).text
        return self.client.post(action, data={"csrf_token": csrf_of(html), **data}, **kwargs)

    def sign_up(self, email: str, name: str = "Ana Dev", password: str = PASSWORD):
        return self.post_form(
            "/developer/sign-up",
            "/developer/sign-up",
            {"name": name, "email": email, "password": password, "password_confirm": password},
        )

    def sign_in(self, email: str, password: str = PASSWORD):
        return self.post_form("/developer/sign-in", "/developer/sign-in", {"email": email, "password": password})

    def register(self, email: str) -> None:
        assert self.sign_up(email).status_code == 200
        response = self.sign_in(email)
        assert response.url.path == "/developer/applications", response.text

    def create_application(self, name="My app", environment="sandbox", redirect_urls="https://app.example.com/callback"):
        return self.post_form(
            "/developer/applications",
            "/developer/applications",
            {"name": name, "environment": environment, "redirect_urls": redirect_urls},
        )

    def create_token(self, app_id: int, name="main", rpm="600", page="100", body="16384", groups=("holder", "partner")):
        return self.post_form(
            f"/developer/applications/{app_id}",
            f"/developer/applications/{app_id}/tokens",
            {"name": name, "requests_per_minute": rpm, "max_page_size": page, "max_body_bytes": body,
             "api_groups": list(groups)},
        )

    def application_with_token(self, environment="sandbox", redirect_urls="https://app.example.com/callback",
                               **token) -> Credentials:
        response = self.create_application(environment=environment, redirect_urls=redirect_urls)
        assert response.status_code == 200, response.text
        client_id, secret = field(response.text, "client_id"), field(response.text, "client_secret")
        app_id = int(re.search(r"/developer/applications/(\d+)", response.text).group(1))
        response = self.create_token(app_id, **token)
        assert response.status_code == 200, response.text
        return Credentials(app_id, client_id, secret, field(response.text, "access_token"))
