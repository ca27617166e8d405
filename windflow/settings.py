"""The one settings object of WindFlow.

Read from ``WINDFLOW_*`` environment variables and an optional ``.env`` file. Nothing
else in the code base reads the environment: everything receives a ``Settings``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from windflow.errors import ConfigurationError

DEV_SECRET_KEY = "windflow-development-secret-change-me"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "windflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WINDFLOW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to a SQLite file in the data directory. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    server_url: str | None = Field(
        default=None, description="WindFlow server the CLI and MCP clients talk to"
    )
    api_token: SecretStr | None = Field(
        default=None, description="API token of the CLI / MCP caller (windflow token create)"
    )
    ui_dir: Path | None = Field(
        default=None, description="Folder of the web chat; the checkout's chat-ui by default"
    )

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for target secrets at rest; derived from secret_key if unset.",
    )
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)
    jwt_issuer: str = "windflow"

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = Field(
        default=None, description="Defaults to the issuer's discovery document's jwks_uri."
    )
    oidc_jwks_cache_seconds: int = 300

    login_attempts_per_minute: int = Field(default=10, ge=1)
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0 to share rate limits between replicas; "
        "process memory if unset",
    )
    redis_prefix: str = Field(
        default="windflow:", description="Prefix of WindFlow's keys in a shared Redis"
    )
    rate_limit_runs_per_minute: int = Field(
        default=20, ge=1, description="Assistant runs a user (and an API token) may start"
    )
    rate_limit_tool_calls_per_minute: int = Field(
        default=120, ge=1, description="Tool calls per user (and API token), API and assistant"
    )
    assistant_max_tokens_per_run: int | None = Field(
        default=200_000, ge=1, description="Model tokens (prompt + completion) per run"
    )
    assistant_max_cost_per_run_usd: float | None = Field(default=None, gt=0)
    assistant_max_tokens_per_user_day: int | None = Field(
        default=2_000_000, ge=1, description="Model tokens per user per UTC day"
    )
    assistant_max_cost_per_user_day_usd: float | None = Field(default=None, gt=0)
    request_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Non-streaming requests are cut (504) after this"
    )
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    page_size_max: int = Field(default=200, ge=1)

    approval_ttl_seconds: int = Field(default=3600, ge=60)
    approval_sweep_seconds: float = Field(
        default=30.0, gt=0, description="How often stale approvals are expired"
    )
    environment_min_role: dict[str, str] = Field(
        default_factory=lambda: {"prod": "admin", "production": "admin"},
        description="Per target environment, the lowest role that may execute or approve changes",
    )
    forbid_self_approval_in: list[str] = Field(
        default_factory=lambda: ["prod", "production", "staging"],
        description="Environments where the requester of a change may not approve it",
    )
    destructive_approvals: dict[str, int] = Field(
        default_factory=lambda: {"prod": 2, "production": 2},
        description="Distinct approvers a destructive change needs per environment "
        "(default 1; 0 refuses destructive changes there)",
    )
    docker_host: str | None = Field(
        default=None, description="Docker endpoint for the local target; the SDK default if unset."
    )

    knowledge_enabled: bool = Field(
        default=True, description="Retrieval over docs, runbooks and templates (Chroma)"
    )
    knowledge_dir: Path | None = Field(
        default=None, description="Embedded Chroma store; <data_dir>/knowledge by default"
    )
    chroma_url: str | None = Field(
        default=None, description="A Chroma server (http://host:8000) instead of the embedded store"
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="Bearer token for the Chroma server, if it needs one"
    )
    knowledge_embedding_threads: int = Field(default=2, ge=1, le=64)
    runbook_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders of Markdown runbooks ingested at start (changed files only)",
    )

    llm_model: str | None = Field(
        default=None, description="Any LiteLLM model string; unset means no-model mode."
    )
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a failed model call, with backoff"
    )
    llm_retry_backoff_seconds: float = Field(default=1.0, ge=0)
    llm_fallback_models: list[str] = Field(
        default_factory=list, description="LiteLLM models tried in order when the main one fails"
    )
    llm_org_models: dict[str, str] = Field(
        default_factory=dict, description="Per organization slug, a LiteLLM model to use instead"
    )
    llm_prompt_budget_tokens: int = Field(
        default=4000,
        ge=500,
        description="Ceiling for system prompt + offered tool schemas + retrieved context",
    )
    assistant_max_steps: int = Field(
        default=12, ge=1, le=100, description="Model turns per run before the run stops"
    )
    assistant_max_message_chars: int = Field(default=20_000, ge=100)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        """Only a development install may run on the published default secret."""
        if self.environment == "development":
            return self
        secret = self.secret_key.get_secret_value()
        if secret in (DEV_SECRET_KEY, ""):
            raise ConfigurationError(
                "WINDFLOW_SECRET_KEY is the development default "
                f"while WINDFLOW_ENVIRONMENT={self.environment}",
                hint="set WINDFLOW_SECRET_KEY to a long random value, e.g. `openssl rand -hex 32`",
            )
        if len(secret) < 32:
            raise ConfigurationError(
                "WINDFLOW_SECRET_KEY is shorter than 32 characters",
                hint="use a long random value, e.g. `openssl rand -hex 32`",
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'windflow.db'}"

    @cached_property
    def fernet_key(self) -> bytes:
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value().encode()
        digest = hashlib.sha256(
            b"windflow-target-secrets:" + self.secret_key.get_secret_value().encode()
        ).digest()
        return base64.urlsafe_b64encode(digest)

    @property
    def resolved_knowledge_dir(self) -> Path:
        return self.knowledge_dir or self.data_dir / "knowledge"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
