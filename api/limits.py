"""Abuse limits of the API: request rates per user and per API token, and model budgets.

Rates are counted by the app's :class:`RateLimiter` (process memory, or Redis when
``WINDFLOW_REDIS_URL`` is set). Budgets are read from the runs table: what a user's runs
consumed since the start of the UTC day; a run may use at most what is left of the day
and its own per-run cap (``RunBudget``), and no run starts once the day's budget is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Run
from api.deps import OrgContext
from guardrails.rate_limit import Limit
from windflow.errors import RateLimited
from windflow.settings import Settings


def runs_limit(settings: Settings) -> Limit:
    return Limit(settings.rate_limit_runs_per_minute, 60.0, "assistant runs")


def tool_calls_limit(settings: Settings) -> Limit:
    return Limit(settings.rate_limit_tool_calls_per_minute, 60.0, "tool calls")


def login_limit(settings: Settings) -> Limit:
    return Limit(settings.login_attempts_per_minute, 60.0, "login attempts")


async def count_by_user_and_token(ctx: OrgContext, name: str, limit: Limit) -> None:
    """One event against the user's window and, for an API token, the token's own."""
    limiter = ctx.state.limiter
    await limiter.hit(f"{name}:user:{ctx.user_id}", limit)
    if ctx.caller.api_token is not None:
        await limiter.hit(f"{name}:token:{ctx.caller.api_token.id}", limit)


async def count_token_tool_call(ctx: OrgContext) -> None:
    """The token's window for tool calls (the user's is counted by the gate itself)."""
    if ctx.caller.api_token is not None:
        limit = tool_calls_limit(ctx.state.settings)
        await ctx.state.limiter.hit(f"tools:token:{ctx.caller.api_token.id}", limit)


@dataclass(frozen=True)
class RunBudget:
    """What one run may still spend; None means no cap."""

    max_tokens: int | None
    max_cost_usd: float | None


def _day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def used_today(session: AsyncSession, user_id: str, now: datetime) -> tuple[int, float]:
    """Tokens and cost of the user's runs started since midnight UTC."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(Run.prompt_tokens + Run.completion_tokens), 0),
                func.coalesce(func.sum(Run.cost_usd), 0.0),
            ).where(Run.user_id == user_id, Run.started_at >= _day_start(now))
        )
    ).one()
    return int(row[0] or 0), float(row[1] or 0.0)


def _remaining(cap: float | None, used: float) -> float | None:
    return None if cap is None else cap - used


def _smaller(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


async def run_budget(
    session: AsyncSession, settings: Settings, user_id: str, now: datetime
) -> RunBudget:
    """The budget of a run starting now; RateLimited when the day's budget is spent."""
    tokens, cost = await used_today(session, user_id, now)
    tokens_left = _remaining(settings.assistant_max_tokens_per_user_day, tokens)
    cost_left = _remaining(settings.assistant_max_cost_per_user_day_usd, cost)
    if (tokens_left is not None and tokens_left <= 0) or (cost_left is not None and cost_left <= 0):
        tomorrow = _day_start(now) + timedelta(days=1)
        spent = (
            f"{tokens:,} tokens"
            if tokens_left is not None and tokens_left <= 0
            else (f"${cost:.2f}")
        )
        raise RateLimited(
            f"your assistant budget for today is spent ({spent})",
            retry_after=max(1, int((tomorrow - now).total_seconds())),
            hint="it resets at midnight UTC; ask an admin to raise "
            "WINDFLOW_ASSISTANT_MAX_TOKENS_PER_USER_DAY / _COST_PER_USER_DAY_USD",
        )
    max_tokens = _smaller(settings.assistant_max_tokens_per_run, tokens_left)
    return RunBudget(
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        max_cost_usd=_smaller(settings.assistant_max_cost_per_run_usd, cost_left),
    )
