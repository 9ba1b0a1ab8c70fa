"""CIELO_TELEMETRY switches FastAPI's native OpenTelemetry: off (the default), no request looks
for a tracer even when the process has one configured; on, requests are traced through it.
Each case runs in its own process, since OpenTelemetry's provider is global to a process."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import sys, tempfile, pathlib
from opentelemetry import trace
from starlette.testclient import TestClient
from cielo.app import create_app
from cielo.config import Settings

calls = []

class Recording(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        calls.append(args)
        return trace.NoOpTracer()

trace.set_tracer_provider(Recording())
settings = Settings(data_dir=pathlib.Path(tempfile.mkdtemp()), access_log=False, queue_consumer=False,
                    telemetry=sys.argv[1] == "on")
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
print(len(calls))
"""


@pytest.mark.parametrize(("telemetry", "traced"), [("off", False), ("on", True)])
def test_the_setting_decides_whether_requests_are_traced(telemetry, traced):
    result = subprocess.run([sys.executable, "-c", PROGRAM, telemetry], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (int(result.stdout.split()[-1]) > 0) is traced
