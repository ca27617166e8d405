"""The one error hierarchy of WindFlow.

Every error says what went wrong (``message``) and how to fix it (``hint``). The API
turns them into RFC 9457 problem documents using ``status`` and ``code``; the tools
turn them into the ``error`` result envelope. Nothing else needs to know the mapping.
"""

from __future__ import annotations

from typing import Any


class WindFlowError(Exception):
    """Base class of every error WindFlow raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(WindFlowError):
    """Settings are missing, contradictory or unsafe for the chosen environment."""

    code = "configuration_error"
    title = "Configuration error"


class InvalidInput(WindFlowError):
    """The caller sent something malformed or semantically invalid."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class AuthenticationFailed(WindFlowError):
    """No valid credentials: missing, expired, forged or revoked."""

    status = 401
    code = "authentication_failed"
    title = "Authentication failed"


class PermissionDenied(WindFlowError):
    """Valid credentials, but the role or policy does not allow the action."""

    status = 403
    code = "permission_denied"
    title = "Permission denied"


class NotFound(WindFlowError):
    """The object does not exist, or exists in an organization the caller cannot see."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(WindFlowError):
    status = 409
    code = "conflict"
    title = "Conflict"


class RateLimited(WindFlowError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, details={"retry_after": retry_after})
        self.retry_after = retry_after


class TargetUnreachable(WindFlowError):
    """An orchestrator (Docker, Kubernetes, Vagrant) could not be reached or answered badly."""

    status = 502
    code = "target_unreachable"
    title = "Target unreachable"


class OrchestratorError(WindFlowError):
    """The orchestrator was reached but refused or failed the operation."""

    status = 502
    code = "orchestrator_error"
    title = "Orchestrator error"


class ApprovalError(PermissionDenied):
    """An approval is missing, expired, already used, or bound to other arguments."""

    code = "approval_invalid"
    title = "Approval invalid"


class ModelError(WindFlowError):
    """The language model could not answer: unreachable, timed out, refused, or malformed."""

    status = 502
    code = "model_error"
    title = "Model error"
