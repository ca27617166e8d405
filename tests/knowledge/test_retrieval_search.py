"""Search: filters, organization isolation, the hybrid ranking, bad queries, async use, and
a real Chroma server behind HttpClient."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from knowledge.retrieval import Hit, KnowledgeBase, KnowledgeUnavailable, knowledge_base
from tests.infra.availability import require
from windflow.errors import InvalidInput

CONNECTION_DOCS = {
    "net/timeouts.md": "# Connection timeouts\n\nWhen a client cannot reach a server in time it "
    "reports ETIMEDOUT. Raise the connect timeout, check firewalls and security groups between "
    "the two hosts, and make sure the server accepts connections.",
    "net/resets.md": "# Connection resets\n\nA peer that closes a TCP connection abruptly makes "
    "the client report ECONNRESET. Load balancers with short idle timeouts are the usual cause: "
    "align keep-alive timeouts.",
    "net/unreachable.md": "# Host unreachable\n\nEHOSTUNREACH and ENETUNREACH mean no route to "
    "the destination network. Check routes, VPN tunnels and the default gateway.",
    "net/dns.md": "# Name resolution failures\n\nENOTFOUND and EAI_AGAIN come from DNS lookups "
    "that fail. Check the resolver configuration and that the service name exists.",
    "cache/redis-client.md": "# Redis client settings\n\nSet maxRetriesPerRequest and "
    "enableOfflineQueue to match how the app should behave while Redis restarts. Use a pool of "
    "10. If the log shows ECONNREFUSED, Redis is not listening yet. Prefer a Unix socket.",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    base = KnowledgeBase(tmp_path_factory.mktemp("kb"))
    base.ingest_texts(
        [{"source": s, "text": t, "kind": "runbook"} for s, t in CONNECTION_DOCS.items()]
    )
    base.ingest_texts(
        [
            {
                "source": "k8s/oom.md",
                "text": "# Pod OOMKilled\n\nRaise resources.limits.memory of the container.",
                "kind": "runbook",
                "target_kind": "kubernetes",
                "tags": ["memory", "oom"],
            },
            {
                "source": "swarm/oom.md",
                "text": "# Service task OOM\n\nRaise deploy.resources.limits.memory in Swarm.",
                "kind": "runbook",
                "target_kind": ["swarm"],
                "tags": "memory,oom",
            },
            {
                "source": "templates/postgres",
                "title": "PostgreSQL 16",
                "text": "services:\n  db:\n    image: postgres:16.4\n    restart: unless-stopped",
                "kind": "template",
                "tags": ["database"],
            },
            {
                "source": "incident/acme-1",
                "text": "The acme billing database ran out of memory at night: OOMKilled.",
                "kind": "incident",
                "org_id": "org-acme",
                "tags": ["memory"],
            },
            {
                "source": "incident/umbrella-1",
                "text": "The umbrella billing database ran out of memory at night: OOMKilled.",
                "kind": "incident",
                "org_id": "org-umbrella",
            },
        ]
    )
    return base


def _sources(hits: list[Hit]) -> list[str]:
    return [h.source for h in hits]


def test_hybrid_finds_an_exact_error_code_that_vectors_rank_lower(kb: KnowledgeBase) -> None:
    for query in ("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.5:6379"):
        hybrid = _sources(kb.search(query, k=5, kinds="runbook"))
        vector = _sources(kb.search(query, k=5, kinds="runbook", mode="vector"))
        assert hybrid[0] == "cache/redis-client.md"
        assert vector[0] != "cache/redis-client.md"  # the generic connection docs look closer
        assert _sources(kb.search(query, k=5, mode="lexical"))[0] == "cache/redis-client.md"


def test_hits_carry_source_title_kind_text_and_score(kb: KnowledgeBase) -> None:
    hit = kb.search("image postgres:16.4", k=1)[0]
    assert (hit.source, hit.title, hit.kind) == ("templates/postgres", "PostgreSQL 16", "template")
    assert "postgres:16.4" in hit.text and hit.score > 0 and len(hit.id) == 32
    assert hit.snippet()["source"] == "templates/postgres"


def test_filters_by_kind_target_kind_and_tags(kb: KnowledgeBase) -> None:
    assert set(_sources(kb.search("database", k=10, kinds=["template"]))) == {"templates/postgres"}
    k8s = set(_sources(kb.search("out of memory", k=20, target_kind="kubernetes")))
    assert "k8s/oom.md" in k8s and "swarm/oom.md" not in k8s
    assert "net/dns.md" in k8s  # documents for any target match every target kind
    tagged = set(_sources(kb.search("memory", k=20, tags=["oom", "database"])))
    assert tagged == {"k8s/oom.md", "swarm/oom.md", "templates/postgres"}
    assert kb.search("memory", k=5, tags=["no-such-tag"]) == []


@pytest.mark.parametrize("strategy", ["post-filter", "ids", "where"])
def test_every_vector_strategy_applies_the_same_filters(
    kb: KnowledgeBase, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neighbours filtered here, a query restricted to ids, or Chroma's metadata filter."""
    if strategy != "post-filter":
        monkeypatch.setattr(knowledge_base, "POST_FILTER_MAX", 0)
    if strategy == "where":
        monkeypatch.setattr(knowledge_base, "IDS_MAX", 0)
    cases: list[tuple[dict[str, object], set[str]]] = [
        ({"kinds": ["template"]}, {"templates/postgres"}),
        ({"tags": ["oom"]}, {"k8s/oom.md", "swarm/oom.md"}),
        ({"org_id": "org-acme", "kinds": "incident"}, {"incident/acme-1"}),
        ({"org_id": "org-umbrella", "kinds": "incident"}, {"incident/umbrella-1"}),
        ({"kinds": "incident"}, set()),
        ({"target_kind": "swarm", "tags": "memory"}, {"swarm/oom.md"}),
    ]
    for filters, expected in cases:
        found = kb.search("memory", k=20, mode="vector", **filters)  # type: ignore[arg-type]
        assert {h.source for h in found} == expected, filters


