"""Property-based runs of schemathesis against a real server on the seeded sandbox: no 5xx
and no answer outside the promotions reference, for the partner and the holder APIs; and no
5xx from the back office, driven by the service's own OpenAPI document (it has no reference
of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.panel import Credentials
from tests.support.promo import tokens_for

pytestmark = pytest.mark.slow

SPEC = Path(__file__).parents[1] / "reference" / "promotions-v1.openapi.yaml"
MAX_EXAMPLES = os.environ.get("CIELO_FUZZ_EXAMPLES", "30")
SEED = os.environ.get("CIELO_FUZZ_SEED", "20261124")
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def schemathesis(url: str, headers: dict[str, str], *selection: str, report_dir: Path, spec: Path = SPEC,
                 checks: str = CHECKS) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", str(spec), "--url", url, "--checks", checks,
               "--max-examples", MAX_EXAMPLES, "--seed", SEED,
               "--workers", "1",  # 2 threads hit a CPython AST race inside schemathesis
               "--report", "junit",
               "--report-dir", str(report_dir), *selection]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def _signed_in(server, document: dict) -> dict:
    """The seeded client's token pair for the first seeded holder, signed in through the pages."""
    client, holder = document["client"], document["holders"][0]
    creds = Credentials(0, client["client_id"], client["client_secret"], client["access_token"])
    with httpx.Client(base_url=server.url) as browser:
        return tokens_for(browser, creds, base="/sandbox/promotions/v1", redirect_url=client["redirect_url"],
                          name=holder["name"], cpf=holder["cpf"], birthdate=holder["birthdate"],
                          email=holder["email"], password=holder["password"])


def test_promo_api_fuzz(server_factory, tmp_path):
    server = server_factory()
    document = json.loads(server.cli("sandbox", "seed", "--json").stdout)
    client = document["client"]
    base = server.url + "/sandbox/promotions/v1"
    partner = {"Client-Id": client["client_id"], "Access-Token": client["access_token"]}
    result = schemathesis(base, partner, "--exclude-path-regex", "^/(me|login|cards|access-token|refresh-token)",
                          report_dir=tmp_path / "partner")
    assert result.returncode == 0, result.stdout[-6000:]

    tokens = _signed_in(server, document)
    holder_headers = {"Client-Id": client["client_id"], "Access-Token": tokens["access_token"]}
    result = schemathesis(base, holder_headers, "--include-path-regex", "^/me", report_dir=tmp_path / "holder")
    assert result.returncode == 0, result.stdout[-6000:]
    assert client["access_token"] not in server.log and tokens["access_token"] not in server.log


def test_back_office_fuzz(server_factory, tmp_path):
    server = server_factory()
    server.cli("sandbox", "seed")
    token = server.cli("admin", "token", "create", "--name", "fuzz", "--scope", "admin").stdout.strip().splitlines()[-1]
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(server.url + "/openapi.json").text)
    result = schemathesis(server.url, {"Authorization": f"Bearer {token}"}, "--include-path-regex", "^/admin/",
                          report_dir=tmp_path / "admin", spec=spec, checks="not_a_server_error,response_schema_conformance")
    assert result.returncode == 0, result.stdout[-6000:]
    assert token not in server.log


def test_promo_api_fuzz_against_its_own_document(server_factory, tmp_path):
    """The service's answers conform to the document it serves (partner and holder routes of
    the sandbox): statuses, content types and bodies as /openapi.json says."""
    server = server_factory()
    document = json.loads(server.cli("sandbox", "seed", "--json").stdout)
    client = document["client"]
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(server.url + "/openapi.json").text)
    partner = {"Client-Id": client["client_id"], "Access-Token": client["access_token"]}
    result = schemathesis(server.url, partner, "--include-path-regex",
                          "^/sandbox/promotions/v1/(promotions|commercial-establishments|subscriptions)",
                          report_dir=tmp_path / "partner", spec=spec)
    assert result.returncode == 0, result.stdout[-6000:]

    tokens = _signed_in(server, document)
    holder_headers = {"Client-Id": client["client_id"], "Access-Token": tokens["access_token"]}
    result = schemathesis(server.url, holder_headers, "--include-path-regex", "^/sandbox/promotions/v1/me",
                          report_dir=tmp_path / "holder", spec=spec)
    assert result.returncode == 0, result.stdout[-6000:]
