"""The ``cielo`` command line: serve, migrate, admin tokens, key rotation, audit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cielo.config import Settings, get_settings, local_url, normalise_database_url
from cielo.web import runtime

app = typer.Typer(help="cielo: the white-label account API and the Cielo Promo API.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration: tokens, keys, audit trail.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens of the white-label API and the back office.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The sandbox environment's test data.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(sandbox_app, name="sandbox")
admin_app.add_typer(token_app, name="token")

err = Console(stderr=True)


def _settings(database_url: str | None = None) -> Settings:
    if database_url:
        try:
            os.environ["CIELO_DATABASE_URL"] = normalise_database_url(database_url)
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    get_settings.cache_clear()
    return get_settings()


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]{message}[/red]")
    raise typer.Exit(code)


async def _open_migrated(settings: Settings):
    from cielo.db import Database
    from cielo.db.migrate import upgrade

    db = Database(settings.resolved_database_url, pool_size=2)
    await upgrade(db)
    return db


def _run(coro_fn):
    """Run ``coro_fn(db)`` against a migrated database and close it afterwards."""
    settings = _settings()

    async def runner():
        db = await _open_migrated(settings)
        try:
            return await coro_fn(db)
        finally:
            await db.dispose()

    return asyncio.run(runner())


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    database_url: str | None = typer.Option(None, help="PostgreSQL or SQLite URL (default: embedded SQLite)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve every API; creates and migrates the database first."""
    import uvicorn

    from cielo.db import Database
    from cielo.db.migrate import upgrade
    from cielo.logs import configure, logging_config
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings
    from cielo.web.serving import CoalescingHttpToolsProtocol

    if not os.environ.get("CIELO_PUBLIC_URL"):  # this port's address, for the worker processes too
        os.environ["CIELO_PUBLIC_URL"] = local_url(port)
    settings = _settings(database_url)
    configure(settings.log_level, settings.log_json)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # the key files of the embedded default, created (0600 in a 0700 directory) or checked
    # before any worker starts: main() turns a refusal into its message (security/keyfiles.py)
    secret_box_from_settings(settings)
    signing_keys_from_settings(settings)

    async def migrate_once() -> None:
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(migrate_once())
    # Once uvicorn has shut down gracefully (requests in flight finished, the lifespan's shutdown
    # run) it raises again the signal that stopped it. A stop asked for with SIGTERM, as process
    # managers ask, is a success: status 0, as the supervisor of several workers exits.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "cielo.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,  # a response's head and body in one write (serving.py)
        log_config=logging_config(settings.log_level, settings.log_json),
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        # the client's address (rate limits, throttles) and scheme (Secure cookies) as the trusted
        # load balancers in front say; anyone else's X-Forwarded-* headers are ignored
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def worker(
    database_url: str | None = typer.Option(None, help="PostgreSQL or SQLite URL (default: embedded SQLite)."),
    batch: int = typer.Option(200, min=1, max=10_000, help="Requests claimed per transaction."),
    idle: float = typer.Option(0.2, min=0.01, max=60, help="Seconds to wait when the queue is empty."),
) -> None:
    """Process subscription requests (for scale-out; `serve` also does it unless CIELO_QUEUE_CONSUMER=false),
    and delete what has expired (as `serve` does)."""
    from cielo.logs import configure
    from cielo.promo.expiry import keep_pruned
    from cielo.promo.subscriptions.service import SubscriptionService, run_consumer

    settings = _settings(database_url)
    configure(settings.log_level, settings.log_json)

    async def main() -> None:
        from cielo.db import Database

        await (await _open_migrated(settings)).dispose()
        db = Database(settings.resolved_database_url, pool_size=2, command_timeout=settings.db_command_timeout)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        err.print("Processing subscription requests; Ctrl+C to stop.")
        expiring = loop.create_task(keep_pruned(db, stop))
        try:
            service = SubscriptionService(db, max_attempts=settings.queue_max_attempts,
                                          retry_seconds=settings.queue_retry_seconds)
            await run_consumer(service, stop, idle_seconds=idle, batch=batch)
        finally:
            stop.set()
            await expiring
            await db.dispose()

    asyncio.run(main())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest revision."""
    from cielo.db.migrate import current_revision

    revision = _run(current_revision)
    err.print(f"Database is at revision {revision}.")


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="Who or what the token is for."),
    scope: str = typer.Option("whitelabel", "--scope", help="whitelabel, admin or all."),
) -> None:
    """Issue a token. It is printed once, on stdout's last line, and never again."""
    from cielo.auth.service import TokenError, create_token

    try:
        row, token = _run(lambda db: create_token(db, name, scope))
    except TokenError as exc:
        _fail(str(exc), 2)
    err.print(f"Created token {row.id} ({row.name}, scope {row.scope}). Store it now: it is not shown again.")
    typer.echo(token)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@token_app.command("list")
