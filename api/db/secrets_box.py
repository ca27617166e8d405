"""Encryption at rest of target secrets (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from windflow.errors import ConfigurationError


class SecretsBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigurationError(
                "WINDFLOW_ENCRYPTION_KEY is not a valid Fernet key",
                hint="generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`",
            ) from exc

    def seal(self, secrets: dict[str, str]) -> str | None:
        if not secrets:
            return None
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()

    def open(self, sealed: str | None) -> dict[str, str]:
        if not sealed:
            return {}
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise ConfigurationError(
                "a target's secrets cannot be decrypted with the configured key",
                hint="restore the WINDFLOW_ENCRYPTION_KEY (or SECRET_KEY) they were saved with",
            ) from exc
        return {str(k): str(v) for k, v in data.items()}
