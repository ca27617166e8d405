"""Import Coolify service templates (Apache-2.0): ``templates/compose/<name>.yaml``.

Metadata sits in header comments (``# documentation:``, ``# slogan:``, ``# category:``,
``# tags:``, ``# logo:``, ``# port:``). Values Coolify fills in are "magic" variables:

- ``SERVICE_PASSWORD_X`` (``_64_`` for 64 characters), ``SERVICE_BASE64_X`` (random
  text, ``_64_``/``_128_``), ``SERVICE_REALBASE64_X`` (base64 of random bytes),
  ``SERVICE_HEX_32_X``: generated secrets here too;
- ``SERVICE_USER_X``: a user name, here a parameter with a plain default;
- ``SERVICE_FQDN_X`` / ``SERVICE_URL_X`` (optionally ``_PORT`` suffixed): the domain and
  URL Coolify's proxy serves service X at; here a domain parameter (and a scheme);
- ``SERVICE_SUPABASEANON_*`` / ``SERVICE_SUPABASESERVICE_*``: signed JWTs, which cannot
  be generated here: they become required secrets, with a warning.

Other ``${VAR:-default}`` references become parameters typed from their name.
Volumes with inline ``content:`` become compose ``configs:``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from knowledge.importers.draft import Draft
from knowledge.importers.naming import guess_category, http_url, parameter_name, slug
from knowledge.templates import document
from knowledge.templates.model import Parameter, Template
from knowledge.templates.variables import Reference, escape, references, rewrite

REPOSITORY = "https://github.com/coollabsio/coolify"
RAW = "https://raw.githubusercontent.com/coollabsio/coolify/main"
TEMPLATES = "templates/compose"
_HEADER = re.compile(r"^#\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_MAGIC = re.compile(
    r"^SERVICE_(PASSWORDWITHSYMBOLS|PASSWORD|USER|BASE64|REALBASE64|HEX|FQDN|URL|"
    r"SUPABASEANON|SUPABASESERVICE)(?:_(32|64|128))?_([A-Z0-9_]+?)(?:_(\d+))?$"
)
_GENERATED: dict[str, tuple[str, str, int]] = {
    "PASSWORD": ("password", "alnum", 32),
    "PASSWORDWITHSYMBOLS": ("password", "alnum", 32),
    "BASE64": ("secret", "alnum", 32),
    "REALBASE64": ("secret", "base64", 32),
    "HEX": ("secret", "hex", 32),
}
_SUFFIX = {"PASSWORD": "PASSWORD", "PASSWORDWITHSYMBOLS": "PASSWORD", "USER": "USER"}


def discover(root: Path) -> list[Path]:
    """The template files under ``root`` (the repository or ``templates/compose``)."""
    base = root / TEMPLATES if (root / TEMPLATES).is_dir() else root
    return sorted(p for p in base.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def header(text: str) -> dict[str, str]:
    """The ``# key: value`` comments before the first line of YAML."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            found.setdefault(match.group(1).lower(), match.group(2))
    return found


class _Magic:
    """Maps Coolify's magic variables onto parameters of the draft."""

    def __init__(self, draft: Draft, template_id: str, taken: set[str]) -> None:
        self.draft = draft
        self.template_id = template_id
        self.taken = taken
        self.routes: dict[str, str | None] = {}

    def _name(self, wanted: str, original: str) -> str:
        # Keep Coolify's own name when the friendly one is already a plain variable.
        return parameter_name(original if wanted in self.taken else wanted)

    def domain(self, identity: str) -> str:
        name = self._name(f"{identity}_DOMAIN", f"SERVICE_FQDN_{identity}")
        own = slug(identity)
        default = f"{self.template_id if own == self.template_id else own + '-' + self.template_id}"
        default += ".localhost"
        about = f"Domain name service {identity.lower()} is served at"
        return self.draft.add(
            Parameter(name=name, type="domain", default=default, description=about)
        )

    def scheme(self) -> str:
        return self.draft.add(
            Parameter(
                name="PUBLIC_SCHEME",
                type="enum",
                choices=["https", "http"],
                default="https",
                description="Scheme of the public URLs (https behind a TLS proxy)",
            )
        )

    def expression(self, name: str) -> str | None:
        """Compose text standing for magic variable ``name``, or None if it is not one."""
        match = _MAGIC.match(name)
        if match is None:
            return None
        kind, size, identity, port = match.groups()
        if kind in ("FQDN", "URL"):
            self.routes.setdefault(identity, port)
            if port:
                self.routes[identity] = port
            domain = f"${{{self.domain(identity)}}}"
            return domain if kind == "FQDN" else f"${{{self.scheme()}}}://{domain}"
        if kind == "USER":
            wanted = self._name(f"{identity}_USER", name)
            user = identity.lower()[:16]
            about = f"User name (Coolify generates one for {name})"
            return f"${{{self.draft.add(Parameter(name=wanted, default=user, description=about))}}}"
        if kind in ("SUPABASEANON", "SUPABASESERVICE"):
            self.draft.warn(
                f"{name} is a JWT Coolify signs with the JWT secret; WindFlow cannot generate "
                "it: give a JWT signed with that secret"
            )
            about = "JWT signed with the stack's JWT secret"
            secret = Parameter(name=name, type="secret", required=True, description=about)
            return f"${{{self.draft.add(secret)}}}"
        parameter_type, charset, length = _GENERATED[kind]
        length = int(size) if size else length
        if kind == "HEX":
            length *= 2  # Coolify hex-encodes that many random bytes
        wanted = self._name(f"{identity}_{_SUFFIX.get(kind, 'SECRET')}", name)
        parameter = Parameter(
            name=wanted,
            type=parameter_type,
            charset=charset,
            generate=length,
            description=f"Generated (Coolify's {name})",
        )
        return f"${{{self.draft.add(parameter)}}}"

    def rewrite(self, text: str) -> str:
        def replace(ref: Reference) -> str | None:
            argument = rewrite(ref.argument, replace) if ref.argument else ref.argument
            found = self.expression(ref.name)
            if found is None:
                return ref.with_name(ref.name, argument) if argument != ref.argument else None
            single = re.fullmatch(r"\$\{([A-Z][A-Z0-9_]*)\}", found)
            return ref.with_name(single.group(1), argument) if single else found

        return rewrite(text, replace)