def token_list(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List tokens (never the tokens themselves)."""
    from cielo.auth.service import list_tokens

    rows = _run(list_tokens)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"id": r.id, "name": r.name, "scope": r.scope, "created_at": _iso(r.created_at),
                     "revoked_at": _iso(r.revoked_at)}
                    for r in rows
                ]
            )
        )
        return
    table = Table("id", "name", "scope", "created_at", "revoked_at")
    for r in rows:
        table.add_row(str(r.id), r.name, r.scope, _iso(r.created_at), _iso(r.revoked_at) or "")
    Console().print(table)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., help="The token's id (see `cielo admin token list`).")) -> None:
    """Revoke a token; every process refuses it from its next request on."""
    from cielo.auth.service import TokenError, revoke_token

    try:
        row = _run(lambda db: revoke_token(db, token_id))
    except TokenError as exc:
        _fail(str(exc), 1)
    err.print(f"Token {row.id} ({row.name}) is revoked.")


@admin_app.command("rotate-keys")
def rotate_keys(
    grace_seconds: float = typer.Option(2.0, min=0, help="Wait for writes in flight under the old key."),
) -> None:
    """Re-encrypt every stored secret under a new key; the old key is dropped once all is done."""
    from cryptography.fernet import Fernet

    from cielo.audit import service as audit
    from cielo.models import ENCRYPTED_COLUMNS
    from cielo.security.rotation import reencrypt_column
    from cielo.security.secrets import secret_box_from_settings, write_key_file

    settings = _settings()
    box = secret_box_from_settings(settings)

    async def rotate(db) -> int:
        async def every_column() -> int:
            return sum([await reencrypt_column(db, box, column) for column in ENCRYPTED_COLUMNS])

        if box.key_file is not None:  # box.from_file
            old_keys = list(box.keys)
            write_key_file(box.key_file, [Fernet.generate_key(), *old_keys])
            err.print("New key written; old keys kept for reading until the rotation completes.")
            await asyncio.sleep(grace_seconds)
        count = await every_column()
        # Writes that raced with the first pass under a stale key: catch them too.
        count += await every_column()
        if box.key_file is not None:  # box.from_file
            write_key_file(box.key_file, [box.keys[0]])
        async with db.write() as session:
            audit.record(session, audit.Actor.cli(), "rotate-keys", "secret_keys", box.primary_id, {"reencrypted": count})
        return count

    count = _run(rotate)
    err.print(f"Re-encrypted {count} secret(s) under key {box.primary_id}.")
    if not box.from_file:
        err.print("Keys come from CIELO_SECRET_KEYS: remove the older keys from it now.")


@admin_app.command("import")
def admin_import(
    kind: str = typer.Argument(..., help="establishments, promotions or transactions"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV (with a header) or JSON Lines."),
    environment: str = typer.Option("sandbox", "--env", help="sandbox or production"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Load the good rows even if some are bad."),
) -> None:
    """Load establishments, promotions or transactions (through the campaign engine); a file with
    a bad row loads nothing unless --skip-invalid."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cielo.admin.imports import KINDS, import_file, import_transactions
    from cielo.promo.cards.service import CardService
    from cielo.promo.environments import Environment
    from cielo.promo.transactions.service import TransactionService
    from cielo.security.signing import signing_keys_from_settings

    if kind not in KINDS:
        _fail("Import establishments, promotions or transactions.", 2)
    try:
        env = Environment(environment)
    except ValueError:
        _fail("--env must be sandbox or production.", 2)
    with file.open("rb") as fh:
        lines = sum(1 for _ in fh)

    async def go(db):
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err) as progress:
            if kind == "transactions":
                task = progress.add_task("ingesting transactions", total=lines)
                service = TransactionService(db, CardService(db, signing_keys_from_settings(_settings())))
                return await import_transactions(db, service, file, env, skip_invalid=skip_invalid,
                                                 progress=lambda n: progress.advance(task, n))
            task = progress.add_task(f"checking {kind}", total=lines)
            return await import_file(db, kind, file, env, skip_invalid=skip_invalid,
                                     progress=lambda n: progress.advance(task, n))

    report = _run(go)
    for line, reason in report.errors:
        err.print(f"line {line}: {reason}")
    if report.errors and not skip_invalid:
        _fail(f"{len(report.errors)} bad row(s) of {report.rows}: nothing was loaded (use --skip-invalid to load the rest).")
    err.print(f"Loaded {report.loaded} {kind} of {report.rows} row(s) into {env.value}"
              + (f"; skipped {len(report.errors)} bad row(s)." if report.errors else "."))


