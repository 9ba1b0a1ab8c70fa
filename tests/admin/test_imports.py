"""`cielo admin import`: CSV and JSON Lines, line-numbered refusals, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.db import db_sql

pytestmark = pytest.mark.slow


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env["CIELO_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["CIELO_DATABASE_URL"] = settings.database_url
    return subprocess.run([sys.executable, "-m", "cielo", "admin", "import", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_establishments_csv_all_or_nothing(settings, tmp_path):
    path = tmp_path / "establishments.csv"
    path.write_text(
        "fictitiousName,businessActivityId,cnpj,cpf,latitude,longitude,city,state\n"
        "Padaria Paulista,5812,11.222.333/0001-81,,-23.5614,-46.6559,São Paulo,SP\n"
        "Loja Nova,5651,12.ABC.345/01DE-35,,-22.9,-43.17,Rio de Janeiro,RJ\n"
        "Checksum errado,5812,11.222.333/0001-82,,-23.5,-46.6,,\n"
        "Sem latitude,5812,,390.533.447-05,,-46.6,,\n"
        "Ambulante,7230,,390.533.447-05,-19.9,-43.9,Belo Horizonte,MG\n"
    )
    refused = cli(settings, "establishments", str(path))
    assert refused.returncode == 1
    assert "line 4: " in refused.stderr and "check digits" in refused.stderr
    assert "line 5: latitude" in refused.stderr and "nothing was loaded" in refused.stderr
    assert db_sql(settings, "SELECT COUNT(*) FROM commercial_establishments")[0][0] == 0
    loaded = cli(settings, "establishments", str(path), "--skip-invalid")
    assert loaded.returncode == 0 and "Loaded 3 establishments of 5 row(s)" in loaded.stderr
    rows = db_sql(settings, "SELECT document_type, document FROM commercial_establishments ORDER BY id")
    assert rows == [("CNPJ", "11222333000181"), ("CNPJ", "12ABC34501DE35"), ("CPF", "39053344705")]


def test_promotions_json_lines(settings, tmp_path):
    est = tmp_path / "e.jsonl"
    est.write_text(json.dumps({"fictitiousName": "Loja", "businessActivityId": 1, "cpf": "39053344705",
                               "latitude": -23.5, "longitude": -46.6}) + "\n")
    assert cli(settings, "establishments", str(est), "--env", "production").returncode == 0
    (establishment_id,), = db_sql(settings, "SELECT id FROM commercial_establishments")
    good = {"commercialEstablishmentId": establishment_id, "title": "Pontos", "campaignType": "P",
            "startDate": "2026-01-01", "endDate": "2026-12-31", "premium": "x", "rules": {"every": 3}}
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join([
        json.dumps(good),
        json.dumps({**good, "rules": {"every": 0}}),
        "{not json",
        json.dumps({**good, "commercialEstablishmentId": 999}),
        json.dumps({**good, "campaignType": "W", "rules": {}}),
    ]) + "\n")
    refused = cli(settings, "promotions", str(path), "--env", "production")
    assert refused.returncode == 1
    assert "line 2: rules.every" in refused.stderr and "line 3: not valid JSON" in refused.stderr
    assert "line 4: there is no commercial establishment 999" in refused.stderr
    assert cli(settings, "promotions", str(path), "--env", "sandbox", "--skip-invalid").returncode == 0
    assert db_sql(settings, "SELECT COUNT(*) FROM promotions")[0][0] == 0  # the establishment is in production
    assert cli(settings, "promotions", str(path), "--env", "production", "--skip-invalid").returncode == 0
    assert [r[0] for r in db_sql(settings, "SELECT campaign_type FROM promotions ORDER BY id")] == ["P", "W"]


def test_transactions_csv_through_the_engine(settings, tmp_path):
    """`cielo admin import transactions`: every row checked first (card, establishment, fields),
    nothing loaded from a file with a bad row, then ingested through the engine; a second load
    of the same file changes nothing (externalId)."""
    from tests.support.promo import seed_holder_with_card

    card_id, establishment_id = seed_holder_with_card(settings)
    header = ("externalId,cardId,cardNumber,commercialEstablishmentId,amount,occurredAt,productPrimaryId,"
              "productPrimaryDescription\n")
    rows = [
        f"t-1,{card_id},,{establishment_id},10.00,2026-03-01T12:00:00-03:00,1,Crédito\n",
        f"t-2,,4111 1111 1111 1111,{establishment_id},25.50,2026-03-02T12:00:00-03:00,2,Débito\n",
        f"t-3,999,,{establishment_id},10.00,2026-03-03T12:00:00-03:00,1,Crédito\n",
        f"t-4,{card_id},,{establishment_id},dez reais,2026-03-04T12:00:00-03:00,1,Crédito\n",
        f"t-5,{card_id},,{establishment_id},7.00,2026-03-05T12:00:00-03:00,1,Crédito\n",
    ]
    path = tmp_path / "transactions.csv"
    path.write_text(header + "".join(rows))
    refused = cli(settings, "transactions", str(path))
    assert refused.returncode == 1, refused.stderr
    assert "line 4: There is no card 999" in refused.stderr and "line 5: 'amount'" in refused.stderr
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == 0
    loaded = cli(settings, "transactions", str(path), "--skip-invalid")
    assert loaded.returncode == 0 and "Loaded 3 transactions of 5 row(s)" in loaded.stderr, loaded.stderr
    again = cli(settings, "transactions", str(path), "--skip-invalid")
    assert again.returncode == 0 and "Loaded 0 transactions" in again.stderr
    rows = db_sql(settings, "SELECT external_id, amount_cents, contains_promotions FROM transactions ORDER BY id")
    assert [(r[0], r[1], bool(r[2])) for r in rows] == [("t-1", 1000, True), ("t-2", 2550, True), ("t-5", 700, True)]
    assert "4111" not in loaded.stderr and "4111" not in refused.stderr