def test_an_organization_sees_global_documents_and_its_own_only(kb: KnowledgeBase) -> None:
    acme = set(_sources(kb.search("billing database out of memory", k=20, org_id="org-acme")))
    assert "incident/acme-1" in acme and "incident/umbrella-1" not in acme
    assert "k8s/oom.md" in acme
    umbrella = set(_sources(kb.search("acme billing", k=20, org_id="org-umbrella")))
    assert "incident/acme-1" not in umbrella and "incident/umbrella-1" in umbrella
    anonymous = set(_sources(kb.search("billing database", k=20)))
    assert not anonymous & {"incident/acme-1", "incident/umbrella-1"}
    for mode in ("vector", "lexical"):
        only = _sources(kb.search("acme", k=20, org_id="org-umbrella", mode=mode))
        assert "incident/acme-1" not in only


def test_bad_queries_raise_invalid_input_with_a_hint(kb: KnowledgeBase) -> None:
    bad: list[dict[str, object]] = [
        {"query": ""},
        {"query": "   \n"},
        {"query": "x" * 2001},
        {"query": "ok", "k": 0},
        {"query": "ok", "k": 51},
        {"query": "ok", "kinds": ["novel"]},
        {"query": "ok", "target_kind": "nomad"},
        {"query": "ok", "mode": "fuzzy"},
    ]
    for arguments in bad:
        with pytest.raises(InvalidInput) as caught:
            kb.search(**arguments)  # type: ignore[arg-type]
        assert caught.value.hint, arguments
    with pytest.raises(InvalidInput) as empty:
        kb.search("")
    assert "empty" in empty.value.message


async def test_async_wrappers_and_the_assistant_retriever_protocol(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    hits, snippets = await asyncio.gather(
        kb.asearch("ECONNREFUSED", 3, kinds=["runbook"]),
        kb.retrieve("org-acme", "billing database OOMKilled", 4),
    )
    assert hits[0].source == "cache/redis-client.md"
    assert len(snippets) == 4 and {"source", "text", "title"} <= set(snippets[0])
    assert "incident/umbrella-1" not in {s["source"] for s in snippets}
    per_source: dict[str, int] = {}
    for snippet in snippets:
        per_source[snippet["source"]] = per_source.get(snippet["source"], 0) + 1
    assert max(per_source.values()) <= 2
    report = await kb.aingest_texts([{"source": "async/doc", "text": "written from a coroutine"}])
    assert report.added == ["async/doc"]
    assert (await kb.aremove_sources(["async/doc"])).removed == ["async/doc"]


def test_searches_run_while_another_thread_ingests(tmp_path: Path) -> None:
    base = KnowledgeBase(tmp_path)
    base.ingest_texts([{"source": "seed", "text": "ECONNREFUSED seed document"}])
    done = threading.Event()

    def search() -> int:
        rounds = 0
        while not done.is_set():
            assert base.search("ECONNREFUSED", k=3)
            rounds += 1
        return rounds

    with ThreadPoolExecutor(max_workers=3) as pool:
        readers = [pool.submit(search) for _ in range(3)]
        try:
            for round_ in range(3):
                items = [
                    {"source": f"doc-{n}", "text": f"document {n} revision {round_} " * 30}
                    for n in range(15)
                ]
                base.ingest_texts(items)
        finally:
            done.set()
        assert all(reader.result() > 0 for reader in readers)  # re-raises a reader's failure
    assert base.document_count == 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    # The server of the installed chromadb (same version as the client), else one on PATH.
    beside = Path(sys.executable).parent / "chroma"
    binary = str(beside) if beside.exists() else shutil.which("chroma")
    if binary is None:
        require("Chroma server", "the chroma CLI of chromadb is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Chroma server did not start")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_a_chroma_server_behind_http_client(chroma_server: str) -> None:
    first = KnowledgeBase(server_url=chroma_server)
    first.ingest_texts(
        [{"source": s, "text": t, "kind": "runbook"} for s, t in CONNECTION_DOCS.items()]
    )
    second = KnowledgeBase(server_url=chroma_server)  # another replica: rebuilt from the server
    assert len(second) == len(first) == 5
    assert _sources(second.search("ECONNREFUSED", k=1)) == ["cache/redis-client.md"]
    assert (
        second.ingest_texts(
            [{"source": s, "text": t, "kind": "runbook"} for s, t in CONNECTION_DOCS.items()]
        ).writes
        == 0
    )


def test_an_unreachable_chroma_server_is_reported() -> None:
    with pytest.raises(KnowledgeUnavailable) as caught:
        KnowledgeBase(server_url=f"http://127.0.0.1:{_free_port()}")
    assert caught.value.hint and caught.value.status == 503
