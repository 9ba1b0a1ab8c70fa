"""Every GET operation of both APIs, and the subscription POST, each next to the bare FastAPI
endpoint and to Stoplight Prism mocking the reference documents, in one run.

    python benchmarks/operations.py [--postgres ADMIN_URL] [--seconds 5] [--only op1,op2] [--skip-prism]

For each database — SQLite served by `cielo serve --workers 1`, then PostgreSQL (when
--postgres is given and answers) by `cielo serve --workers 2` — a fresh database is filled the
way a partner would find it: `cielo sandbox seed --json` (the partner's Client-Id and
Access-Token), a white-label token from `cielo admin token create`, 1,000 white-label accounts
POSTed through the API, a seeded holder signed in through the real pages (/login → the login
form with its CSRF field → consent → /access-token), a few subscription requests queued
(CIELO_QUEUE_CONSUMER=false, so they stay queued). The rate limits of the sandbox application
are lifted (`_load.unthrottle`), and those of /login and /cards (CIELO_FLOW_STARTS_PER_MINUTE):
the rows measure the service, not its 429s.

Each operation is first requested once with httpx, its status and body checked (the run stops
if one is not what it should be), then driven with wrk (CPU 1; the servers on CPU 0) at 64
connections (req/s, p50, p99) and at 4 (p99), and right after it Prism at 64 (npm,
@stoplight/prism-cli, one process per reference document; the same paths less the base path,
the same headers; the status Prism answered is reported). The bare FastAPI endpoint
(benchmarks/bare_app.py, as many uvicorn workers as cielo has) is measured at the start, the
middle and the end; their mean is the baseline. All servers run throughout, each idle while
another is measured.

Goals per row: ≥ 3× Prism's req/s, ≥ 0.5× the bare endpoint's, p99 < 20 ms at 4 connections.
Tables on stdout; JSON in benchmarks/results/operations-<db>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from _load import (  # noqa: E402
    Result,
    cli_env,
    free_port,
    start,
    stop,
    unthrottle,
    uvicorn_cmd,
    wait_quiet,
    wrk,
)

from cielo.config import normalise_database_url  # noqa: E402

DATA = ROOT / "benchmarks" / ".data"
RESULTS = ROOT / "benchmarks" / "results"
# The reference documents Prism mocks: the same ones the tests validate answers against.
REFERENCE = ROOT / "tests" / "reference"
WL = "/api/integrations/canvas/v1/white_label_account"
SANDBOX = "/sandbox/promotions/v1"
PG_DATABASE = "cielo_bench_operations"
GOAL_PRISM, GOAL_BARE, GOAL_P99_MS = 3.0, 0.5, 20.0
PRISM_DOCUMENTS = {"whitelabel": "whitelabel-v1.openapi.yaml", "promotions": "promotions-v1.openapi.yaml"}


# ---- operations --------------------------------------------------------------------------


Check = Callable[[httpx.Response], "str | None"]


@dataclass
class Op:
    """One operation as a client calls it: the paths wrk cycles through (all answered alike),
    its headers, the status it must answer and what its body must hold."""

    name: str
    api: str  # "whitelabel" or "promotions" (which reference document Prism mocks)
    method: str
    paths: list[str]
    headers: dict[str, str]
    expected: int
    check: Check
    body: str | None = None
    note: str = ""

    @property
    def label(self) -> str:
        path = self.paths[0]
        path = path[len(SANDBOX):] if path.startswith(SANDBOX) else path.replace(WL, "WL")
        return f"{self.method} {path}" + (f" (×{len(self.paths)})" if len(self.paths) > 1 else "")

    def prism_paths(self) -> list[str]:
        # Prism serves a document's paths without its servers' (relative) base path.
        return [p[len(SANDBOX):] if p.startswith(SANDBOX) else p for p in self.paths]


def _json(response: httpx.Response):
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise AssertionError(f"not JSON: {response.headers.get('content-type')}")
    return response.json()


def _total(response: httpx.Response) -> int:
    return int(response.headers.get("X-Total-Count", "-1"))


def checking(predicate: Callable[[httpx.Response], bool], what: str) -> Check:
    def check(response: httpx.Response) -> str | None:
        try:
            ok = predicate(response)
        except Exception as exc:  # noqa: BLE001 - any surprise in the body is a failed check
            return f"{what}: {type(exc).__name__}: {exc}"
        return None if ok else what
    return check


def lua_string(text: str) -> str:
    # An ASCII JSON string is a Lua string; JSON's \uXXXX escapes are not (paths are URL-encoded).
    if not text.isascii():
        raise ValueError(f"not ASCII, cannot go into wrk's script as is: {text!r}")
    return json.dumps(text)


def lua(method: str, paths: list[str], body: str | None = None) -> str:
    """Requests prebuilt in init(), when wrk has set Host and the -H headers (built at load time
    they carry no Host, which Prism's Node server refuses with 400); request() only picks the
    next one (building it there costs wrk more than some servers spend answering)."""
    listed = ",\n".join(lua_string(p) for p in paths)
    content_type = '  headers["Content-Type"] = "application/json"\n' if body is not None else ""
    return (f"local paths = {{\n{listed}\n}}\nlocal requests = {{}}\nlocal k = 0\n"
            "init = function(args)\n  local headers = {}\n"
            "  for name, value in pairs(wrk.headers) do headers[name] = value end\n"
            f"{content_type}"
            f"  for i, p in ipairs(paths) do requests[i] = wrk.format({lua_string(method)}, p, headers, "
            f"{lua_string(body) if body is not None else 'nil'}) end\nend\n"
            "request = function()\n  k = k % #requests + 1\n  return requests[k]\nend\n")


def request_once(http: httpx.Client, op: Op, path: str) -> httpx.Response:
    return http.request(op.method, path, headers={**op.headers, **({"Content-Type": "application/json"} if op.body else {})},
                        content=op.body, follow_redirects=False)


# ---- the data a partner would have -------------------------------------------------------


@dataclass
class World:
    """What the operations need, made through the CLI and the API of the running server."""

    seed: dict
    wl_token: str
    accounts: list[str] = field(default_factory=list)
    holder_token: str = ""
    queued_id: int = 0
    processed: tuple[int, int] = (0, 0)  # (establishment, subscription request)


def run_cli(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "cielo", *args], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"cielo {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


async def post_accounts(base: str, token: str, count: int) -> list[str]:
    """White-label accounts created through the API, as the Canvas team would (16 at a time)."""
    names = [f"bench-space-{i:05d}" for i in range(count)]
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async def one(i: int, name: str) -> None:
            async with gate:
                response = await http.post(WL, json={"canvas_space_name": name, "api_key": f"key-{i:05d}",
                                                     "api_secret": f"secret-{i:05d}-{os.urandom(8).hex()}",
                                                     "customer_name": f"Customer {i}", "is_active": i % 7 != 0})
                if response.status_code != 200:
                    raise RuntimeError(f"POST {WL} for {name}: {response.status_code} {response.text[:300]}")
        await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
    return names


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("the page has no CSRF field")
    return match.group(1)


def request_of(html: str) -> str:
    match = re.search(r'name="request" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("the page has no request field")
    return match.group(1)


def sign_in(base: str, seed: dict, holder: dict) -> str:
    """The holder's Access-Token the way a partner's user gets one: /login (301) → the login
    page and its form (CSRF) → the consent page, Allow → back to the redirect URL with a code
    → POST /access-token with the client's Basic credentials (tests/support/promo.py)."""
    client = seed["client"]
    with httpx.Client(base_url=base, timeout=30) as http:  # one browser: its cookies carry the CSRF pairing
        response = http.get(SANDBOX + "/login", params={
            "client_id": client["client_id"], "redirect_url": client["redirect_url"], "name": holder["name"],
            "cpf": holder["cpf"], "birthdate": holder["birthdate"], "email": holder["email"], "state": "bench"},
            follow_redirects=False)
        if response.status_code != 301:
            raise RuntimeError(f"/login: {response.status_code} {response.text[:300]}")
        page = http.get(response.headers["location"])
        if page.status_code != 200:
            raise RuntimeError(f"login page: {page.status_code} {page.text[:300]}")
        request_id = request_of(page.text)
        data = {"csrf_token": csrf_of(page.text), "request": request_id, "password": holder["password"]}
        submitted = http.post(SANDBOX + "/oauth/login", data=data, follow_redirects=False)
        if submitted.status_code != 303:
            raise RuntimeError(f"login form: {submitted.status_code} {submitted.text[:300]}")
        consent = http.get(submitted.headers["location"])
        if consent.status_code != 200:
            raise RuntimeError(f"consent page: {consent.status_code} {consent.text[:300]}")
        final = http.post(SANDBOX + "/oauth/consent", data={"csrf_token": csrf_of(consent.text), "request": request_id,
                                                           "decision": "allow"}, follow_redirects=False)
        if final.status_code != 303:
            raise RuntimeError(f"consent form: {final.status_code} {final.text[:300]}")
        back = urlsplit(final.headers["location"])
        if f"{back.scheme}://{back.netloc}{back.path}" != client["redirect_url"]:
            raise RuntimeError(f"consent sent the browser to {final.headers['location']}")
        query = parse_qs(back.query)
        if query.get("state") != ["bench"]:
            raise RuntimeError(f"the state came back as {query.get('state')}")
        pair = http.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": query["code"][0]},
                         headers={"Client-Id": client["client_id"]}, auth=(client["client_id"], client["client_secret"]))
        if pair.status_code != 201:
            raise RuntimeError(f"/access-token: {pair.status_code} {pair.text[:300]}")
        return pair.json()["access_token"]


