"""Cielo Promo's local time: dates, birthdays, windows and hours are judged in
America/Sao_Paulo (API.md §3.5), with the zone's daylight-saving history (Brazil kept DST
until 2019)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local(moment: datetime) -> datetime:
    return moment.astimezone(SAO_PAULO)


def local_date(moment: datetime) -> str:
    return local(moment).date().isoformat()
