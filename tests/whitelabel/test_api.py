"""API.md §1, line by line, on SQLite and PostgreSQL. Every answer is also validated
against the reference document by the CheckedClient."""

from __future__ import annotations

import pytest

from tests.support.db import WHITELABEL as URL
from tests.support.db import make_token, run

UNAUTHORIZED = {"detail": "Unauthorized Request: Bearer <token>"}
MISSING_NAME = {"error": "Request body is missing the 'canvas_space_name' key or its value."}
MISSING_KEYS = {"error": "Request body is missing the 'api_key' and/or 'api_secret' key."}
INTERNAL = {"error": "An internal server error has occurred. Please reach out to cielo24 support for assistance."}

SEED = {
    "canvas_space_name": "cielo24-test",
    "api_secret": "testing_api_secret",
    "api_key": "testing_api_key",
    "is_active": True,
    "customer_name": "Cielo24 Test",
}


def create(client, auth, **fields):
    body = {"canvas_space_name": "space", "api_key": "key", "api_secret": "secret", **fields}
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["new_customer"]


def all_customers(client, auth):
    response = client.get(URL, headers=auth)
    assert response.status_code == 200
    return response.json()["customers"]


# ---- authentication --------------------------------------------------------------------

OPERATIONS = [
    ("GET", URL, None),
    ("GET", URL + "/cielo24-test", None),
    ("POST", URL, SEED),
    ("PATCH", URL, {"canvas_space_name": "cielo24-test", "is_active": False}),
    ("DELETE", URL, {"canvas_space_name": "cielo24-test"}),
]


@pytest.mark.parametrize("method,url,body", OPERATIONS)
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer cielo_AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Token {token}",
        "Bearer {token}x",
    ],
)
def test_every_bad_token_gets_403_with_the_literal_detail(client, auth, token, method, url, body, header):
    create(client, auth, **{**SEED})
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(token=token)
    response = client.request(method, url, json=body, headers=headers)
    assert response.status_code == 403
    assert response.json() == UNAUTHORIZED
    assert token not in response.text
    # nothing changed
    assert all_customers(client, auth) == [SEED]


def test_revoked_and_out_of_scope_tokens_are_refused(client, settings, auth):
    from cielo.auth.service import revoke_token
    from cielo.db import Database

    _, admin_token = make_token(settings, scope="admin")
    assert client.get(URL, headers={"Authorization": f"Bearer {admin_token}"}).json() == UNAUTHORIZED
    all_id, all_token = make_token(settings, scope="all")
    assert client.get(URL, headers={"Authorization": f"Bearer {all_token}"}).status_code == 200

    async def revoke():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            await revoke_token(db, all_id)
        finally:
            await db.dispose()

    run(revoke())
    response = client.get(URL, headers={"Authorization": f"Bearer {all_token}"})
    assert response.status_code == 403 and response.json() == UNAUTHORIZED


def test_scheme_is_case_insensitive(client, token):
    assert client.get(URL, headers={"Authorization": f"bearer {token}"}).status_code == 200


# ---- GET -------------------------------------------------------------------------------


def test_get_all_is_empty_then_ordered_by_space_name(client, auth):
    assert client.get(URL, headers=auth).json() == {"customers": []}
    for name in ["b-space", "A-space", "a-space", "c"]:
        create(client, auth, canvas_space_name=name)
    assert [c["canvas_space_name"] for c in all_customers(client, auth)] == ["A-space", "a-space", "b-space", "c"]


def test_get_one_and_unknown(client, auth):
    create(client, auth, **SEED)
    response = client.get(URL + "/cielo24-test", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"customers": [SEED]}
    response = client.get(URL + "/cielo24-2023", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"error": "The 'cielo24-2023' space name is not integrated."}


