from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from cielo.app import create_app
from cielo.config import Settings
from tests.support.db import make_token


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True}}
    assert response.headers["x-request-id"]


def test_request_id_is_echoed_when_safe_and_replaced_when_not(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\twith space"}).headers["x-request-id"]
    assert replaced != "bad id\twith space" and len(replaced) == 32 and int(replaced, 16) >= 0


def test_readyz_reports_an_unreachable_database(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none", access_log=False)
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": False}}


@pytest.mark.redis
def test_readyz_checks_redis_when_configured(tmp_path, redis_url, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "cielo.db")
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, access_log=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": True, "redis": True}}
    broken = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0", access_log=False)
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "redis": False}


def test_unknown_route_outside_the_apis(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "The requested resource was not found."}


def test_a_404_raised_with_a_sentence_keeps_it(client, settings):
    """The back office's 404 says what is missing; only the router's own 404 (no such path)
    gets the generic sentence."""
    _, token = make_token(settings, "admin")
    response = client.get("/admin/v1/sandbox/partners/5", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no partner 5 in sandbox."}


def test_openapi_describes_the_white_label_routes(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/api/integrations/canvas/v1/white_label_account"]) == {"get", "post", "patch", "delete"}
    assert "/api/integrations/canvas/v1/white_label_account/{canvas_space_name}" in paths
    post = paths["/api/integrations/canvas/v1/white_label_account"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "canvas_space_name",
        "api_key",
        "api_secret",
    ]


def test_an_unreachable_database_answers_503_in_each_api_style(tmp_path):
    """Every API answers an outage in its own error style, with Retry-After and a sentence,
    never a 500 or a trace: 503, and 502 in the Promotions API (whose seed documents 502 and
    504 for what is behind it, and no 503)."""
    from cielo.auth.service import TOKEN_PREFIX
    from cielo.promo.access import APP_TOKEN_PREFIX
    from cielo.security import tokens

    bearer = {"Authorization": f"Bearer {tokens.issue(TOKEN_PREFIX).token}"}  # well formed, so it is looked up
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none", access_log=False,
                        queue_consumer=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answers = {
            "white-label": client.get("/api/integrations/canvas/v1/white_label_account/x",
                                      headers=bearer),
            "promotions": client.get("/sandbox/promotions/v1/promotions?latitude=0&longitude=0&radius=10"
                                     "&_offset=0&_limit=1", headers={"Client-Id": "abc",
                                                                    "Access-Token": tokens.issue(APP_TOKEN_PREFIX).token}),
            "back office": client.get("/admin/v1/sandbox/promotions", headers=bearer),
        }
    for api, response in answers.items():
        assert response.status_code == (502 if api == "promotions" else 503), (api, response.status_code, response.text)
        assert response.headers["retry-after"] == "5"
        assert "database" in response.text and "Traceback" not in response.text, (api, response.text)


def test_what_counts_as_the_database_being_away():
    import sqlite3

    import asyncpg
    from sqlalchemy import exc as sa_exc

    from cielo.db import unavailable

    wrapped = sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    assert unavailable(wrapped) and unavailable(ConnectionRefusedError()) and unavailable(TimeoutError())
    assert unavailable(asyncpg.CannotConnectNowError("starting up"))
    # a wrong statement or a missing file is a fault of the code: it stays a 500
    assert not unavailable(sa_exc.OperationalError("SELEC 1", {}, sqlite3.OperationalError("near SELEC: syntax error")))
    assert not unavailable(FileNotFoundError("template")) and not unavailable(ValueError())
