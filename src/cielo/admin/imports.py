"""`cielo admin import establishments|promotions|transactions FILE`: CSV or JSON Lines into the
back office.

Every row goes through the same validation as the back-office API. A file with a bad row
loads nothing (each bad row is reported with its line number and reason) unless
``skip_invalid`` is set; the good rows are inserted in one transaction."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import insert, select

from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.db import Database, utcnow
from cielo.numbers import integer
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.establishments.schemas import EstablishmentIn
from cielo.promo.establishments.service import establishment_values
from cielo.promo.promotions.models import Promotion
from cielo.promo.promotions.schemas import PromotionIn
from cielo.promo.promotions.service import promotion_values

KINDS = ("establishments", "promotions", "transactions")
_INTEGERS = ("cardId", "commercialEstablishmentId")
_ADDRESS = ("street", "number", "complement", "district", "city", "state", "zipCode")


@dataclass
class Report:
    rows: int = 0
    loaded: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a CSV file (header on line 1) or a JSON Lines file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
        fh.seek(0)
        if first.lstrip().startswith("{"):
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, {"__error__": f"not valid JSON ({exc.msg})"}
                        continue
                    yield number, record if isinstance(record, dict) else {"__error__": "not a JSON object"}
            return
        reader = csv.DictReader(fh)
        for record in reader:
            yield reader.line_num, {k: v for k, v in record.items() if k is not None and v not in (None, "")}


def _csv_establishment(record: dict) -> dict:
    address = {k: record.pop(k) for k in _ADDRESS if k in record}
    if address:
        record["address"] = address
    if "active" in record and isinstance(record["active"], str):
        record["active"] = record["active"].strip().lower() in ("true", "1", "yes", "sim")
    return record


def _csv_promotion(record: dict) -> dict:
    if isinstance(record.get("rules"), str):
        try:
            record["rules"] = json.loads(record["rules"])
        except json.JSONDecodeError:
            raise ValueError("the rules column is not valid JSON") from None
    for flag in ("active", "shareable"):
        if isinstance(record.get(flag), str):
            record[flag] = record[flag].strip().lower() in ("true", "1", "yes", "sim")
    return record


def _csv_transaction(record: dict) -> dict:
    """A CSV row as the API's JSON: ids as integers, products from productPrimaryId /
    productPrimaryDescription (and Secondary) columns. JSON Lines records pass as they are."""
    for key in _INTEGERS:
        value = record.get(key)
        number = integer(value.strip(), 18) if isinstance(value, str) else None
        if number is not None:
            record[key] = number
    for which in ("Primary", "Secondary"):
        product_id, description = record.pop(f"product{which}Id", None), record.pop(f"product{which}Description", None)
        if product_id is not None or description is not None:
            if isinstance(product_id, str) and integer(product_id.strip(), 18) is not None:
                product_id = int(product_id)
            record[f"product{which}"] = {"id": product_id, "description": description}
    return record


async def import_transactions(db: Database, service, path: Path, env: Environment, *, skip_invalid: bool,
                              progress: Callable[[int], None] | None = None) -> Report:
    """Check the whole file (the API's checks: each row, its card, its establishment), then, if
    it is clean or ``skip_invalid``, ingest it through the campaign engine in batches of 1,000
    (a repeated externalId loads once, so a load can be run again)."""
    report = Report()
    lines, raws = [], []
    for number, record in _records(path):
        report.rows += 1
        if "__error__" in record:
            report.errors.append((number, record["__error__"]))
            continue
        lines.append(number)
        raws.append(_csv_transaction(record) if path.suffix.lower() == ".csv" else record)
    if raws:
        for error in await service.check(env, raws):
            report.errors.append((lines[error["index"]], error["reason"]))
    report.errors.sort()
    if report.errors and not skip_invalid:
        return report
    bad = {line for line, _ in report.errors}
    good = [raw for line, raw in zip(lines, raws, strict=True) if line not in bad]
    for start in range(0, len(good), 1000):
        results = await service.ingest(env, good[start:start + 1000], Actor.cli())
        report.loaded += sum(1 for _, created in results if created)
        if progress is not None:
            progress(len(results))
    return report


def _sentence(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "row"
    return f"{where}: {first.get('msg', 'invalid')}"


async def import_file(db: Database, kind: str, path: Path, env: Environment, *, skip_invalid: bool,
                      progress: Callable[[int], None] | None = None) -> Report:
    report = Report()
    values: list[dict] = []
    known_establishments: set[int] = set()
    if kind == "promotions":
        async with db.read() as session:
            known_establishments = set((await session.scalars(
                select(CommercialEstablishment.id).where(CommercialEstablishment.environment == env.value))).all())
    for number, record in _records(path):
        report.rows += 1
        try:
            if "__error__" in record:
                raise ValueError(record["__error__"])
            if kind == "establishments":
                row = establishment_values(env, EstablishmentIn.model_validate(_csv_establishment(record)))
            else:
                row = promotion_values(env, PromotionIn.model_validate(_csv_promotion(record)))
                if row["establishment_id"] not in known_establishments:
                    raise ValueError(f"there is no commercial establishment {row['establishment_id']} in {env.value}")
            values.append(row)
        except ValidationError as exc:
            report.errors.append((number, _sentence(exc)))
        except ValueError as exc:
            report.errors.append((number, str(exc)))
        if progress is not None:
            progress(1)
    if report.errors and not skip_invalid:
        return report
    table = (CommercialEstablishment if kind == "establishments" else Promotion).__table__
    now = utcnow()
    async with db.write() as session:
        for start in range(0, len(values), 1000):
            batch = [{**v, "created_at": now, "updated_at": now} for v in values[start:start + 1000]]
            await session.execute(insert(table), batch)
        audit.record(session, Actor.cli(), "import", kind, path.name,
                     {"environment": env.value, "rows": report.rows, "loaded": len(values),
                      "skipped": len(report.errors)})
    report.loaded = len(values)
    await db.analyze()
    return report