def test_get_one_with_reserved_characters_in_the_name(client, auth):
    create(client, auth, canvas_space_name="école/mañana 2")
    response = client.get(URL + "/%C3%A9cole%2Fma%C3%B1ana%202", headers=auth)
    assert response.status_code == 200
    assert response.json()["customers"][0]["canvas_space_name"] == "école/mañana 2"
    # line breaks too: an unknown name is the contract's 400, never a 404 from routing
    response = client.get(URL + "/a%0Ab%0D%0Ac%E2%80%A8", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"error": "The 'a\nb\r\nc\u2028' space name is not integrated."}


# ---- POST ------------------------------------------------------------------------------


def test_post_seed_example(client, auth):
    response = client.post(URL, json=SEED, headers=auth)
    assert response.status_code == 200
    assert response.json() == {"new_customer": SEED}
    assert list(response.json()["new_customer"]) == [
        "canvas_space_name",
        "api_key",
        "api_secret",
        "is_active",
        "customer_name",
    ]


def test_post_defaults(client, auth):
    body = {"canvas_space_name": "x", "api_key": "k", "api_secret": "s"}
    assert client.post(URL, json=body, headers=auth).json() == {
        "new_customer": {**body, "is_active": True, "customer_name": "Canvas"}
    }


def test_post_already_integrated(client, auth):
    create(client, auth, **SEED)
    response = client.post(URL, json={**SEED, "api_key": "other"}, headers=auth)
    assert response.status_code == 400
    assert response.json() == {
        "error": "The 'cielo24-test' space name is already integrated. Please modify or delete it."
    }
    assert all_customers(client, auth) == [SEED]


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"api_key": "k", "api_secret": "s"}, MISSING_NAME),
        ({"canvas_space_name": None, "api_key": "k", "api_secret": "s"}, MISSING_NAME),
        ({"canvas_space_name": "", "api_key": "k", "api_secret": "s"}, MISSING_NAME),
        ({}, MISSING_NAME),
        ({"canvas_space_name": "x"}, MISSING_KEYS),
        ({"canvas_space_name": "x", "api_key": "k"}, MISSING_KEYS),
        ({"canvas_space_name": "x", "api_secret": "s"}, MISSING_KEYS),
        ({"canvas_space_name": "x", "api_key": None, "api_secret": "s"}, MISSING_KEYS),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "is_active": "yes"},
         {"error": "The 'is_active' value must be true or false."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "is_active": 1},
         {"error": "The 'is_active' value must be true or false."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "is_active": None},
         {"error": "The 'is_active' value must be true or false."}),
        ({"canvas_space_name": 5, "api_key": "k", "api_secret": "s"},
         {"error": "The 'canvas_space_name' value must be a string."}),
        ({"canvas_space_name": "x", "api_key": ["k"], "api_secret": "s"}, {"error": "The 'api_key' value must be a string."}),
        ({"canvas_space_name": "x", "api_key": "", "api_secret": "s"}, {"error": "The 'api_key' value must not be empty."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": ""}, {"error": "The 'api_secret' value must not be empty."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "customer_name": ""},
         {"error": "The 'customer_name' value must not be empty."}),
        ({"canvas_space_name": "x" * 256, "api_key": "k", "api_secret": "s"},
         {"error": "The 'canvas_space_name' value must be at most 255 characters long."}),
        ({"canvas_space_name": "x", "api_key": "k" * 256, "api_secret": "s"},
         {"error": "The 'api_key' value must be at most 255 characters long."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s" * 1025},
         {"error": "The 'api_secret' value must be at most 1024 characters long."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "customer_name": "c" * 256},
         {"error": "The 'customer_name' value must be at most 255 characters long."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "extra": 1},
         {"error": "Request body has the unknown key 'extra'."}),
        ({"canvas_space_name": "x", "api_key": "k", "api_secret": "s", "b": 1, "a": 2},
         {"error": "Request body has the unknown keys 'a', 'b'."}),
        ({"canvas_space_name": "x\u0000y", "api_key": "k", "api_secret": "s"},
         {"error": "The 'canvas_space_name' value must not contain control characters."}),
        ({"canvas_space_name": "x", "api_key": "k\n", "api_secret": "s"},
         {"error": "The 'api_key' value must not contain control characters."}),
        ({"canvas_space_name": " x", "api_key": "k", "api_secret": "s"},
         {"error": "The 'canvas_space_name' value must not start or end with spaces."}),
    ],
)
def test_post_bad_bodies_change_nothing(client, auth, body, expected):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 400
    assert response.json() == expected
    assert all_customers(client, auth) == []


