"""Knowledge base figures: ingestion of 1,000 documents, search latency over 10,000 chunks, RSS.

Run by hand: ``.venv/bin/python -m bench.knowledge [--docs 1000] [--queries 1000]
[--data-dir DIR]``. With ``--data-dir`` the store is kept, and a second run finds every
document unchanged and only measures the searches again.

The documents are synthetic but varied (incident reports, runbooks, templates and docs for
11 organizations, every target kind, real error strings and image names), about ten
~800-character chunks each, so 1,000 documents make about 10,000 chunks. Searches are
hybrid top-5 with a mix of filters, in the offline default configuration (MiniLM int8 on
onnxruntime with 2 threads, a local Chroma folder). Targets: query p95 <= 30 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from knowledge.retrieval import KnowledgeBase

SERVICES = ["api", "web", "worker", "db", "cache", "queue", "proxy", "scheduler", "auth", "search"]
IMAGES = [
    "postgres:16.4",
    "redis:7.4-alpine",
    "nginx:1.27",
    "mysql:8.4",
    "mariadb:11.4",
    "traefik:v3.1",
    "grafana/grafana:11.2.0",
    "ghost:5.96",
    "node:20-alpine",
    "python:3.12-slim",
    "rabbitmq:3.13-management",
    "minio/minio:RELEASE.2024-09-13T20-26-02Z",
]
ERRORS = [
    "connect ECONNREFUSED 10.0.3.7:5432",
    "exit code 137 (OOMKilled)",
    "Bind for 0.0.0.0:8080 failed: port is already allocated",
    "manifest unknown",
    "no space left on device",
    "permission denied while writing /var/lib/data",
    "Back-off restarting failed container",
    "0/3 nodes are available: 3 Insufficient memory",
    "dial tcp: lookup db on 127.0.0.11:53: no such host",
    "x509: certificate signed by unknown authority",
    "ETIMEDOUT after 30000 ms",
    "segmentation fault (exit code 139)",
    "ImagePullBackOff",
    "healthcheck failed: wget: can't connect to remote host",
]
ACTIONS = [
    "raised the memory limit to {mem}",
    "pinned the image to {image}",
    "added a healthcheck with start_period 30s",
    "moved the volume to a larger disk",
    "fixed the service name in DATABASE_URL",
    "rolled back to revision {rev}",
    "added depends_on with condition service_healthy",
    "published the port on 127.0.0.1 only",
    "created an imagePullSecret for the registry",
    "labelled node {node} for placement",
]
TOPICS = [
    "deployment",
    "rollback",
    "backup",
    "monitoring",
    "scaling",
    "networking",
    "secrets",
    "storage",
    "upgrades",
    "certificates",
]
FILLER = [
    "The on-call engineer looked at the logs and the recent events of the stack.",
    "Nothing else in the cluster was affected during the window.",
    "Customers saw slow pages for about {minutes} minutes before the fix.",
    "The change went through the usual approval by a second operator.",
    "Metrics showed memory climbing steadily for an hour before the restart.",
    "A follow-up ticket tracks the long-term fix and the missing alert.",
    "The same pattern had been seen on {env} two weeks earlier.",
    "Dashboards were updated so the next occurrence is visible at once.",
]
KINDS = ["incident", "runbook", "template", "doc"]
TARGETS = ["docker", "swarm", "kubernetes", "vagrant"]
ORGS = ["global", *(f"org-{n}" for n in range(10))]
QUERIES = [
    "why does {service} keep restarting",
    "ECONNREFUSED",
    "exit code 137",
    "{image}",
    "port is already allocated",
    "how do I back up the database volume",
    "pods stuck pending insufficient memory",
    "certificate signed by unknown authority",
    "roll back the {service} service",
    "{service} healthcheck failing after deploy",
]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        mem=rng.choice(["256M", "512M", "1G", "2G"]),
        image=rng.choice(IMAGES),
        rev=rng.randint(2, 40),
        node=f"node-{rng.randint(1, 9)}",
        minutes=rng.randint(2, 90),
        env=rng.choice(["prod-1", "prod-2", "staging", "edge"]),
        service=rng.choice(SERVICES),
    )


def _section(rng: random.Random) -> str:
    service, image, error = rng.choice(SERVICES), rng.choice(IMAGES), rng.choice(ERRORS)
    sentences = [
        f"The {service} service running {image} failed with `{error}`.",
        _fill(rng.choice(FILLER), rng),
        f"We {_fill(rng.choice(ACTIONS), rng)} and redeployed the {rng.choice(TOPICS)} stack.",
        _fill(rng.choice(FILLER), rng),
        _fill(rng.choice(FILLER), rng),
        f"Related: {rng.choice(ERRORS)} on {rng.choice(SERVICES)} ({rng.choice(IMAGES)}).",
        _fill(rng.choice(FILLER), rng),
    ]
    return " ".join(sentences)


def make_documents(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        title = f"{kind.title()} {number:04d}: {rng.choice(SERVICES)} {rng.choice(TOPICS)}"
        sections = [f"# {title}", _section(rng)]
        for part in range(9):
            sections += [f"## {rng.choice(TOPICS).title()} step {part + 1}", _section(rng)]
        documents.append(
            {
                "source": f"bench/{kind}/{number:04d}.md",
                "title": title,
                "text": "\n\n".join(sections),
                "kind": kind,
                "org_id": ORGS[number % len(ORGS)],
                "tags": rng.sample(TOPICS, 2),
                "target_kind": rng.choice(TARGETS),
            }
        )
    return documents


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"


def _queries(count: int, seed: int = 11) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    found: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        filters: dict[str, Any] = {"org_id": rng.choice(ORGS)}
        roll = rng.random()
        if roll < 0.3:
            filters["kinds"] = [rng.choice(KINDS)]
        elif roll < 0.5:
            filters["target_kind"] = rng.choice(TARGETS)
        elif roll < 0.6:
            filters["tags"] = [rng.choice(TOPICS)]
        found.append((_fill(rng.choice(QUERIES), rng), filters))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Knowledge base benchmark")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, help="keep the store here (reused if present)")
    args = parser.parse_args()
    documents = make_documents(args.docs)
    print(f"RSS before: {_rss_mb():.0f} MB")
    with contextlib.ExitStack() as stack:
        folder = args.data_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="windflow-bench-kb-")
        )
        kb = KnowledgeBase(folder)
        print(f"RSS with the model loaded: {_rss_mb():.0f} MB")
        started = time.perf_counter()
        for first in range(0, len(documents), 100):
            kb.ingest_texts(documents[first : first + 100])
            print(f"  {first + 100} documents, {len(kb)} chunks", end="\r", flush=True)
        seconds = time.perf_counter() - started
        print(
            f"ingested {len(documents)} documents ({len(kb)} chunks) in {seconds:.1f} s: "
            f"{len(documents) / seconds:.1f} documents/s, {len(kb) / seconds:.0f} chunks/s"
        )
        started = time.perf_counter()
        again = kb.ingest_texts(documents)
        print(
            f"re-ingesting them unchanged: {time.perf_counter() - started:.2f} s, "
            f"{again.writes} writes"
        )
        print(f"RSS after ingestion: {_rss_mb():.0f} MB")
        started = time.perf_counter()
        reopened = KnowledgeBase(folder)
        print(
            f"reopen (local index rebuilt from Chroma, {len(reopened)} chunks): "
            f"{time.perf_counter() - started:.2f} s"
        )
        queries = _queries(args.queries)
        for text, filters in queries[:20]:
            kb.search(text, 5, **filters)  # warm-up
        samples = []
        for text, _filters in queries:
            started = time.perf_counter()
            kb._embedding.embed_one(text)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"query embedding alone: {_percentiles(samples)}")
        for mode in ("hybrid", "vector", "lexical"):
            samples = []
            for text, filters in queries:
                started = time.perf_counter()
                kb.search(text, 5, mode=mode, **filters)
                samples.append((time.perf_counter() - started) * 1000)
            print(f"search top-5 {mode:8s} over {len(kb)} chunks: {_percentiles(samples)}")
        print(f"RSS at the end: {_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
