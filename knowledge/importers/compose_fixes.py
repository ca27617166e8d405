"""Generic repairs of imported compose data, each one recorded as a warning.

Upstream platforms accept things a plain compose deployment does not: keys of their own
(``exclude_from_hc``), undeclared named volumes, their proxy's external network, fixed
passwords written into ``environment:``. ``fix_compose`` repairs what it can and notes
each repair on the draft; what it cannot repair is an ``ImportFailure``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import jsonschema

from knowledge.importers.errors import ImportFailure
from knowledge.importers.naming import parameter_name, secret_kind
from knowledge.templates import document
from knowledge.templates.model import PARAMETER_NAME, Parameter
from knowledge.templates.variables import Reference, references, rewrite
from tools.stack.schema import validator

if TYPE_CHECKING:
    from knowledge.importers.draft import Draft

# The lint rule's notion of a secret-holding key (tools/compose_lint.py), plus URL passwords.
_SECRET_KEY = re.compile(
    r"(passw(or)?d|\bpass\b|_pass\b|secret|token|api_?key|private_?key|access_?key|credential)",
    re.I,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s$]+:)(?P<pw>[^@/\s$]+)@", re.I)
_NOT_A_SECRET_VALUE = re.compile(r"^(true|false|yes|no|none|null|\d+[smhdw]?|/.*|\s*)$", re.I)
_PLATFORM_NETWORKS = ("dokploy-network", "coolify", "captain-overlay-network")
_NAMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_LEVEL_NAMES = ("services", "volumes", "networks", "configs", "secrets")


def _services(data: dict[str, Any], draft: Draft) -> dict[str, Any]:
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ImportFailure(
            f"{draft.upstream}: the compose file has no services", reason="no services"
        )
    return services


def _service_basics(name: str, service: dict[str, Any], draft: Draft) -> None:
    for key in [k for k, v in service.items() if v is None]:
        del service[key]
        draft.warn(f"{name}: empty {key}: removed")
    if "container_name" in service:
        del service["container_name"]
        draft.warn(f"{name}: container_name removed (WindFlow names containers per stack)")
    if not service.get("image"):
        detail = "builds its image from source" if "build" in service else "has no image"
        raise ImportFailure(
            f"{draft.upstream}: service {name} {detail}; WindFlow deploys published images",
            reason="service without image",
            hint="publish the image to a registry and name it in image:",
        )
    if "env_file" in service:
        del service["env_file"]
        draft.warn(f"{name}: env_file removed (its file is not part of the template)")


def _networks(data: dict[str, Any], services: dict[str, Any], draft: Draft) -> None:
    networks = data.get("networks")
    declared: dict[str, Any] = networks if isinstance(networks, dict) else {}
    for network in _PLATFORM_NETWORKS:
        if network not in declared:
            continue
        del declared[network]
        draft.warn(f"network {network} of the upstream platform removed; services use the default")
        for service in services.values():
            joined = service.get("networks")
            if isinstance(joined, list) and network in joined:
                joined.remove(network)
            elif isinstance(joined, dict):
                joined.pop(network, None)
            if isinstance(joined, list | dict) and not joined:
                del service["networks"]
    for name, service in services.items():
        joined = service.get("networks")
        for network in joined if isinstance(joined, list | dict) else []:
            if isinstance(network, str) and network not in declared and network != "default":
                declared[network] = None
                draft.warn(f"{name}: network {network} was not declared; declared it")
    if declared:
        data["networks"] = declared
    else:
        data.pop("networks", None)


def _volume_source(entry: Any) -> str | None:
    if isinstance(entry, str):
        parts = entry.split(":")
        return parts[0] if len(parts) > 1 else None
    if isinstance(entry, dict) and entry.get("type", "volume") == "volume":
        source = entry.get("source")
        return source if isinstance(source, str) else None
    return None


def _volumes(data: dict[str, Any], services: dict[str, Any], draft: Draft) -> None:
    volumes = data.get("volumes")
    declared: dict[str, Any] = volumes if isinstance(volumes, dict) else {}
    for name, service in services.items():
        mounts = service.get("volumes") if isinstance(service, dict) else None
        if not isinstance(mounts, list):
            continue
        for index, entry in enumerate(mounts):
            source = _volume_source(entry)
            if not source or source.startswith(("/", ".", "~", "$")):
                continue
            if _NAMED.match(source):
                declared.setdefault(source, None)
            elif isinstance(entry, str):
                mounts[index] = f"./{entry}"
                draft.warn(f"{name}: volume source {source!r} read as the path ./{source}")
    if declared:
        data["volumes"] = declared


def _unknown_keys(
    error: jsonschema.ValidationError, found: set[tuple[tuple[Any, ...], str]]
) -> None:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        path = tuple(error.absolute_path)
        if not (len(path) == 1 and path[0] in _TOP_LEVEL_NAMES):
            for key in error.instance:
                if key not in known and not any(re.search(p, key) for p in patterns):
                    found.add((path, key))
    for sub in error.context or []:
        _unknown_keys(sub, found)


def _strip_unknown(data: dict[str, Any], draft: Draft) -> None:
    found: set[tuple[tuple[Any, ...], str]] = set()
    for error in validator().iter_errors(data):
        _unknown_keys(error, found)
    for path, key in sorted(found, key=str):
        node: Any = data
        for part in path:
            node = node[part]
        node.pop(key, None)
        where = ".".join(str(part) for part in (*path, key))
        draft.warn(f"{where}: not a compose key, removed")


def _secret_parameter(key: str, draft: Draft) -> Parameter:
    name = parameter_name(key)
    kind = secret_kind(name) or "secret"
    return Parameter(name=name, type=kind, generate=32, description=f"Generated value of {key}")


def _literal_secrets(services: dict[str, Any], draft: Draft) -> None:
    """Fixed secrets in environment: values become generated parameters (same value, same one)."""
    chosen: dict[str, str] = {}

    def replace(key: str, value: str, where: str) -> str:
        if "$" in value.replace("$$", ""):
            return value
        if _SECRET_KEY.search(key) and not key.upper().endswith("_FILE"):
            if _NOT_A_SECRET_VALUE.match(value):
                return value
            if value not in chosen:
                chosen[value] = draft.add(_secret_parameter(key, draft))
                draft.warn(f"{where}: a fixed secret became the generated {chosen[value]}")
            return f"${{{chosen[value]}}}"
        match = _URL_PASSWORD.search(value)
        if match is None:
            return value
        secret = match.group("pw")
        if secret not in chosen:
            chosen[secret] = draft.add(_secret_parameter(f"{key}_PASSWORD", draft))
            draft.warn(f"{where}: a fixed password in a URL became the generated {chosen[secret]}")
        return value[: match.start("pw")] + f"${{{chosen[secret]}}}" + value[match.end("pw") :]

    for name, service in services.items():
        env = service.get("environment") if isinstance(service, dict) else None
        if isinstance(env, dict):
            for key, value in env.items():
                if isinstance(value, str):
                    env[key] = replace(str(key), value, f"{name}.environment.{key}")
        elif isinstance(env, list):
            for index, item in enumerate(env):
                if isinstance(item, str) and "=" in item:
                    key, _, value = item.partition("=")
                    env[index] = f"{key}={replace(key, value, f'{name}.environment.{key}')}"


def _rename_invalid_references(data: Any, draft: Draft) -> Any:
    valid = {
        ref.name
        for text in document.strings(data)
        for ref in references(text)
        if re.match(PARAMETER_NAME, ref.name)
    }
    renamed: dict[str, str] = {}

    def new_name(old: str) -> str:
        if old not in renamed:
            name, number = parameter_name(old), 2
            while name in valid or name in renamed.values():
                name, number = f"{parameter_name(old)}_{number}", number + 1
            renamed[old] = name
        return renamed[old]

    def rename(ref: Reference) -> str | None:
        argument = rewrite(ref.argument, rename) if ref.argument else ref.argument
        if re.match(PARAMETER_NAME, ref.name):
            return ref.with_name(ref.name, argument) if argument != ref.argument else None
        return ref.with_name(new_name(ref.name), argument)

    result = document.map_strings(data, lambda text: rewrite(text, rename))
    if renamed:
        pairs = ", ".join(f"{old} -> {new}" for old, new in sorted(renamed.items()))
        draft.warn(f"variables renamed to UPPER_SNAKE parameter names: {pairs}")
    return result


def _escape_stray_dollars(data: Any, draft: Draft) -> Any:
    """``$(cmd)`` or ``$!`` written for a shell: compose rejects them, ``$$`` is meant."""
    changed: list[str] = []

    def escape(text: str) -> str:
        fixed = rewrite(text, lambda ref: None, stray="$$")
        if fixed != text:
            changed.append(text)
        return fixed

    result = document.map_strings(data, escape)
    if changed:
        draft.warn(f"{len(changed)} value(s) had a lone $ (shell syntax); written as $$")
    return result


def fix_compose(data: dict[str, Any], draft: Draft) -> dict[str, Any]:
    """Repaired compose data (the input is modified); raises ``ImportFailure``."""
    services = _services(data, draft)
    if "version" in data and not isinstance(data["version"], str):
        data["version"] = str(data["version"])  # "version: 3.3" is a float to YAML
    for name, service in services.items():
        if not isinstance(service, dict):
            raise ImportFailure(
                f"{draft.upstream}: service {name} is not a mapping", reason="malformed service"
            )
        _service_basics(str(name), service, draft)
    _networks(data, services, draft)
    _volumes(data, services, draft)
    _strip_unknown(data, draft)
    _literal_secrets(services, draft)
    fixed: dict[str, Any] = _rename_invalid_references(_escape_stray_dollars(data, draft), draft)
    return fixed
