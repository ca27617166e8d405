"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StateDep
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])
VERSION = "0.1.0"


@router.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    """The process is up and serving requests."""
    return HealthOut(status="ok", version=VERSION)


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def ready(state: StateDep) -> ReadyOut | JSONResponse:
    """Migrations are applied and the database answers."""
    database = "ok"
    try:
        async with state.db.session() as session:
            await session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        database = f"unavailable: {exc.__class__.__name__}"
    if not state.ready or database != "ok":
        body = ReadyOut(status="starting", database=database)
        return JSONResponse(body.model_dump(), status_code=503)
    return ReadyOut(status="ready", database=database)
