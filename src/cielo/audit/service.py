"""Write and read audit records. Callers pass the session of the change they audit, so the
record commits or rolls back with it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cielo.audit.models import AuditRecord


@dataclass(frozen=True)
class Actor:
    """Who is acting: a bearer token (id and name) or the command line."""

    token_id: int | None
    name: str

    @classmethod
    def cli(cls) -> Actor:
        return cls(None, "cli")

    @property
    def label(self) -> str:
        return f"token:{self.token_id}:{self.name}" if self.token_id is not None else self.name


def record(
    session: AsyncSession,
    actor: Actor,
    operation: str,
    resource_type: str,
    resource_key: str | None,
    changes: dict | None = None,
) -> None:
    session.add(
        AuditRecord(
            actor_token_id=actor.token_id,
            actor=actor.label[:120],
            operation=operation,
            resource_type=resource_type,
            resource_key=resource_key,
            changes=changes or {},
        )
    )


async def list_records(
    session: AsyncSession,
    *,
    resource_type: str | None = None,
    resource_key: str | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    stmt = select(AuditRecord)
    if resource_type is not None:
        stmt = stmt.where(AuditRecord.resource_type == resource_type)
    if resource_key is not None:
        stmt = stmt.where(AuditRecord.resource_key == resource_key)
    stmt = stmt.order_by(AuditRecord.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())