@admin_app.command("audit")
def audit_list(
    space: str | None = typer.Option(None, "--space", help="Only this white-label space name."),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """Show the audit trail, newest first."""
    from cielo.audit.service import list_records

    async def fetch(db):
        async with db.read() as session:
            return await list_records(
                session,
                resource_type="whitelabel_account" if space is not None else None,
                resource_key=space,
                limit=limit,
            )

    rows = _run(fetch)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"id": r.id, "at": _iso(r.at), "actor": r.actor, "operation": r.operation,
                     "resource_type": r.resource_type, "resource_key": r.resource_key, "changes": r.changes}
                    for r in rows
                ]
            )
        )
        return
    table = Table("id", "at", "actor", "operation", "resource", "changes")
    for r in rows:
        table.add_row(
            str(r.id), _iso(r.at), r.actor, r.operation,
            f"{r.resource_type}:{r.resource_key or ''}", json.dumps(r.changes, ensure_ascii=False),
        )
    Console().print(table)


@sandbox_app.command("seed")
def sandbox_seed(
    as_json: bool = typer.Option(False, "--json", help="Print what a tester needs as one JSON document."),
    size: str = typer.Option("small", "--size", help="small, or large (adds 1,000,000 establishments)."),
    public_url: str | None = typer.Option(
        None, "--public-url", help="The address the service is reached at, where the seeded client's redirect URL "
                                   "(the sandbox callback page) lives; default: CIELO_PUBLIC_URL, else "
                                   "http://127.0.0.1:8000."),
) -> None:
    """Fill the sandbox with realistic Brazilian test data; running it again changes nothing but the
    seeded client's redirect URLs (the callback page of another address is added)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from cielo.promo.sandbox.seed import Seeder
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings

    if size not in ("small", "large"):
        _fail("--size must be small or large.", 2)
    if public_url is not None:
        os.environ["CIELO_PUBLIC_URL"] = public_url
    try:
        settings = _settings()
    except ValidationError as exc:
        _fail(exc.errors()[0]["msg"].removeprefix("Value error, "), 2)
    box, signing = secret_box_from_settings(settings), signing_keys_from_settings(settings)
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())

    async def run_seed(db):
        with Progress(*columns, console=err, disable=size == "small") as progress:
            task = progress.add_task("establishments", total=1_000_000)
            return await Seeder(db, box, signing).seed(size, lambda n: progress.advance(task, n),
                                                       public_url=settings.base_url)

    document, created = _run(run_seed)
    err.print(("Seeded" if created else "Already seeded") + f" the sandbox ({size}): "
              f"{len(document['commercial_establishments'])} listed establishments, {len(document['promotions'])} "
              f"promotions, {len(document['holders'])} holders.")
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False))


def main() -> None:
    from cielo.security.keyfiles import KeyFileError

    runtime.tune()
    try:
        app()
    except KeyFileError as exc:  # a key file others may read: say what to do, not a traceback
        err.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
