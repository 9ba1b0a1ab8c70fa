"""The served /openapi.json: a valid OpenAPI 3.1 document that describes every operation of
the white-label and Promotions APIs whole (the answers' conformance to it is fuzzed in
tests/test_fuzz_promo.py)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from cielo.promo.environments import Environment
from tests.support.db import make_token

API_PREFIXES = ("/api/integrations/canvas/v1/", *(env.base_path + "/" for env in Environment))
HTTP_METHODS = ("get", "post", "patch", "put", "delete")


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _api_operations(document: dict):
    for path, operations in document["paths"].items():
        if path.startswith(API_PREFIXES) or path == "/api/integrations/canvas/v1/white_label_account":
            for method, operation in operations.items():
                if method in HTTP_METHODS:
                    yield path, method, operation


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_served_document_is_valid_openapi(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error (unresolved path parameters included)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_api_operation_is_described_whole(document):
    schemes = document["components"]["securitySchemes"]
    tags = {tag["name"]: tag for tag in document["tags"]}
    operations = list(_api_operations(document))
    assert len(operations) >= 2 * 17 + 5
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("tags") and all(tags[tag]["description"] for tag in operation["tags"]), where
        assert "security" in operation, where
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), where
        declared = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
        for name in [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]:
            assert (name, "path") in declared, where
        for parameter in operation.get("parameters", []):
            assert parameter.get("description") and parameter.get("schema"), (where, parameter["name"])
        answers = operation["responses"]
        successes = [code for code in answers if code.startswith(("2", "3"))]
        assert successes, where
        for code in successes:
            content = answers[code].get("content", {}).get("application/json")
            if content is not None:
                assert content.get("schema") not in (None, {}), (where, code)
        errors = [code for code in answers if code.startswith(("4", "5"))]
        assert {"400", "500"} <= set(errors) or path.startswith("/api/"), where
        for code in errors:
            assert answers[code]["content"]["application/json"]["schema"], (where, code)
        if method in ("post", "patch", "delete") and path.startswith(API_PREFIXES[1:]):
            if code_takes_body := "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"]["schema"], where
            assert code_takes_body or method == "delete", where


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_document_holds_no_head_operations_and_names_the_promo_security(document):
    assert not any("head" in operations for operations in document["paths"].values())
    schemes = document["components"]["securitySchemes"]
    assert schemes["ClientId"] == {**schemes["ClientId"], "type": "apiKey", "in": "header", "name": "Client-Id"}
    assert schemes["AccessToken"]["name"] == "Access-Token" and schemes["ClientBasic"]["scheme"] == "basic"
    token = document["paths"]["/sandbox/promotions/v1/access-token"]["post"]
    assert token["security"] == [{"ClientId": [], "ClientBasic": []}]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_reference_pages_work_offline(client):
    """/docs and /redoc load their scripts and styles from the service, never from a CDN."""
    for page, assets in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")), ("/redoc", ("redoc.standalone.js",))):
        html = client.get(page)
        assert html.status_code == 200 and "/openapi.json" in html.text
        assert "cdn." not in html.text and "fonts.googleapis" not in html.text
        for name in (*assets, "favicon.png"):
            assert f"/docs/assets/{name}" in html.text
            asset = client.get(f"/docs/assets/{name}")
            assert asset.status_code == 200 and len(asset.content) > 1000, name
    assert client.get("/docs/assets/secret.keys").status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_back_office_documents_the_400_it_answers_for_bad_input(client, document, settings):
    operations = [op for path, ops in document["paths"].items() if path.startswith("/admin/") for op in ops.values()]
    assert operations and not any("422" in op["responses"] for op in operations)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    _, token = make_token(settings, "admin")
    answered = client.get("/admin/v1/sandbox/commercial-establishments", params={"offset": "x"},
                          headers={"Authorization": f"Bearer {token}"})
    documented = document["paths"]["/admin/v1/{env}/commercial-establishments"]["get"]["responses"]["400"]
    assert answered.status_code == 400 and set(answered.json()) == set(documented["content"]["application/json"]
                                                                         ["schema"]["required"])
