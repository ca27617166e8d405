"""The audit chain: each record's SHA-256 covers its fields and the previous record's hash.

Records of one organization form one chain, numbered 1, 2, 3 ... (``seq``). Changing,
removing or inserting a record anywhere breaks the chain from that record on, and
:func:`verify_chain` names the first sequence number that does not hold. The hash is
computed over a canonical JSON of the record (sorted keys, no spaces, UTC timestamps in
ISO 8601 with microseconds), so the same bytes are hashed on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields a record's hash covers, in the canonical document (order does not matter:
# keys are sorted). Adding a field later needs a new chain version.
HASHED_FIELDS = (
    "id",
    "org_id",
    "seq",
    "prev_hash",
    "created_at",
    "user_id",
    "target_id",
    "tool",
    "risk",
    "arguments",
    "outcome",
    "error",
    "duration_ms",
    "approval_id",
    "conversation_id",
)


def json_clean(value: Any) -> Any:
    """The value as it comes back from a JSON column (tuples become lists, and so on)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_record(fields: Mapping[str, Any]) -> str:
    document: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = fields.get(name)
        if isinstance(value, datetime):
            value = _timestamp(value)
        elif name == "duration_ms" and value is not None:
            value = float(value)
        document[name] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def record_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_record(fields).encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    org_id: str
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None and self.problem is None


class ChainVerifier:
    """Checks records one by one, in ``seq`` order, so a long chain needs no memory."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.count = 0
        self._expected = 1
        self._previous = GENESIS_HASH
        self.failure: ChainReport | None = None

    def feed(self, record: Mapping[str, Any]) -> bool:
        """False once a record fails (the failure is kept; later records are ignored)."""
        if self.failure is not None:
            return False
        self.count += 1
        seq = int(record["seq"])
        problem: str | None = None
        if seq != self._expected:
            missing = "missing" if seq > self._expected else "duplicated or out of order"
            problem = f"record {self._expected} is {missing} (found {seq})"
            seq = self._expected
        elif record["prev_hash"] != self._previous:
            problem = f"record {seq} does not link to record {seq - 1} (prev_hash differs)"
        elif record_hash(record) != record["hash"]:
            problem = f"record {seq} was changed after it was written"
        if problem is not None:
            self.failure = ChainReport(self.org_id, self.count, seq, problem)
            return False
        self._previous = str(record["hash"])
        self._expected += 1
        return True

    def finish(self, head: tuple[int, str] | None) -> ChainReport:
        """The verdict, given the head (last seq, last hash) the writers left.

        A chain whose newest records were removed still links up; only the head shows it.
        """
        if self.failure is not None:
            return self.failure
        last_seq, count = self._expected - 1, self.count
        if head is None:
            if count:
                return ChainReport(self.org_id, count, 1, "the chain head is missing")
            return ChainReport(self.org_id, 0)
        if (head[0], head[1]) == (last_seq, self._previous):
            return ChainReport(self.org_id, count)
        if head[0] > last_seq:
            return ChainReport(
                self.org_id,
                count,
                last_seq + 1,
                f"records {last_seq + 1}..{head[0]} were removed (the head is at {head[0]})",
            )
        return ChainReport(
            self.org_id, count, head[0], f"the head (seq {head[0]}) does not match the records"
        )


def verify_chain(
    org_id: str,
    records: Iterable[Mapping[str, Any]],
    head: tuple[int, str] | None,
) -> ChainReport:
    """Check records (in ``seq`` order) against each other and against the org's head."""
    verifier = ChainVerifier(org_id)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.finish(head)
