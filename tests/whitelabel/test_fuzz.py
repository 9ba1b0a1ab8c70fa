"""Property-based run of schemathesis against a real server and the reference document:
no 5xx, no answer outside the reference (status, content type, schema)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.db import WHITELABEL
from tests.support.live import create_token

pytestmark = pytest.mark.slow

SPEC = Path(__file__).parents[1] / "reference" / "whitelabel-v1.openapi.yaml"
# A fixed budget keeps CI time flat; CIELO_FUZZ_EXAMPLES / CIELO_FUZZ_SEED widen it by hand.
MAX_EXAMPLES = os.environ.get("CIELO_FUZZ_EXAMPLES", "60")
SEED = os.environ.get("CIELO_FUZZ_SEED", "20261124")
# Two checks expect what API.md §1 rules out, so they are not run:
#  - missing_required_header wants 401 without a token; the contract says 403.
#  - positive_data_acceptance wants 2xx for any schema-valid body; the contract answers 400
#    for a valid body naming a space that is (not yet) integrated.
EXCLUDED = "missing_required_header,positive_data_acceptance"


def test_schemathesis_finds_no_server_error_and_no_off_reference_answer(server_factory, tmp_path):
    server = server_factory()
    token = create_token(server)
    auth = {"Authorization": f"Bearer {token}"}
    # Something to find, change and delete: the reference's own example names.
    for name in ("cielo24-test", "cielo24-test-2", "cielo24-2"):
        body = {"canvas_space_name": name, "api_key": "k", "api_secret": "s"}
        httpx.post(server.url + WHITELABEL, json=body, headers=auth)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis), "run", str(SPEC),
            "--url", server.url,
            "-H", f"Authorization: Bearer {token}",
            "--checks", "all",
            "--exclude-checks", EXCLUDED,
            "--max-examples", MAX_EXAMPLES,
            "--seed", SEED,
            "--workers", "1",  # 2 threads hit a CPython AST race inside schemathesis
            "--report", "junit",
            "--report-dir", str(tmp_path / "schemathesis"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "5 operations" in result.stdout or "Tested: 5" in result.stdout, result.stdout[-3000:]
    assert token not in server.log