def prepare(base: str, world: World, accounts: int) -> None:
    seed = world.seed
    t0 = time.perf_counter()
    world.accounts = asyncio.run(post_accounts(base, world.wl_token, accounts))
    print(f"  {accounts} white-label accounts POSTed in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    world.holder_token = sign_in(base, seed, seed["holders"][0])
    partner = {"Client-Id": seed["client"]["client_id"], "Access-Token": seed["client"]["access_token"]}
    with httpx.Client(base_url=base, headers=partner, timeout=30) as http:
        establishment = seed["commercial_establishments"][0]["id"]
        listed = http.get(f"{SANDBOX}/commercial-establishments/{establishment}/subscriptions")
        if listed.status_code != 200 or not listed.json():
            raise RuntimeError(f"no processed subscription of establishment {establishment}: {listed.text[:300]}")
        world.processed = (establishment, listed.json()[0]["id"])
        # A few requests left queued (the server runs without its queue consumer).
        promotion = next(p["id"] for p in seed["promotions"] if p["commercial_establishment_id"] == establishment)
        for _ in range(5):
            queued = http.post(f"{SANDBOX}/commercial-establishments/{establishment}/subscriptions",
                               json={"promotionID": promotion, "action": "S"})
            if queued.status_code != 202:
                raise RuntimeError(f"subscription request: {queued.status_code} {queued.text[:300]}")
        world.queued_id = queued.json()["id"]


def operations(world: World) -> tuple[list[Op], list[str]]:
    """The operations, in the order they are measured: reads first, then the ones that write
    (every commit empties the read caches, in every process)."""
    seed = world.seed
    client = seed["client"]
    partner = {"Client-Id": client["client_id"], "Access-Token": client["access_token"]}
    holder = {"Client-Id": client["client_id"], "Access-Token": world.holder_token}
    bearer = {"Authorization": f"Bearer {world.wl_token}"}
    establishments = seed["commercial_establishments"]
    by_cnpj = next(e for e in establishments if "cnpj" in e)
    by_cpf = next((e for e in establishments if "cpf" in e), None)
    first_holder = seed["holders"][0]
    card = first_holder["cards"][0]["id"]
    subscribe_to = next(p for p in seed["promotions"] if p["active"])
    active = [p["id"] for p in seed["promotions"] if p["active"]]
    today = date.today()
    period = f"start_date={(today - timedelta(days=364)).isoformat()}&end_date={today.isoformat()}"
    accounts = world.accounts[:]
    random.Random(42).shuffle(accounts)
    ce, sub = world.processed
    notes = []

    ops = [
        Op("wl-get-one", "whitelabel", "GET", [f"{WL}/{name}" for name in accounts], bearer, 200,
           checking(lambda r: [c["canvas_space_name"] for c in _json(r)["customers"]] == [r.url.path.rsplit("/", 1)[1]]
                    and set(_json(r)["customers"][0]) == {"canvas_space_name", "api_key", "api_secret", "is_active",
                                                          "customer_name"},
                    "one customer, the one asked for, with its five fields"),
           note=f"{len(accounts)} accounts in random order"),
        Op("wl-get-all", "whitelabel", "GET", [WL], bearer, 200,
           checking(lambda r: len(_json(r)["customers"]) == len(world.accounts), f"all {len(world.accounts)} customers"),
           note=f"{len(world.accounts)} accounts per answer"),
        Op("promotions", "promotions", "GET",
           [f"{SANDBOX}/promotions?latitude=-23.5614&longitude=-46.6559&radius=2000&_offset=0&_limit=10"], partner, 200,
           checking(lambda r: 0 < len(_json(r)) <= 10 and _total(r) >= len(_json(r))
                    and all(p["distance"] <= 2000 for p in _json(r)), "1-10 promotions within 2 km, X-Total-Count")),
        Op("promotion", "promotions", "GET", [f"{SANDBOX}/promotions/{p}" for p in active], partner, 200,
           checking(lambda r: _json(r)["id"] == int(r.url.path.rsplit("/", 1)[1]), "the promotion asked for"),
           note=f"the {len(active)} active sandbox promotions in turn"),
        Op("ce-by-cnpj", "promotions", "GET", [f"{SANDBOX}/commercial-establishments?cnpj={by_cnpj['cnpj']}"], partner,
           200, checking(lambda r: [e["id"] for e in _json(r)] == [by_cnpj["id"]], f"establishment {by_cnpj['id']}")),
    ]
    if by_cpf is not None:
        ops.append(Op("ce-by-cpf", "promotions", "GET", [f"{SANDBOX}/commercial-establishments?cpf={by_cpf['cpf']}"],
                      partner, 200,
                      checking(lambda r: [e["id"] for e in _json(r)] == [by_cpf["id"]], f"establishment {by_cpf['id']}"),
                      note="an establishment owned by a CPF"))
    else:
        notes.append("ce-by-cpf: the sandbox has no establishment owned by a CPF; not measured")
    ops += [
        Op("ce-subscriptions", "promotions", "GET", [f"{SANDBOX}/commercial-establishments/{ce}/subscriptions"], partner,
           200, checking(lambda r: len(_json(r)) > 0 and all(s["status"]["id"] in (1, 2) for s in _json(r)),
                         "processed subscriptions with a status")),
        Op("ce-subscription", "promotions", "GET", [f"{SANDBOX}/commercial-establishments/{ce}/subscriptions/{sub}"],
           partner, 200, checking(lambda r: _json(r)["id"] == sub and "processingDate" in _json(r),
                                  f"processed subscription {sub}")),
        Op("queue", "promotions", "GET", [f"{SANDBOX}/subscriptions/queue"], partner, 200,
           checking(lambda r: len(_json(r)) >= 5 and _total(r) >= 5, "the 5 queued requests")),
        Op("queue-entry", "promotions", "GET", [f"{SANDBOX}/subscriptions/{world.queued_id}/queue"], partner, 200,
           checking(lambda r: _json(r)["id"] == world.queued_id, f"queued request {world.queued_id}"),
           note="a request still queued (queue consumer off): 200"),
        Op("queue-entry-done", "promotions", "GET", [f"{SANDBOX}/subscriptions/{sub}/queue"], partner, 303,
           checking(lambda r: r.headers["location"].endswith(f"/commercial-establishments/{ce}/subscriptions/{sub}"),
                    "303 to the processed subscription"),
           note="a processed request: 303"),
        Op("me", "promotions", "GET", [f"{SANDBOX}/me"], holder, 200,
           checking(lambda r: _json(r)["document"] == first_holder["cpf"] and _json(r)["name"] == first_holder["name"],
                    "the signed-in holder")),
        Op("me-cards", "promotions", "GET", [f"{SANDBOX}/me/cards?_offset=0&_limit=10"], holder, 200,
           checking(lambda r: sorted(c["id"] for c in _json(r)) == sorted(c["id"] for c in first_holder["cards"]),
                    "the holder's cards")),
        Op("me-card", "promotions", "GET", [f"{SANDBOX}/me/cards/{card}"], holder, 200,
           checking(lambda r: _json(r)["id"] == card, f"card {card}")),
        Op("me-transactions", "promotions", "GET", [f"{SANDBOX}/me/transactions?_offset=0&_limit=10&{period}"], holder,
           200, checking(lambda r: len(_json(r)) == 10 and _total(r) > 10, "10 of the holder's purchases"),
           note="the last 365 days"),
        # The two HTML flows' entry points: each call stores a sign-in (card) request, a write.
        Op("login", "promotions", "GET", [f"{SANDBOX}/login?" + urlencode(
            {"client_id": client["client_id"], "redirect_url": client["redirect_url"], "name": first_holder["name"],
             "cpf": first_holder["cpf"], "birthdate": first_holder["birthdate"], "email": first_holder["email"],
             "state": "bench"})], {}, 301,
           checking(lambda r: "/oauth/login?" in r.headers["location"], "301 to the login page"),
           note="stores a sign-in request (a write)"),
        Op("cards", "promotions", "GET", [f"{SANDBOX}/cards?" + urlencode(
            {"client_id": client["client_id"], "access_token": world.holder_token,
             "redirect_url": client["redirect_url"]})], {}, 301,
           checking(lambda r: "/oauth/cards?" in r.headers["location"], "301 to the card page"),
           note="stores a card request (a write)"),
        Op("subscribe", "promotions", "POST",
           [f"{SANDBOX}/commercial-establishments/{subscribe_to['commercial_establishment_id']}/subscriptions"], partner,
           202, checking(lambda r: _json(r)["promotionId"] == subscribe_to["id"] and "/queue" in r.headers["location"],
                         "202, queued, Location"),
           body=json.dumps({"promotionID": subscribe_to["id"], "action": "S"}), note="queues a request (a write)"),
    ]
    return ops, notes


def verify(base: str, op: Op, paths: list[str]) -> None:
    """One request per distinct path, before any load: a wrong status or body stops the run."""
    with httpx.Client(base_url=base, timeout=30) as http:
        for path in paths:
            response = request_once(http, op, path)
            problem = None if response.status_code == op.expected else f"status {response.status_code}"
            problem = problem or op.check(response)
            if problem:
                raise SystemExit(f"{op.name}: {op.method} {path} answered {response.status_code}, expected "
                                 f"{op.expected} ({problem}): {response.text[:500]}")


# ---- the runs ----------------------------------------------------------------------------


@dataclass
class Row:
    op: str
    label: str
    expected: int
    note: str
    c64: dict
    c4: dict
    prism_status: int | list[int] | None = None
    prism: dict | None = None


def xid_probe(url: str | None) -> int:
    """The next transaction id of the PostgreSQL cluster (0 on SQLite)."""
    if not url:
        return 0
    import asyncpg

    async def probe() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
        try:
            return int(await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))
        finally:
            await conn.close()

    return asyncio.run(probe())