def test_post_limits_are_inclusive(client, auth):
    create(client, auth, canvas_space_name="n" * 255, api_key="k" * 255, api_secret="s" * 1024, customer_name="c" * 255)
    assert len(all_customers(client, auth)) == 1


@pytest.mark.parametrize(
    "raw,expected",
    [
        (b"", "Request body must be a JSON object; it is empty."),
        (b"not json", "Request body is not valid JSON."),
        (b'{"canvas_space_name": "x",', "Request body is not valid JSON."),
        (b"[]", "Request body must be a JSON object."),
        (b'"text"', "Request body must be a JSON object."),
        (b"null", "Request body must be a JSON object."),
        (b'{"canvas_space_name": "\\ud800", "api_key": "k", "api_secret": "s"}', "Request body is not valid JSON."),
        (b"\xff\xfe", "Request body is not valid JSON."),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_bodies_that_are_not_json_objects(client, auth, raw, expected, method):
    response = client.request(method, URL, content=raw, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"error": expected}


def test_oversized_body_is_refused(client, auth):
    body = b'{"canvas_space_name": "' + b"x" * 70_000 + b'"}'
    response = client.post(URL, content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "error" in response.json()
    assert all_customers(client, auth) == []


# ---- PATCH -----------------------------------------------------------------------------


def test_patch_changes_only_supplied_fields(client, auth):
    create(client, auth, **SEED)
    response = client.patch(URL, json={"canvas_space_name": "cielo24-test", "is_active": False}, headers=auth)
    assert response.status_code == 200
    assert response.json() == {"modified_customer": {**SEED, "is_active": False}}
    changes = {"api_secret": "new_secret", "api_key": "new_key", "customer_name": "Cielo24 Test New"}
    response = client.patch(URL, json={"canvas_space_name": "cielo24-test", **changes}, headers=auth)
    assert response.json() == {"modified_customer": {**SEED, "is_active": False, **changes}}
    assert all_customers(client, auth) == [{**SEED, "is_active": False, **changes}]


def test_patch_with_only_the_name_changes_nothing(client, auth):
    create(client, auth, **SEED)
    response = client.patch(URL, json={"canvas_space_name": "cielo24-test"}, headers=auth)
    assert response.status_code == 200
    assert response.json() == {"modified_customer": SEED}


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"is_active": False}, MISSING_NAME),
        ({"canvas_space_name": ""}, MISSING_NAME),
        ({"canvas_space_name": None, "api_key": "k"}, MISSING_NAME),
        ({"canvas_space_name": "cielo24-2", "api_key": "k"},
         {"error": "The 'cielo24-2' space name is not integrated, so it can not be changed."}),
        ({"canvas_space_name": "cielo24-test", "api_key": None},
         {"error": "The 'api_key' value must not be null; leave the key out to keep it unchanged."}),
        ({"canvas_space_name": "cielo24-test", "is_active": "false"}, {"error": "The 'is_active' value must be true or false."}),
        ({"canvas_space_name": "cielo24-test", "api_secret": ""}, {"error": "The 'api_secret' value must not be empty."}),
        ({"canvas_space_name": "cielo24-test", "new_name": "x"}, {"error": "Request body has the unknown key 'new_name'."}),
        ({"canvas_space_name": "cielo24-test", "customer_name": 7}, {"error": "The 'customer_name' value must be a string."}),
    ],
)
def test_patch_bad_bodies_change_nothing(client, auth, body, expected):
    create(client, auth, **SEED)
    response = client.patch(URL, json=body, headers=auth)
    assert response.status_code == 400
    assert response.json() == expected
    assert all_customers(client, auth) == [SEED]


