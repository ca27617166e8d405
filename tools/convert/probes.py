"""Compose healthchecks -> Kubernetes readiness and liveness probes.

A ``curl``/``wget`` of a local URL becomes ``httpGet`` and ``nc -z`` of a local port
``tcpSocket`` (the kubelet runs those without a shell or curl in the image); anything
else runs as ``exec``. Readiness follows the healthcheck closely, so a pod leaves the
Service as soon as it fails; liveness restarts the container only after the start
period and twice the failures, so a slow dependency does not cause a restart loop.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tools.stack import Healthcheck

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
_LOCAL = r"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])"
_HTTP = re.compile(
    r"^(?:curl|wget)(?:\s+-{1,2}[A-Za-z-]+(?:=\S+)?)*\s+['\"]?https?://" + _LOCAL
    + r"(?::(?P<port>\d+))?(?P<path>/[^\s'\"|;&]*)?['\"]?\s*(?:\|\|\s*exit\s+1)?\s*$"
)  # fmt: skip
_TCP = re.compile(r"^nc\s+-z(?:\s+-w\s*\d+)?\s+" + _LOCAL + r"\s+(?P<port>\d+)\s*$")


def _command(check: Healthcheck) -> str | None:
    kind, *rest = check.test or ["NONE"]
    if kind == "CMD-SHELL" and rest:
        return rest[0].strip()
    if kind == "CMD" and rest:
        return " ".join(rest)
    return None


def handler(check: Healthcheck) -> dict[str, Any] | None:
    """httpGet, tcpSocket or exec for the healthcheck's test; None when there is none."""
    if check.disable or not check.test or check.test[0] == "NONE":
        return None
    command = _command(check)
    if command is not None:
        http = _HTTP.match(command)
        if http:
            return {"httpGet": {"path": http["path"] or "/", "port": int(http["port"] or 80)}}
        tcp = _TCP.match(command)
        if tcp:
            return {"tcpSocket": {"port": int(tcp["port"])}}
    kind, *rest = check.test
    if kind == "CMD":
        return {"exec": {"command": rest}}
    return {"exec": {"command": ["/bin/sh", "-c", rest[0] if rest else "true"]}}


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


def probes(check: Healthcheck | None) -> dict[str, dict[str, Any]]:
    """``{"readinessProbe": ..., "livenessProbe": ...}``, or {} without a healthcheck."""
    found = handler(check) if check is not None else None
    if check is None or found is None:
        return {}
    interval = _seconds(check.interval or DEFAULT_INTERVAL)
    timeout = _seconds(check.timeout or DEFAULT_TIMEOUT)
    retries = check.retries or DEFAULT_RETRIES
    timeout = min(timeout, interval)
    readiness = {
        **found,
        "periodSeconds": interval,
        "timeoutSeconds": timeout,
        "failureThreshold": retries,
        "successThreshold": 1,
    }
    liveness = {
        **found,
        "periodSeconds": interval,
        "timeoutSeconds": timeout,
        "failureThreshold": retries * 2,
        "successThreshold": 1,
    }
    if check.start_period:
        readiness["initialDelaySeconds"] = 0
        liveness["initialDelaySeconds"] = _seconds(check.start_period)
    return {"readinessProbe": readiness, "livenessProbe": liveness}
