"""Shared by the benchmarks: start servers pinned to one core, drive them with wrk on the other."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CPUS = os.cpu_count() or 1
SERVER_CPU = "0"
LOAD_CPU = "1" if CPUS > 1 else "0"


def cli_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a `cielo` command on this data directory (and database, if given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env["CIELO_DATA_DIR"] = str(data_dir)
    if database_url:
        env["CIELO_DATABASE_URL"] = database_url
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") and CPUS > 1 else []


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children (a server's workers), from /proc."""
    total, pids = 0, [pid]
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    pids += [int(child) for child in children]
    for one in pids:
        try:
            with open(f"/proc/{one}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wait_quiet(proc: subprocess.Popen, *, share: float = 0.05, window: float = 1.0, timeout: float = 90) -> bool:
    """Wait until a server and its workers use under ``share`` of a CPU over ``window`` seconds
    (a new server compiles its search in a background thread at first, which would slow
    whatever is measured beside it); False if it never quietened within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cpu_seconds(proc.pid)
        time.sleep(window)
        if _cpu_seconds(proc.pid) - before < share * window:
            return True
    return False


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    cpu_us: float | None = None  # the server's CPU microseconds per request (wrk(server=...))


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(name: str, url: str, *, seconds: int, connections: int, script: str | None = None, headers=(),
        settle: float = 5.0, server: subprocess.Popen | None = None) -> Result:
    """One wrk run. ``server``: the process (and its workers) whose CPU time to count during the
    run: ``Result.cpu_us`` is its CPU microseconds per request, a figure a shared machine's
    noise moves much less than req/s (the servers are CPU-bound on their core)."""
    # Let the server finish what the previous run left queued (a -c64 run of slow requests
    # leaves up to 64 in flight), or their tail lands in this run's p99.
    time.sleep(settle)
    cmd = [*taskset(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    script_file = None
    if script:
        script_file = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script_file.write(script)
        script_file.close()
        cmd += ["-s", script_file.name]
    cmd.append(url)
    cpu_before = _cpu_seconds(server.pid) if server is not None else 0.0
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(server.pid) - cpu_before if server is not None else None
    if script_file:
        os.unlink(script_file.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(name, rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, requests,
                  cpu * 1e6 / requests if cpu is not None and requests else None)


def start(cmd: list[str], env: dict[str, str], ready_url: str, log: Path) -> subprocess.Popen:
    fh = open(log, "wb")
    proc = subprocess.Popen([*taskset(SERVER_CPU), *cmd], env=env, stdout=fh, stderr=subprocess.STDOUT)
    wait_ready(ready_url, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def uvicorn_cmd(app: str, port: int, *, factory: bool = False, workers: int = 1) -> list[str]:
    cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return cmd + (["--factory"] if factory else [])


def bare(seconds: int, connections: int, work: Path, label: str, path: str = "/bare", *, workers: int = 1,
         settle: float = 5.0) -> Result:
    """The baseline: benchmarks/bare_app.py served by the same uvicorn, under the same load
    (with ``workers`` processes, to compare with a `cielo serve --workers N`)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = start(uvicorn_cmd("bare_app:app", port, workers=workers), env, f"http://127.0.0.1:{port}/bare",
                 work / "bare.log")
    try:
        if workers > 1:
            time.sleep(2)  # the first worker answered; let the others finish starting
        return wrk(label, f"http://127.0.0.1:{port}{path}", seconds=seconds, connections=connections, settle=settle)
    finally:
        stop(proc)


def table(results: list[Result], baseline: Result) -> str:
    lines = [f"{'run':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'non-2xx':>8}"]
    for r in results:
        lines.append(
            f"{r.name:<34} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.rps / baseline.rps:>8.2f} {r.non_2xx:>8}"
        )
    return "\n".join(lines)


def unthrottle(database_url: str, client_id: str) -> None:
    """Lift the access profile's rate limits of the benchmark's application (partner
    Access-Tokens and holders): the benchmark measures the service, not its 429s."""
    import asyncio

    from sqlalchemy import text

    from cielo.db import Database

    async def go() -> None:
        db = Database(database_url, pool_size=1)
        try:
            async with db.write() as session:
                app_id = (await session.execute(text("SELECT id FROM applications WHERE client_id = :c"),
                                                {"c": client_id})).scalar_one()
                await session.execute(text("UPDATE applications SET holder_requests_per_minute = 100000000 "
                                           "WHERE id = :a"), {"a": app_id})
                await session.execute(text("UPDATE app_access_tokens SET requests_per_minute = 100000000 "
                                           "WHERE application_id = :a"), {"a": app_id})
        finally:
            await db.dispose()

    asyncio.run(go())
