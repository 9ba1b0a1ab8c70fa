"""Exactly-once processing with several real `cielo worker` processes on PostgreSQL, one of
them killed mid-batch (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from cielo.config import Settings
from tests.support.db import db_sql, migrate, run

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
REQUESTS = 3000


def seed(settings: Settings) -> None:
    db_sql(settings, "INSERT INTO developers (id, name, email, password_hash, created_at) "
                     "VALUES (1, 'd', 'd@example.com', 'x', now())")
    db_sql(settings, "INSERT INTO applications (id, developer_id, environment, name, client_id, client_secret_digest, "
                     "redirect_urls, holder_requests_per_minute, holder_max_page_size, created_at) VALUES "
                     "(1, 1, 'sandbox', 'a', 'sbx_x', '\\x00', '[]', 120, 100, now())")
    db_sql(settings, "INSERT INTO commercial_establishments (id, environment, document_type, document, fictitious_name, "
                     "business_activity_id, latitude, longitude, address, active, created_at, updated_at) "
                     "SELECT g, 'sandbox', 'CPF', '39053344705', 'Loja ' || g, 1, -23.5, -46.6, '{}', true, now(), now() "
                     "FROM generate_series(1, 300) g")
    db_sql(settings, "INSERT INTO promotions (id, environment, establishment_id, title, description, campaign_type, premium, "
                     "start_date, end_date, shareable, active, rules, created_at, updated_at) VALUES "
                     "(1, 'sandbox', 1, 'P', '', 'G', 'x', '2020-01-01', '2999-12-31', false, true, '{}', now(), now())")
    db_sql(settings, "INSERT INTO subscription_requests (environment, application_id, establishment_id, promotion_id, "
                     "action, requested_at) SELECT 'sandbox', 1, 1 + (g % 300), 1, "
                     f"CASE WHEN g % 2 = 0 THEN 'S' ELSE 'U' END, now() FROM generate_series(1, {REQUESTS}) g")


def worker(settings: Settings, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env.update(CIELO_DATA_DIR=str(settings.data_dir), CIELO_DATABASE_URL=settings.resolved_database_url)
    return subprocess.Popen([sys.executable, "-m", "cielo", "worker", "--batch", "50", "--idle", "0.05"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def test_every_request_is_processed_exactly_once(pg_databases, tmp_path):
    url = pg_databases.create("workers")
    run(migrate(url))
    settings = Settings(data_dir=tmp_path, database_url=url)
    seed(settings)
    log = open(tmp_path / "workers.log", "ab")  # noqa: SIM115 - the workers write it until they stop
    workers = [worker(settings, log), worker(settings, log)]
    try:
        deadline = time.monotonic() + 60
        while db_sql(settings, "SELECT COUNT(*) FROM subscription_requests WHERE processed_at IS NOT NULL")[0][0] < 300:
            assert time.monotonic() < deadline, (tmp_path / "workers.log").read_text()[-3000:]
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGKILL)  # mid-batch, most likely: batches are small and constant
        workers[0].wait()
        workers.append(worker(settings, log))
        while db_sql(settings, "SELECT COUNT(*) FROM subscription_requests WHERE processed_at IS NULL")[0][0] > 0:
            assert time.monotonic() < deadline, (tmp_path / "workers.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
    processed = db_sql(settings, "SELECT resource_key, COUNT(*) FROM audit_log WHERE operation = 'process' "
                                 "GROUP BY resource_key")
    assert len(processed) == REQUESTS
    assert {count for _, count in processed} == {1}
    statuses = db_sql(settings, "SELECT COUNT(*) FROM subscription_requests WHERE status IN (1, 2)")[0][0]
    assert statuses == REQUESTS
    # Every accepted request moved the state; the state table agrees with the last accepted one.
    mismatches = db_sql(settings, """
        SELECT s.establishment_id FROM establishment_subscriptions s
        JOIN subscription_requests r ON r.id = s.request_id
        WHERE r.status <> 1 OR (r.action = 'S') <> s.subscribed""")
    assert mismatches == []
