"""Validate responses against the reference OpenAPI documents in tests/reference/."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import httpx
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator._format import oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.testclient import TestClient

from tests.support.db import WHITELABEL

REFERENCE = Path(__file__).parents[1] / "reference"
URN = "urn:cielo-reference"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Reference:
    def __init__(self, name: str) -> None:
        self.spec = yaml.safe_load((REFERENCE / name).read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(URN, resource)
        self._paths = []
        for template in self.spec["paths"]:
            # The last path parameter may hold slashes (a space name can), so it takes ".+".
            pattern = re.sub(r"\{[^}]+\}$", ".+", template)
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
            self._paths.append((re.compile(f"^{pattern}$", re.DOTALL), template))
        self._paths.sort(key=lambda item: item[1].count("{"))

    def _resolve(self, node: dict, pointer: str) -> tuple[dict, str]:
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            pointer = ref[1:]
            node = self.spec
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def operation(self, method: str, path: str, base: str = "") -> tuple[str, dict]:
        local = path[len(base):] if base and path.startswith(base) else path
        for regex, template in self._paths:
            if regex.match(local) and method.lower() in self.spec["paths"][template]:
                return template, self.spec["paths"][template][method.lower()]
        raise AssertionError(f"{method} {path} is not an operation of the reference document")

    def check(self, method: str, path: str, status: int, body, base: str = "") -> None:
        template, op = self.operation(method, path, base)
        responses = op["responses"]
        key = str(status)
        if key not in responses:
            raise AssertionError(f"{method} {template} answered {status}, which the reference does not document")
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
        response, pointer = self._resolve(responses[key], pointer)
        content = response.get("content", {}).get("application/json")
        if content is None:
            return
        schema_ref = {"$ref": f"{URN}#{pointer}/content/application~1json/schema"}
        validator = OAS31Validator(schema_ref, registry=self.registry, format_checker=oas31_format_checker)
        try:
            validator.validate(body)
        except ValidationError as exc:
            raise AssertionError(f"{method} {path} {status}: body breaks the reference schema: {exc.message}") from None


@cache
def reference(name: str) -> Reference:
    return Reference(name)


class CheckedClient(TestClient):
    """A TestClient that validates every white-label answer against the reference document."""

    allow_undocumented = (405, 413)

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        path = httpx.URL(str(response.request.url)).path
        if path.startswith(WHITELABEL) and response.status_code not in self.allow_undocumented:
            reference("whitelabel-v1.openapi.yaml").check(method, path, response.status_code, response.json())
        return response
