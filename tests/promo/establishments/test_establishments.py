"""Commercial establishments in the back office, GET /commercial-establishments, and the
partner side of the access layer (application Access-Tokens and their profiles)."""

from __future__ import annotations

import re

import pytest

from tests.support.db import db_sql
from tests.support.panel import Panel, field
from tests.support.promo import PRODUCTION, SANDBOX, check, partner_app

CNPJ = "11.222.333/0001-81"
CNPJ_BRANCH = "11.222.333/0002-62"
ALNUM_CNPJ = "12.ABC.345/01DE-35"
CPF = "390.533.447-05"


def establishment(client, admin, env="sandbox", **fields):
    body = {"fictitiousName": "Padaria Paulista", "businessActivityId": 5812, "cnpj": CNPJ,
            "latitude": -23.5614, "longitude": -46.6559, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post(f"/admin/v1/{env}/commercial-establishments", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def partner_headers(creds) -> dict:
    return {"Client-Id": creds.client_id, "Access-Token": creds.access_token}


def test_back_office_establishments(client, admin, settings):
    created = establishment(client, admin, address={"street": "Av. Paulista", "number": "1000", "city": "São Paulo",
                                                    "state": "SP", "zipCode": "01310-100"})
    assert created["cnpj"] == "11222333000181" and created["cpf"] is None and created["address"]["state"] == "SP"
    alnum = establishment(client, admin, cnpj=ALNUM_CNPJ, fictitiousName="Loja Nova")
    assert alnum["cnpj"] == "12ABC34501DE35"
    person = establishment(client, admin, cnpj=None, cpf=CPF, fictitiousName="Ambulante")
    assert person["cpf"] == "39053344705"
    got = client.get(f"/admin/v1/sandbox/commercial-establishments/{created['id']}", headers=admin)
    assert got.status_code == 200 and got.json() == created
    assert client.get(f"/admin/v1/production/commercial-establishments/{created['id']}", headers=admin).status_code == 404
    patched = client.patch(f"/admin/v1/sandbox/commercial-establishments/{created['id']}",
                           json={"active": False, "fictitiousName": "Padaria Nova"}, headers=admin)
    assert patched.json()["active"] is False and patched.json()["fictitiousName"] == "Padaria Nova"
    audit = db_sql(settings, "SELECT operation FROM audit_log WHERE resource_type = 'commercial_establishment' ORDER BY id")
    assert [a[0] for a in audit] == ["create", "create", "create", "modify"]


@pytest.mark.parametrize(
    "fields,fragment",
    [
        ({"cnpj": "11.222.333/0001-82"}, "check digits"),
        ({"cnpj": "1122233300018"}, "14 characters"),
        ({"cnpj": None}, "exactly one"),
        ({"cpf": CPF}, "exactly one"),
        ({"latitude": 91}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"businessActivityId": 0}, "businessActivityId"),
        ({"fictitiousName": ""}, "fictitiousName"),
        ({"address": {"state": "São Paulo"}}, "state"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_back_office_refusals_change_nothing(client, admin, settings, fields, fragment):
    body = {"fictitiousName": "X", "businessActivityId": 1, "cnpj": CNPJ, "latitude": 0, "longitude": 0, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/admin/v1/sandbox/commercial-establishments", json=body, headers=admin)
    assert response.status_code == 400 and fragment in response.json()["detail"]
    assert db_sql(settings, "SELECT COUNT(*) FROM commercial_establishments")[0][0] == 0


def test_sandbox_applications_see_every_sandbox_establishment(client, admin):
    creds = partner_app(client)
    first = establishment(client, admin)
    establishment(client, admin, cpf=CPF, cnpj=None, fictitiousName="Ambulante")
    establishment(client, admin, env="production", fictitiousName="Só em produção")
    response = client.get(SANDBOX + "/commercial-establishments", headers=partner_headers(creds))
    assert response.status_code == 200 and response.headers["x-total-count"] == "2"
    assert response.json()[0] == {"id": first["id"], "fictitiousName": "Padaria Paulista", "businessActivity": {"id": 5812}}
    check(response, SANDBOX)
    by_cnpj = client.get(SANDBOX + "/commercial-establishments", params={"cnpj": "11222333000181"},
                         headers=partner_headers(creds))
    assert [e["id"] for e in by_cnpj.json()] == [first["id"]]
    by_cpf = client.get(SANDBOX + "/commercial-establishments", params={"cpf": "39053344705"}, headers=partner_headers(creds))
    assert [e["fictitiousName"] for e in by_cpf.json()] == ["Ambulante"]
    for params in ({"cnpj": "11.222.333/0001-80"}, {"cpf": "390.533.447-00"}, {"cnpj": "abc"}):
        bad = client.get(SANDBOX + "/commercial-establishments", params=params, headers=partner_headers(creds))
        assert bad.status_code == 400
        check(bad, SANDBOX)


def test_production_applications_see_only_what_their_partner_was_granted(client, admin):
    creds = partner_app(client, environment="production")
    granted = establishment(client, admin, env="production")
    branch = establishment(client, admin, env="production", cnpj=CNPJ_BRANCH, fictitiousName="Filial")
    other = establishment(client, admin, env="production", cnpj=ALNUM_CNPJ, fictitiousName="Outra empresa")
    url = PRODUCTION + "/commercial-establishments"
    assert client.get(url, headers=partner_headers(creds)).json() == []  # no partner yet
    partner = client.post("/admin/v1/production/partners", headers=admin,
                          json={"name": "P", "term": "https://p.example.com/t", "associationType": "MANUAL"}).json()
    app_id = client.get("/admin/v1/production/applications", headers=admin).json()[0]["id"]
    client.patch(f"/admin/v1/production/applications/{app_id}", json={"partnerId": partner["id"]}, headers=admin)
    grant = client.post(f"/admin/v1/production/partners/{partner['id']}/grants",
                        json={"commercialEstablishmentId": granted["id"]}, headers=admin)
    assert grant.status_code == 201
    assert [e["id"] for e in client.get(url, headers=partner_headers(creds)).json()] == [granted["id"]]
    by_root = client.post(f"/admin/v1/production/partners/{partner['id']}/grants", json={"cnpjRoot": "11222333"}, headers=admin)
    assert by_root.status_code == 201
    assert [e["id"] for e in client.get(url, headers=partner_headers(creds)).json()] == [granted["id"], branch["id"]]
    assert other["id"] not in [e["id"] for e in client.get(url, headers=partner_headers(creds)).json()]
    assert client.delete(f"/admin/v1/production/partners/{partner['id']}/grants/{by_root.json()['id']}",
                         headers=admin).status_code == 204
    assert [e["id"] for e in client.get(url, headers=partner_headers(creds)).json()] == [granted["id"]]
    for body in ({}, {"commercialEstablishmentId": granted["id"], "cnpjRoot": "11222333"}, {"cnpjRoot": "123"}):
        assert client.post(f"/admin/v1/production/partners/{partner['id']}/grants", json=body, headers=admin).status_code == 400


def test_partner_credential_checks(client, admin):
    creds = partner_app(client)
    establishment(client, admin)
    production = partner_app(client, environment="production", email="prod@example.com")
    url = SANDBOX + "/commercial-establishments"
    cases = [
        ({"Access-Token": creds.access_token}, 401),
        ({"Client-Id": creds.client_id}, 401),
        ({"Client-Id": "sbx_nobody", "Access-Token": creds.access_token}, 401),
        ({"Client-Id": creds.client_id, "Access-Token": "capp_AAAAAAAAAAAA." + "A" * 43}, 401),
        ({"Client-Id": creds.client_id, "Access-Token": "not a token"}, 401),
        ({"Client-Id": production.client_id, "Access-Token": production.access_token}, 403),
        ({"Client-Id": production.client_id, "Access-Token": creds.access_token}, 403),
        ({"client_id": creds.client_id, "access_token": creds.access_token}, 200),
    ]
    for headers, status in cases:
        response = client.get(url, headers=headers)
        assert response.status_code == status, headers
        check(response, SANDBOX)
    other = partner_app(client, email="other@example.com")
    response = client.get(url, headers={"Client-Id": other.client_id, "Access-Token": creds.access_token})
    assert response.status_code == 403 and "not issued to this Client-Id" in response.json()


def test_partner_profiles_groups_rate_and_page_size(client, admin):
    panel = Panel(client)
    panel.register("dev@example.com")
    holder_only = panel.application_with_token(groups=("holder",))
    limited = panel.create_token(holder_only.app_id, name="small", rpm="2", page="3", groups=("partner",))
    small_token = field(limited.text, "access_token")
    for _ in range(4):
        establishment(client, admin)
    url = SANDBOX + "/commercial-establishments"
    forbidden = client.get(url, headers={"Client-Id": holder_only.client_id, "Access-Token": holder_only.access_token})
    assert forbidden.status_code == 403 and "partner API" in forbidden.json()
    headers = {"Client-Id": holder_only.client_id, "Access-Token": small_token}
    too_big = client.get(url, params={"_limit": "4"}, headers=headers)
    assert too_big.status_code == 413 and "maximum page size of 3" in too_big.json()
    check(too_big, SANDBOX)
    second = client.get(url, params={"_limit": "3"}, headers=headers)
    assert second.status_code == 200 and len(second.json()) == 3 and second.headers["x-total-count"] == "4"
    assert 'rel="next"' in second.headers["link"]
    limited_answer = client.get(url, headers=headers)
    assert limited_answer.status_code == 429 and limited_answer.headers["ratelimit-limit"] == "2"
    assert int(limited_answer.headers["retry-after"]) >= 1
    check(limited_answer, SANDBOX)
    small_id = re.findall(r'data-token-id="(\d+)"', limited.text)[-1]  # the newest row
    panel.post_form(f"/developer/applications/{holder_only.app_id}",
                    f"/developer/applications/{holder_only.app_id}/tokens/{small_id}/revoke", {})
    revoked = client.get(url, headers=headers)
    assert revoked.status_code == 401