def _environment(service: dict[str, Any], magic: _Magic) -> None:
    """Drop bare declarations such as ``- SERVICE_URL_APP_3000`` (they only name a route)."""
    env = service.get("environment")
    if isinstance(env, list):
        kept = []
        for item in env:
            text = str(item)
            if "=" not in text and _MAGIC.match(text.strip()):
                magic.expression(text.strip())
                continue
            kept.append(item)
        service["environment"] = kept
    elif isinstance(env, dict):
        for key in [k for k, v in env.items() if v is None and _MAGIC.match(str(k))]:
            magic.expression(str(key))
            del env[key]


def _contents(data: dict[str, Any], draft: Draft) -> None:
    """Volumes with inline ``content:`` become configs (their text is taken literally)."""
    existing = data.get("configs")
    configs: dict[str, Any] = existing if isinstance(existing, dict) else {}
    for name, service in (data.get("services") or {}).items():
        mounts = service.get("volumes") if isinstance(service, dict) else None
        if not isinstance(mounts, list):
            continue
        kept: list[Any] = []
        for entry in mounts:
            if not (isinstance(entry, dict) and "content" in entry and entry.get("target")):
                kept.append(entry)
                continue
            file = PurePosixPath(str(entry.get("source") or entry["target"])).name
            config = slug(f"{name}-{file}")
            content = str(entry.get("content") or "") or "\n"
            configs[config] = {"content": escape(content)}
            reference: dict[str, Any] = {"source": config, "target": str(entry["target"])}
            if entry.get("mode") is not None:
                reference["mode"] = entry["mode"]
            service.setdefault("configs", []).append(reference)
        service["volumes"] = kept
        if not kept:
            del service["volumes"]
    if configs:
        data["configs"] = configs


def convert(file: Path, root: Path) -> Template:
    """One Coolify template file as a ``Template``; raises ``ImportFailure``."""
    base = root / TEMPLATES if (root / TEMPLATES).is_dir() else root
    relative = f"{TEMPLATES}/{file.relative_to(base).as_posix()}"
    draft = Draft(
        kind="coolify",
        upstream=file.stem,
        path=relative,
        attribution=f"{REPOSITORY}/blob/main/{quote(relative)}",
        # Coolify generates its own passwords (SERVICE_PASSWORD_*); a plain ${X_PASSWORD}
        # is one the user brings, such as an SMTP password.
        generate_missing_passwords=False,
    )
    text = file.read_text("utf-8")
    meta = header(text)
    if meta.get("ignore", "").lower() == "true":
        draft.warn("Coolify hides this template (# ignore: true); it may be unmaintained")
    if meta.get("amd_only", "").lower() == "true":
        draft.warn("upstream says the images exist for amd64 only")
    data = document.load(text, file=relative)
    template_id = slug(file.stem)
    taken = {
        ref.name
        for value in document.strings(data)
        for ref in references(value)
        if not _MAGIC.match(ref.name)
    }
    magic = _Magic(draft, template_id, {parameter_name(name) for name in taken})
    for service in (data.get("services") or {}).values():
        if isinstance(service, dict):
            _environment(service, magic)
    _contents(data, draft)
    data = document.map_strings(data, magic.rewrite)
    if magic.routes:
        routes = ", ".join(
            f"{identity.lower()}" + (f" (port {port})" if port else "")
            for identity, port in sorted(magic.routes.items())
        )
        draft.warn(
            "Coolify's proxy serves these services at their domain; WindFlow does not create "
            f"routes, so publish the ports or add them to your reverse proxy: {routes}"
        )
    name = file.stem.replace("-", " ").replace("_", " ").title()
    tags = [t.strip() for t in meta.get("tags", "").split(",") if t.strip()]
    logo = meta.get("logo", "")
    category_hints = [c.strip() for c in meta.get("category", "").split(",")]
    description = meta.get("slogan") or name
    return draft.finish(
        template_id=template_id,
        name=name,
        description=description,
        category=guess_category(*category_hints, *tags, words=f"{name} {description}"),
        compose=data,
        tags=tags,
        links={"homepage": http_url(meta.get("documentation")), "docs": None, "source": None},
        logo=http_url(logo) or (f"{RAW}/public/{quote(logo)}" if logo else None),
        note_undeclared=False,
    )
