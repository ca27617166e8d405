"""Organization policy documents in the database, and the policy source the gate reads.

The YAML is stored exactly as the admin wrote it (comments included) with a version
that grows by one per change; the parsed document is cached per (organization, version),
so every replica sees a change at its next read.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database
from api.db.models import OrgPolicy, Target
from api.db.types import utcnow
from guardrails.policies.document import PolicyDocument, parse_policy


async def get_policy(session: AsyncSession, org_id: str) -> OrgPolicy | None:
    return await session.get(OrgPolicy, org_id)


async def put_policy(
    session: AsyncSession, org_id: str, text: str, user_id: str | None
) -> tuple[OrgPolicy, PolicyDocument]:
    """Check and store a new policy document; raises InvalidInput with line numbers."""
    document = parse_policy(text)
    row = await session.get(OrgPolicy, org_id, with_for_update=True)
    if row is None:
        row = OrgPolicy(org_id=org_id, document=text, version=1, updated_by=user_id)
        session.add(row)
    else:
        row.document, row.version = text, row.version + 1
        row.updated_by, row.updated_at = user_id, utcnow()
    await session.flush()
    return row, document


class SqlPolicySource:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._parsed: dict[str, tuple[int, PolicyDocument]] = {}

    async def document(self, org_id: str) -> PolicyDocument | None:
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(OrgPolicy.version, OrgPolicy.document).where(OrgPolicy.org_id == org_id)
                )
            ).first()
        if found is None:
            return None
        version, text = found
        cached = self._parsed.get(org_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        document = parse_policy(text)
        self._parsed[org_id] = (version, document)
        return document

    async def target_name(self, org_id: str, target_id: str | None) -> str | None:
        if target_id is None:
            return None
        async with self.db.session() as session:
            target = await session.get(Target, target_id)
        return target.name if target is not None and target.org_id == org_id else None
