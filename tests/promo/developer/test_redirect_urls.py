"""An application's redirect URLs added, changed and removed in the panel: the rules of
creation, each change audited (API.md §5)."""

from __future__ import annotations

import json

import pytest

from tests.support.db import db_sql
from tests.support.panel import Panel, csrf_of
from tests.support.promo import MARIA, SANDBOX

FIRST = "https://app.example.com/callback"
PAGE = "/developer/applications/1"


@pytest.fixture
def panel(client) -> Panel:
    panel = Panel(client)
    panel.register("ana@example.com")
    assert panel.create_application(redirect_urls=FIRST).status_code == 200
    return panel


def _edit(panel: Panel, action: str, **data):
    return panel.post_form(PAGE, PAGE + "/redirect-urls" + action, data, follow_redirects=False)


def _registered(settings) -> list[str]:
    (urls,), = db_sql(settings, "SELECT redirect_urls FROM applications WHERE id = 1")
    return json.loads(urls) if isinstance(urls, str) else urls


def _audited(settings) -> list[tuple]:
    rows = db_sql(settings, "SELECT operation, actor, changes FROM audit_log WHERE resource_type = 'application' "
                            "AND operation LIKE '%redirect-url' ORDER BY id")
    return [(op, actor, json.loads(changes) if isinstance(changes, str) else changes) for op, actor, changes in rows]


def _login(client, creds_client_id: str, redirect_url: str):
    return client.get(SANDBOX + "/login", params={"client_id": creds_client_id, "redirect_url": redirect_url, **MARIA},
                      follow_redirects=False)


def test_add_change_and_remove(panel, client, settings):
    client_id = db_sql(settings, "SELECT client_id FROM applications WHERE id = 1")[0][0]
    added = _edit(panel, "", redirect_url="  http://localhost:3000/cb ")
    assert added.status_code == 303 and added.headers["location"].endswith(PAGE + "#redirect-urls")
    assert _registered(settings) == [FIRST, "http://localhost:3000/cb"]
    assert _login(client, client_id, "http://localhost:3000/cb").status_code == 301

    changed = _edit(panel, "/change", old="http://localhost:3000/cb", redirect_url="com.example.app:/oauth")
    assert changed.status_code == 303
    assert _registered(settings) == [FIRST, "com.example.app:/oauth"]
    assert _login(client, client_id, "http://localhost:3000/cb").status_code == 400  # no longer registered

    removed = _edit(panel, "/remove", redirect_url=FIRST)
    assert removed.status_code == 303 and _registered(settings) == ["com.example.app:/oauth"]
    assert _login(client, client_id, FIRST).status_code == 400
    page = client.get(PAGE).text
    assert 'value="com.example.app:/oauth"' in page and FIRST not in page

    developer = "developer:1"
    assert _audited(settings) == [
        ("add-redirect-url", developer, {"before": [FIRST], "after": [FIRST, "http://localhost:3000/cb"]}),
        ("change-redirect-url", developer, {"before": [FIRST, "http://localhost:3000/cb"],
                                            "after": [FIRST, "com.example.app:/oauth"]}),
        ("remove-redirect-url", developer, {"before": [FIRST, "com.example.app:/oauth"],
                                            "after": ["com.example.app:/oauth"]}),
    ]


@pytest.mark.parametrize(
    "action,data,message",
    [
        ("", {"redirect_url": "http://app.example.com/cb"}, "https URL"),
        ("", {"redirect_url": "https://app.example.com/cb#frag"}, "fragment"),
        ("", {"redirect_url": "javascript:alert(1)"}, "https URL"),
        ("", {"redirect_url": "https://a.example.com/x\nhttps://b.example.com/y"}, "spaces"),
        ("", {"redirect_url": "   "}, "Give a redirect URL"),
        ("", {"redirect_url": "https://a.example.com/" + "x" * 2000}, "at most 2000 characters"),
        ("", {"redirect_url": FIRST}, "already registered"),
        ("/change", {"old": FIRST, "redirect_url": "http://app.example.com/cb"}, "https URL"),
        ("/change", {"old": "https://gone.example.com/", "redirect_url": "https://new.example.com/"}, "no longer registered"),
        ("/remove", {"redirect_url": FIRST}, "at least one redirect URL"),
        ("/remove", {"redirect_url": "https://gone.example.com/"}, "no longer registered"),
    ],
)
def test_refusals_change_nothing_and_keep_what_was_typed(panel, settings, action, data, message):
    response = _edit(panel, action, **data)
    assert response.status_code == 400 and message in response.text, response.text
    assert _registered(settings) == [FIRST] and _audited(settings) == []
    if action == "" and data["redirect_url"].strip() and "\n" not in data["redirect_url"]:
        assert 'id="new_redirect_url" name="redirect_url"' in response.text
        assert f'value="{data["redirect_url"]}"' in response.text.replace("&#34;", '"')


def test_at_most_ten(panel, settings):
    for i in range(9):
        assert _edit(panel, "", redirect_url=f"https://a.example.com/{i}").status_code == 303
    refused = _edit(panel, "", redirect_url="https://a.example.com/10")
    assert refused.status_code == 400 and "at most 10" in refused.text and len(_registered(settings)) == 10


def test_only_the_owner_with_a_fresh_form(panel, client, settings):
    stale = client.post(PAGE + "/redirect-urls", data={"csrf_token": "x", "redirect_url": "https://b.example.com/"})
    assert stale.status_code == 403
    client.cookies.clear()  # Bob's browser
    Panel(client).register("bob@example.com")
    for action, data in [("", {"redirect_url": "https://b.example.com/"}),
                         ("/change", {"old": FIRST, "redirect_url": "https://b.example.com/"}),
                         ("/remove", {"redirect_url": FIRST})]:
        html = client.get("/developer/applications").text
        response = client.post(PAGE + "/redirect-urls" + action, data={"csrf_token": csrf_of(html), **data})
        assert response.status_code == 404, action
    assert _registered(settings) == [FIRST] and _audited(settings) == []
