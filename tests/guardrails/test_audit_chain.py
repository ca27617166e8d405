"""The audit trail is append-only and hash-chained per organization, on both databases.

Concurrent writers do not fork the chain; the database refuses UPDATE and DELETE; and
``windflow audit verify`` finds a record changed or removed behind the triggers' back
(dropped by hand, as an attacker with database access would) and names its number.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DBAPIError

from api.db.engine import Database, alembic_config
from api.db.repo import audit
from api.db.repo.audit import SqlAuditSink
from guardrails.audit import AuditEntry
from guardrails.audit_chain import GENESIS_HASH, verify_chain
from guardrails.rbac import Role
from tests.api.harness import ApiHarness, SeededOrg

WRITERS = 12
EACH = 5


def _entry(org_id: str, n: int) -> AuditEntry:
    return AuditEntry(
        org_id=org_id,
        user_id=None,
        tool="probe",
        risk="read",
        arguments={"n": n, "note": "é ünïcode", "nested": {"b": [1, 2.5], "a": None}},
        outcome="ok",
        duration_ms=n / 3,
    )


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDFLOW_")}
    env["WINDFLOW_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _write_concurrently(database_url: str, orgs: list[str]) -> None:
    """Writers in separate connections (as separate replicas would), all at once."""
    databases = [Database(database_url) for _ in range(4)]
    try:

        async def writer(index: int) -> None:
            sink = SqlAuditSink(databases[index % len(databases)])
            for n in range(EACH):
                await sink.record(_entry(orgs[(index + n) % len(orgs)], index * 100 + n))

        await asyncio.gather(*(writer(i) for i in range(WRITERS)))
    finally:
        for db in databases:
            await db.dispose()


@pytest.fixture
async def orgs(api: ApiHarness) -> tuple[SeededOrg, SeededOrg]:
    return await api.seed_org("acme"), await api.seed_org("rival")


async def test_concurrent_writers_keep_one_chain_per_organization(
    api: ApiHarness, orgs: tuple[SeededOrg, SeededOrg], database_url: str
) -> None:
    ids = [orgs[0].id, orgs[1].id]
    await _write_concurrently(database_url, ids)
    total = 0
    for org_id in ids:
        report = await audit.verify(api.state.db, org_id)
        assert report.intact, report
        total += report.records
    assert total == WRITERS * EACH
    async with api.state.db.session() as session:
        seqs = (
            await session.execute(
                sa.text("SELECT seq FROM tool_invocations WHERE org_id = :o ORDER BY seq"),
                {"o": ids[0]},
            )
        ).scalars()
        numbers = list(seqs)
    assert numbers == list(range(1, len(numbers) + 1)), "no gaps, no duplicates"


async def test_the_database_refuses_to_change_or_delete_records(
    api: ApiHarness, orgs: tuple[SeededOrg, SeededOrg]
) -> None:
    await SqlAuditSink(api.state.db).record(_entry(orgs[0].id, 1))
    for statement in (
        "UPDATE tool_invocations SET outcome = 'ok-ish'",
        "DELETE FROM tool_invocations",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with api.state.db.transaction() as session:
                await session.execute(sa.text(statement))
    assert (await audit.verify(api.state.db, orgs[0].id)).intact


async def _drop_triggers(db: Database) -> None:
    async with db.transaction() as session:
        if db.engine.dialect.name == "postgresql":
            await session.execute(
                sa.text("DROP TRIGGER tool_invocations_append_only ON tool_invocations")
            )
        else:
            await session.execute(sa.text("DROP TRIGGER tool_invocations_no_update"))
            await session.execute(sa.text("DROP TRIGGER tool_invocations_no_delete"))


async def test_verify_names_the_first_tampered_record(
    api: ApiHarness, orgs: tuple[SeededOrg, SeededOrg], database_url: str
) -> None:
    acme, rival = orgs
    sink = SqlAuditSink(api.state.db)
    for n in range(6):
        await sink.record(_entry(acme.id, n))
        await sink.record(_entry(rival.id, n))
    clean = _cli(database_url, "audit", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "acme: 6 records, chain intact" in clean.stdout

    await _drop_triggers(api.state.db)
    async with api.state.db.transaction() as session:
        await session.execute(
            sa.text("UPDATE tool_invocations SET outcome = 'denied' WHERE org_id = :o AND seq = 4"),
            {"o": acme.id},
        )
    tampered = _cli(database_url, "audit", "verify")
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "TAMPERED acme: first bad sequence number 4" in tampered.stdout
    assert "rival: 6 records, chain intact" in tampered.stdout

    async with api.state.db.transaction() as session:
        await session.execute(
            sa.text("DELETE FROM tool_invocations WHERE org_id = :o AND seq >= 5"),
            {"o": rival.id},
        )
    truncated = _cli(database_url, "audit", "verify", "--org", "rival")
    assert truncated.returncode == 1 and "acme" not in truncated.stdout
    assert "first bad sequence number 5" in truncated.stdout and "removed" in truncated.stdout


async def test_export_streams_the_chain_as_json_lines(
    api: ApiHarness, orgs: tuple[SeededOrg, SeededOrg], database_url: str
) -> None:
    acme = orgs[0]
    sink = SqlAuditSink(api.state.db)
    for n in range(3):
        await sink.record(_entry(acme.id, n))
    denied = await api.client.get("/audit/export", headers=acme.headers(Role.OPERATOR))
    assert denied.status_code == 403
    answer = await api.client.get("/audit/export", headers=acme.headers(Role.ADMIN))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in answer.text.splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3] and records[0]["prev_hash"] == GENESIS_HASH
    # The export alone is enough to check the chain, outside WindFlow.
    assert verify_chain(acme.id, records, (3, records[-1]["hash"])).intact
    records[1]["arguments"]["n"] = 99
    assert verify_chain(acme.id, records, None).first_bad_seq == 2

    exported = _cli(database_url, "audit", "export", "--org", "acme", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["seq"] for line in exported.stdout.splitlines()] == [1, 2, 3]
    future = _cli(database_url, "audit", "export", "--org", "acme", "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout == ""


def test_the_migration_chains_records_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0003")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO organizations VALUES ('o1', 'old', 'Old', '2026-01-01')"))
        for n in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO tool_invocations (id, org_id, tool, risk, arguments, outcome, "
                    "duration_ms, created_at) VALUES (:id, 'o1', 'legacy', 'read', :args, 'ok', "
                    ":ms, :at)"
                ),
                {
                    "id": f"r{n}",
                    "args": json.dumps({"n": n}),
                    "ms": 1.5 * n,
                    "at": f"2026-01-0{n + 1} 10:00:00.123456",
                },
            )
    engine.dispose()
    command.upgrade(config, "head")
    result = _cli(url, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "old: 3 records, chain intact" in result.stdout
