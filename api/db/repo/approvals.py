"""Approvals in the database: the store and ledger the guardrails are given.

Each method is its own transaction, so an approval, a vote or a consumption is durable
the moment the call returns, whatever the caller does next.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from api.db.engine import Database
from api.db.models import Approval, ApprovalVote, Target
from api.db.repo.pages import Page, paginate
from api.db.types import utcnow
from guardrails.approvals import ApprovalStatus, ApprovalView, NewApproval, Vote
from tools.base import ConsumedApproval
from windflow.errors import ApprovalError, Conflict


def _view(approval: Approval, environment: str) -> ApprovalView:
    return ApprovalView(
        id=approval.id,
        org_id=approval.org_id,
        target_id=approval.target_id,
        target_environment=environment,
        tool=approval.tool,
        risk=approval.risk,
        arguments=approval.arguments,
        args_hash=approval.args_hash,
        plan=approval.plan,
        status=approval.status,  # type: ignore[arg-type]
        required_approvals=approval.required_approvals,
        requested_by=approval.requested_by,
        created_at=approval.created_at,
        expires_at=approval.expires_at,
        decided_by=approval.decided_by,
        reason=approval.reason,
        used_at=approval.used_at,
        thread_id=approval.thread_id,
        votes=tuple(
            Vote(user_id=v.user_id, decision=v.decision, reason=v.reason)  # type: ignore[arg-type]
            for v in approval.votes
        ),
    )


class SqlApprovalStore:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        on_change: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.db = db
        self._now = clock
        # Told (org id, approval id, new status) after each committed change.
        self.on_change = on_change

    def _changed(self, org_id: str, approval_id: str, status: str) -> None:
        if self.on_change is not None:
            self.on_change(org_id, approval_id, status)

    async def _environment(self, session: Any, target_id: str | None) -> str:
        if target_id is None:
            return "none"
        target = await session.get(Target, target_id)
        return target.environment if target is not None else "none"

    async def create(self, approval: NewApproval) -> ApprovalView:
        async with self.db.transaction() as session:
            row = Approval(
                org_id=approval.org_id,
                target_id=approval.target_id,
                tool=approval.tool,
                risk=approval.risk,
                arguments=approval.arguments,
                args_hash=approval.args_hash,
                plan=approval.plan,
                required_approvals=approval.required_approvals,
                requested_by=approval.requested_by,
                expires_at=approval.expires_at,
                thread_id=approval.thread_id,
                votes=[],
            )
            session.add(row)
            await session.flush()
            view = _view(row, await self._environment(session, row.target_id))
        self._changed(view.org_id, view.id, view.status)
        return view

    async def get(self, org_id: str, approval_id: str) -> ApprovalView | None:
        async with self.db.session() as session:
            row = await session.get(Approval, approval_id)
            if row is None or row.org_id != org_id:
                return None
            return _view(row, await self._environment(session, row.target_id))

    async def record_vote(
        self, approval_id: str, vote: Vote, new_status: ApprovalStatus, decided_at: datetime
    ) -> ApprovalView:
        async with self.db.transaction() as session:
            # The conditional update makes two concurrent decisions safe: only one wins.
            values: dict[str, Any] = {"status": new_status}
            if new_status != "pending":
                values.update(decided_by=vote.user_id, decided_at=decided_at, reason=vote.reason)
            result = await session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"approval {approval_id} was decided by someone else meanwhile")
            session.add(
                ApprovalVote(
                    approval_id=approval_id,
                    user_id=vote.user_id,
                    decision=vote.decision,
                    reason=vote.reason,
                )
            )
            await session.flush()
            row = await session.get(Approval, approval_id, populate_existing=True)
            assert row is not None
            await session.refresh(row, ["votes"])
            view = _view(row, await self._environment(session, row.target_id))
        self._changed(view.org_id, view.id, view.status)
        return view

    async def page(
        self,
        org_id: str,
        offset: int,
        limit: int,
        *,
        status: str | None = None,
        target_id: str | None = None,
        environments: Collection[str] | None = None,
        created_before: datetime | None = None,
        created_after: datetime | None = None,
    ) -> Page[ApprovalView]:
        """The approval queue: one query for the page, one for its targets' environments.

        ``environments`` keeps approvals whose target is in one of them ("none" stands for
        approvals without a target).
        """
        async with self.db.session() as session:
            query = select(Approval).where(Approval.org_id == org_id)
            if status:
                query = query.where(Approval.status == status)
            if target_id:
                query = query.where(Approval.target_id == target_id)
            if created_before is not None:
                query = query.where(Approval.created_at <= created_before)
            if created_after is not None:
                query = query.where(Approval.created_at >= created_after)
            if environments is not None:
                in_environment = select(Target.id).where(
                    Target.org_id == org_id, Target.environment.in_(list(environments))
                )
                condition: ColumnElement[bool] = Approval.target_id.in_(in_environment)
                if "none" in environments:
                    condition = or_(condition, Approval.target_id.is_(None))
                query = query.where(condition)
            rows = await paginate(
                session, query.order_by(Approval.created_at.desc()), offset, limit
            )
            target_ids = {r.target_id for r in rows.items if r.target_id}
            found = await session.execute(
                select(Target.id, Target.environment).where(Target.id.in_(target_ids))
            )
            environments = {target: environment for target, environment in found.all()}
            views = [
                _view(r, environments.get(r.target_id, "none") if r.target_id else "none")
                for r in rows.items
            ]
            return Page(items=views, total=rows.total, offset=rows.offset, limit=rows.limit)

    async def expire(self, approval_id: str) -> None:
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.status == "pending")
                .values(status="expired")
                .returning(Approval.org_id)
            )
            org_id = result.scalar_one_or_none()
        if org_id is not None:
            self._changed(org_id, approval_id, "expired")

    async def expire_stale(self, limit: int = 200) -> list[ApprovalView]:
        """Expire pending approvals past their deadline; returns them (as expired)."""
        now = self._now()
        async with self.db.session() as session:
            stale = list(
                await session.scalars(
                    select(Approval.id)
                    .where(Approval.status == "pending", Approval.expires_at <= now)
                    .limit(limit)
                )
            )
        expired: list[ApprovalView] = []
        for approval_id in stale:
            await self.expire(approval_id)
            async with self.db.session() as session:
                row = await session.get(Approval, approval_id)
                if row is not None and row.status == "expired":
                    expired.append(_view(row, await self._environment(session, row.target_id)))
        return expired

    async def consume(
        self,
        *,
        approval_id: str,
        org_id: str,
        tool: str,
        target_id: str | None,
        args_hash: str,
    ) -> ConsumedApproval:
        now = self._now()
        async with self.db.transaction() as session:
            target_matches = (
                Approval.target_id.is_(None)
                if target_id is None
                else Approval.target_id == target_id
            )
            result = await session.execute(
                update(Approval)
                .where(
                    and_(
                        Approval.id == approval_id,
                        Approval.org_id == org_id,
                        Approval.tool == tool,
                        target_matches,
                        Approval.args_hash == args_hash,
                        Approval.status == "approved",
                        Approval.used_at.is_(None),
                        Approval.expires_at > now,
                    )
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            consumed: ConsumedApproval | None = None
            if result.rowcount == 1:  # type: ignore[attr-defined]
                row = await session.get(Approval, approval_id)
                assert row is not None
                approvers = tuple(v.user_id for v in row.votes if v.decision == "approve")
                consumed = ConsumedApproval(approval_id=approval_id, approved_by=approvers)
            else:
                row = await session.get(Approval, approval_id)
        if consumed is not None:
            self._changed(org_id, approval_id, "used")
            return consumed
        raise ApprovalError(_why_unusable(row, org_id, tool, target_id, args_hash, now))


def _why_unusable(
    row: Approval | None,
    org_id: str,
    tool: str,
    target_id: str | None,
    args_hash: str,
    now: datetime,
) -> str:
    if row is None or row.org_id != org_id:
        return "no such approval in this organization"
    if row.tool != tool or row.target_id != target_id:
        return f"the approval is for {row.tool} on another target, not this call"
    if row.args_hash != args_hash:
        return "the approval was given for other arguments; changed arguments need a new approval"
    if row.used_at is not None:
        return f"the approval was already used at {row.used_at.isoformat()}"
    if row.status != "approved":
        return f"the approval is {row.status}, not approved"
    if row.expires_at <= now:
        return f"the approval expired at {row.expires_at.isoformat()}"
    return "the approval cannot be used"
