"""Real `cielo serve` processes for tests that need a server, and its command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real `cielo serve` process; its stderr is kept in a file for log assertions."""

    def __init__(self, data_dir: Path, database_url: str | None, *, workers: int = 1, extra_env=None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"serve-{self.port}.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
        env["CIELO_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["CIELO_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cielo", *args], env=self.env, capture_output=True, text=True, check=check, timeout=120
        )

    def start(self) -> "LiveServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cielo", "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cielo serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("cielo serve did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def live_server(data_dir: Path, database_url: str | None, **kwargs):
    server = LiveServer(data_dir, database_url, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()




def create_token(server: LiveServer, scope: str = "whitelabel") -> str:
    """A Bearer token made with the server's command line, as an operator makes one."""
    result = server.cli("admin", "token", "create", "--name", "live", "--scope", scope)
    return result.stdout.strip().splitlines()[-1]
