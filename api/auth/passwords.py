"""Argon2id password hashing (argon2-cffi's recommended parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from windflow.errors import InvalidInput

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("windflow-no-such-user")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password is shorter than {MIN_PASSWORD_LENGTH} characters",
            hint="choose a longer passphrase",
        )
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