def start_prism(document: str, work: Path) -> tuple[subprocess.Popen, str]:
    """Stoplight Prism mocking one reference document, as benchmarks/promotions.py runs it."""
    prism_dir = DATA / "prism"
    binary = prism_dir / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        prism_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prism_dir), "@stoplight/prism-cli@5"], check=True,
                       capture_output=True)
    port = free_port()
    proc = start([str(binary), "mock", str(REFERENCE / document), "-p", str(port), "--errors", "false"],
                 dict(os.environ), f"http://127.0.0.1:{port}/", work / f"prism-{document}.log")
    time.sleep(2)
    return proc, f"http://127.0.0.1:{port}"


def header_lines(op: Op) -> list[str]:
    return [f"{k}: {v}" for k, v in op.headers.items()]


def measure(label: str, data_dir: Path, url: str | None, workers: int, args, work: Path
            ) -> tuple[list[Row], list[str], list[Result]]:
    """Seed, start cielo, Prism (one per reference document) and the bare endpoint side by side
    (each idle while another is measured), then per operation: cielo at -c64 and -c4, Prism at
    -c64, one after the other. The machine's speed drifts by tens of percent over minutes
    here; measured back to back, cielo and Prism see the same moments. The bare endpoint is
    measured at the start, the middle and the end; the baseline is their mean."""
    env = cli_env(data_dir, url)
    t0 = time.perf_counter()
    seed = json.loads(run_cli(["sandbox", "seed", "--json"], env))
    wl_token = run_cli(["admin", "token", "create", "--name", "bench", "--scope", "whitelabel"], env).strip().splitlines()[-1]
    db_url = url or f"sqlite+aiosqlite:///{(data_dir / 'cielo.db').resolve()}"
    unthrottle(db_url, seed["client"]["client_id"])
    print(f"  seeded the sandbox in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    world = World(seed, wl_token)
    port, bare_port = free_port(), free_port()
    base, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}/bare"
    procs: list[subprocess.Popen] = []
    rows: list[Row] = []
    bares: list[Result] = []
    try:
        procs.append(start([sys.executable, "-m", "cielo", "serve", "--port", str(port), "--workers", str(workers)],
                           {**env, "CIELO_QUEUE_CONSUMER": "false", "CIELO_FLOW_STARTS_PER_MINUTE": "100000000"},
                           f"{base}/healthz", work / f"serve-{label}.log"))
        procs.append(start(uvicorn_cmd("bare_app:app", bare_port, workers=workers),
                           {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks")}, bare_url, work / f"bare-{label}.log"))
        if workers > 1:
            time.sleep(3)  # one worker answered; let the others finish starting
        prepare(base, world, args.accounts)
        ops, notes = operations(world)
        unknown = sorted(set(args.only) - {op.name for op in ops})
        if unknown:
            raise SystemExit(f"--only: no operation named {', '.join(unknown)} (known: {', '.join(op.name for op in ops)})")
        chosen = [op for op in ops if not args.only or op.name in args.only]
        for op in chosen:
            verify(base, op, op.paths)
        prisms: dict[str, str] = {}
        if not args.skip_prism:
            for api in sorted({op.api for op in chosen}):
                proc, prism_base = start_prism(PRISM_DOCUMENTS[api], work)
                procs.append(proc)
                prisms[api] = prism_base
        # Warm-up (discarded): every account into the caches of every worker, the promotions'
        # in-memory index loaded and the compiled search read; Prism's first answers.
        for name in ("wl-get-one", "promotions"):
            op = next(op for op in ops if op.name == name)
            wrk(f"{label} warm-up", base, seconds=3, connections=16, script=lua(op.method, op.paths),
                headers=header_lines(op), settle=0)
            if op.api in prisms:
                wrk("Prism warm-up", prisms[op.api], seconds=3, connections=16,
                    script=lua(op.method, op.prism_paths()), headers=header_lines(op), settle=0)
        if not wait_quiet(procs[0]):
            print("  (cielo never went quiet after its warm-up: the first rows may be slowed)", file=sys.stderr)
        marks = {0, len(chosen) // 2}
        for i, op in enumerate(chosen):
            if i in marks:
                bares.append(wrk(f"bare FastAPI ({workers} worker(s))", bare_url, seconds=args.seconds,
                                 connections=args.connections, settle=args.settle, server=procs[1]))
                print(f"  bare FastAPI      {bares[-1].rps:>8.0f} req/s  {bares[-1].cpu_us:6.0f} CPU µs/req",
                      file=sys.stderr)
            script = lua(op.method, op.paths, op.body)
            measured = []
            for connections in (args.connections, args.latency_connections):
                before = xid_probe(url)
                result = asdict(wrk(f"{label} {op.name} -c{connections}", base, seconds=args.seconds,
                                    connections=connections, script=script, headers=header_lines(op),
                                    settle=args.settle, server=procs[0]))
                after = xid_probe(url)
                # Write transactions committed in the whole PostgreSQL cluster during the row (its
                # settle included): each one empties cielo's read caches (db/changes.py watches
                # pg_current_snapshot(), which every database of the server moves).
                result["cluster_xids_per_s"] = (after - before) / (args.seconds + args.settle) if url else None
                result["load1"] = os.getloadavg()[0]
                measured.append(result)
            row = Row(op.name, op.label, op.expected, op.note, *measured)
            rows.append(row)
            prism_text = ""
            if op.api in prisms:
                with httpx.Client(base_url=prisms[op.api], timeout=30) as http:
                    statuses = sorted({request_once(http, op, p).status_code for p in op.prism_paths()[:20]})
                row.prism_status = statuses[0] if len(statuses) == 1 else statuses
                row.prism = asdict(wrk(f"Prism {op.name}", prisms[op.api], seconds=args.seconds,
                                       connections=args.connections, script=lua(op.method, op.prism_paths(), op.body),
                                       headers=header_lines(op), settle=args.settle))
                prism_text = f"  Prism {row.prism['rps']:.0f} req/s ({row.prism_status}, non-2xx/3xx {row.prism['non_2xx']})"
            busy, calm = row.c64, row.c4
            xids = f"  cluster xids/s {busy['cluster_xids_per_s']:.0f}" if url else ""
            print(f"  {op.name:<18} {busy['rps']:>8.0f} req/s  {busy['cpu_us']:6.0f} CPU µs/req  p50 {busy['p50_ms']:7.2f}  p99 {busy['p99_ms']:8.2f} ms"
                  f"  | -c{args.latency_connections} p99 {calm['p99_ms']:6.2f} ms  non-2xx/3xx {busy['non_2xx']}+"
                  f"{calm['non_2xx']}{prism_text}{xids}  load {busy['load1']:.1f}", file=sys.stderr)
        bares.append(wrk(f"bare FastAPI ({workers} worker(s))", bare_url, seconds=args.seconds,
                         connections=args.connections, settle=args.settle, server=procs[1]))
        print(f"  bare FastAPI      {bares[-1].rps:>8.0f} req/s  {bares[-1].cpu_us:6.0f} CPU µs/req", file=sys.stderr)
    finally:
        for proc in reversed(procs):
            stop(proc)
    return rows, notes, bares


def table(title: str, rows: list[Row], baseline: float, baseline_cpu: float, args) -> str:
    c, lc = args.connections, args.latency_connections
    head = (f"{'operation':<18} {'request':<44} {'exp':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'errs':>5} "
            f"{'× bare':>6} {'CPU µs':>6} {'CPU × bare':>10} {'Prism req/s':>11} {'Prism':>5} {'× Prism':>7} {f'p99 -c{lc}':>9} {'xid/s':>6}  goals")
    lines = [title, "", f"(-c{c} unless noted; errs = non-2xx/3xx responses in the -c{c} + -c{lc} rows; "
                        f"goals: ≥ {GOAL_PRISM:g}× Prism, ≥ {GOAL_BARE:g}× bare, p99 -c{lc} < {GOAL_P99_MS:g} ms;",
             f" CPU µs = the server's CPU time per request during the -c{c} row; CPU × bare = the bare endpoint's"
             " CPU µs per request over this row's, what × bare would be on a core of its own;",
             f" xid/s = write transactions committed per second in the whole PostgreSQL cluster during the -c{c} row,"
             " every one of which empties cielo's read caches)", "",
             head, "-" * len(head)]
    for r in rows:
        rps = r.c64["rps"]
        x_bare = rps / baseline
        misses = []
        if x_bare < GOAL_BARE:
            misses.append("bare")
        if r.prism:
            x_prism = rps / r.prism["rps"]
            if x_prism < GOAL_PRISM:
                misses.append("Prism")
            prism_cols = f"{r.prism['rps']:>11.0f} {str(r.prism_status):>5} {x_prism:>7.2f}"
        else:
            prism_cols = f"{'—':>11} {'—':>5} {'—':>7}"
        if r.c4["p99_ms"] >= GOAL_P99_MS:
            misses.append("p99")
        errors = r.c64["non_2xx"] + r.c4["non_2xx"]
        xid_rate = r.c64.get("cluster_xids_per_s")
        xids = "—" if xid_rate is None else f"{xid_rate:.0f}"
        label = r.label if len(r.label) <= 44 else r.label[:41] + "..."
        cpu = r.c64.get("cpu_us")
        cpu_cols = f"{cpu:>6.0f} {baseline_cpu / cpu:>10.2f}" if cpu else f"{'—':>6} {'—':>10}"
        lines.append(f"{r.op:<18} {label:<44} {r.expected:>4} {rps:>8.0f} {r.c64['p50_ms']:>7.2f} "
                     f"{r.c64['p99_ms']:>8.2f} {errors:>5} {x_bare:>6.2f} {cpu_cols} {prism_cols} {r.c4['p99_ms']:>9.2f} {xids:>6}  "
                     + ("ok" if not misses else "MISS " + ", ".join(misses)))
    return "\n".join(lines)


def postgres_url(admin_url: str | None) -> tuple[str | None, str]:
    """A fresh database for the run, or None and why not."""
    if not admin_url:
        return None, "no --postgres URL given"
    import asyncpg

    async def fresh() -> None:
        conn = await asyncpg.connect(normalise_database_url(admin_url).replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        finally:
            await conn.close()

    try:
        asyncio.run(fresh())
    except (OSError, asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - any failure means: no PostgreSQL
        return None, f"{admin_url} is unreachable ({type(exc).__name__}: {exc})"
    return normalise_database_url(admin_url).rsplit("/", 1)[0] + "/" + PG_DATABASE, ""


def drop_postgres(admin_url: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(normalise_database_url(admin_url).replace("+asyncpg", ""), timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (skipped if absent or unreachable)")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk row (default 5)")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each wrk row (default 2 s)")
    parser.add_argument("--only", type=lambda s: [x.strip() for x in s.split(",") if x.strip()], default=[],
                        help="comma-separated operation names (see the table's first column)")
    parser.add_argument("--skip-prism", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--accounts", type=int, default=1000, help="white-label accounts POSTed first (default 1,000)")
    parser.add_argument("--sqlite-workers", type=int, default=1, help="cielo (and bare) workers on SQLite (default 1)")
    parser.add_argument("--postgres-workers", type=int, default=2, help="... on PostgreSQL (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server and Prism logs)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--latency-connections", type=int, default=4)
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cielo-bench-ops-"))
    RESULTS.mkdir(exist_ok=True)
    backends: list[tuple[str, str, Path, str | None, int]] = []
    if not args.no_sqlite:
        backends.append(("SQLite", "sqlite", work / "sqlite", None, args.sqlite_workers))
    pg_url, why_not = postgres_url(args.postgres)
    if pg_url:
        backends.append(("PostgreSQL", "postgresql", work / "pg", pg_url, args.postgres_workers))
    else:
        print(f"PostgreSQL skipped: {why_not}", file=sys.stderr)
    tables = []
    try:
        for label, key, data_dir, url, workers in backends:
            print(f"{label} (cielo serve --workers {workers}):", file=sys.stderr)
            data_dir.mkdir(mode=0o700, parents=True)  # key files live here: the service refuses others' access
            rows, notes, bares = measure(label, data_dir, url, workers, args, work)
            baseline = sum(b.rps for b in bares) / len(bares)
            baseline_cpu = sum(b.cpu_us or 0.0 for b in bares) / len(bares)
            title = (f"{label}: cielo serve --workers {workers}; bare FastAPI ({workers} uvicorn worker"
                     f"{'s' if workers > 1 else ''}) {baseline:,.0f} req/s (mean of "
                     f"{' / '.join(f'{b.rps:,.0f}' for b in bares)}: start, middle, end); wrk -t1 -d{args.seconds}s; "
                     "servers and Prism on CPU 0, wrk on CPU 1")
            text = table(title, rows, baseline, baseline_cpu, args)
            for row in rows:
                if row.c64["non_2xx"] or row.c4["non_2xx"]:
                    notes.append(f"{row.op}: {row.c64['non_2xx']} + {row.c4['non_2xx']} non-2xx/3xx answers under load")
                if row.prism_status is not None and row.prism_status != row.expected:
                    notes.append(f"{row.op}: Prism answered {row.prism_status} (cielo {row.expected})")
            if notes:
                text += "\n\nNotes:\n" + "\n".join(f"  - {n}" for n in notes)
            tables.append(text)
            print("\n" + text + "\n", flush=True)
            (RESULTS / f"operations-{key}.json").write_text(json.dumps({
                "database": label, "workers": workers, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "args": {k: v for k, v in vars(args).items()}, "reference": str(REFERENCE),
                "bare": {"runs": [asdict(b) for b in bares], "mean_rps": baseline, "mean_cpu_us": baseline_cpu},
                "goals": {"x_prism": GOAL_PRISM, "x_bare": GOAL_BARE, "p99_ms_at_latency_connections": GOAL_P99_MS},
                "rows": [asdict(r) for r in rows], "notes": notes}, indent=2))
    finally:
        if pg_url:
            drop_postgres(args.postgres)
        if args.keep:
            print(f"logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"(whole run {time.perf_counter() - started:.0f} s; {len(tables)} table(s))")


if __name__ == "__main__":
    main()