# ---- DELETE ----------------------------------------------------------------------------


def test_delete(client, auth):
    create(client, auth, **SEED)
    create(client, auth, canvas_space_name="other")
    response = client.request("DELETE", URL, json={"canvas_space_name": "cielo24-test"}, headers=auth)
    assert response.status_code == 200
    assert response.json() == {"deleted_customer": SEED}
    assert [c["canvas_space_name"] for c in all_customers(client, auth)] == ["other"]
    response = client.get(URL + "/cielo24-test", headers=auth)
    assert response.json() == {"error": "The 'cielo24-test' space name is not integrated."}
    # and it can be integrated again
    create(client, auth, **SEED)


@pytest.mark.parametrize(
    "body,expected",
    [
        ({}, MISSING_NAME),
        ({"canvas_space_name": ""}, MISSING_NAME),
        ({"canvas_space_name": "cielo24-2"},
         {"error": "The 'cielo24-2' space name is not integrated, so it can not be changed."}),
        ({"canvas_space_name": "cielo24-test", "api_key": "k"}, {"error": "Request body has the unknown key 'api_key'."}),
        ({"canvas_space_name": ["cielo24-test"]}, {"error": "The 'canvas_space_name' value must be a string."}),
    ],
)
def test_delete_bad_bodies_change_nothing(client, auth, body, expected):
    create(client, auth, **SEED)
    response = client.request("DELETE", URL, json=body, headers=auth)
    assert response.status_code == 400
    assert response.json() == expected
    assert all_customers(client, auth) == [SEED]


# ---- other methods, unknown routes, failures ------------------------------------------


def test_unsupported_method_keeps_the_error_shape(client, auth):
    response = client.put(URL, json=SEED, headers=auth)
    assert response.status_code == 405
    assert response.json() == {"error": "The PUT method is not allowed on this endpoint."}
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH, POST"
    assert client.put(URL + "/x", headers=auth).headers["allow"] == "GET, HEAD"


def test_unexpected_failure_is_a_500_without_internals(client, auth, settings):
    """A stored secret that no configured key can open is a real internal failure."""
    from sqlalchemy import text

    from cielo.db import Database

    create(client, auth, **SEED)

    async def corrupt():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                await session.execute(text("UPDATE whitelabel_accounts SET api_secret_encrypted = 'deadbeef:garbage'"))
        finally:
            await db.dispose()

    run(corrupt())
    for response in (client.get(URL + "/cielo24-test", headers=auth), client.get(URL, headers=auth)):
        assert response.status_code == 500
        assert response.json() == INTERNAL
        assert "Traceback" not in response.text and "deadbeef" not in response.text


@pytest.mark.parametrize("request_id", [None, "same-id-every-time"])
def test_reads_see_a_change_committed_elsewhere_at_once(client, token, settings, request_id):
    """The read caches never outlive a commit made by another connection or process, even
    for a client that repeats one X-Request-ID."""
    from sqlalchemy import text

    from cielo.db import Database

    auth = {"Authorization": f"Bearer {token}"}
    if request_id:
        auth["X-Request-ID"] = request_id

    create(client, auth, **SEED)
    for _ in range(2):  # the second round is served from the caches
        assert client.get(URL, headers=auth).json() == {"customers": [SEED]}
        assert client.get(URL + "/cielo24-test", headers=auth).json() == {"customers": [SEED]}

    async def rename():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                await session.execute(text("UPDATE whitelabel_accounts SET customer_name = 'Changed elsewhere'"))
        finally:
            await db.dispose()

    run(rename())
    changed = {**SEED, "customer_name": "Changed elsewhere"}
    assert client.get(URL, headers=auth).json() == {"customers": [changed]}
    assert client.get(URL + "/cielo24-test", headers=auth).json() == {"customers": [changed]}
