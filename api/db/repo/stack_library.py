"""Saved stacks as the tools' ``StackLibrary``."""

from __future__ import annotations

from sqlalchemy import select

from api.db.engine import Database
from api.db.models import Stack
from tools.base import SavedStack

MAX_LISTED = 200


def _saved(row: Stack) -> SavedStack:
    return SavedStack(
        name=row.name,
        description=row.description,
        compose=row.compose_source,
        template_ref=row.template_ref,
    )


class SqlStackLibrary:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, org_id: str) -> list[SavedStack]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Stack).where(Stack.org_id == org_id).order_by(Stack.name).limit(MAX_LISTED)
            )
            return [_saved(r) for r in rows]

    async def get(self, org_id: str, name: str) -> SavedStack | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(Stack).where(Stack.org_id == org_id, Stack.name == name)
            )
            return _saved(row) if row is not None else None
