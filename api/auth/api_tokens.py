"""Long-lived API tokens for bots and the CLI.

The token carries 256 bits of randomness, so a plain SHA-256 is enough to store it:
no password-grade hashing is needed and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "wf_"


def generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_api_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and 20 <= len(token) <= 100


def display_prefix(token: str) -> str:
    return token[:10]
