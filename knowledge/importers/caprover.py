"""Import CapRover one-click apps (Apache-2.0): ``public/v4/apps/<name>.yml``.

A one-click app is a compose file with ``captainVersion: 4`` and a
``caproverOneClickApp`` block (``variables`` with ``id: $$cap_x``, ``label``,
``defaultValue``, ``validRegex``, ``description``; ``instructions``, ``displayName``,
``description``, ``documentation``). CapRover substitutes ``$$cap_x`` everywhere, plus
``$$cap_appname`` (the app's name), ``$$cap_root_domain`` and
``$$cap_gen_random_hex(n)``; services reach each other as ``srv-captain--<name>``.

Here variables become typed parameters (random-hex defaults become generated secrets,
``validRegex`` a pattern), ``$$cap_appname``-based service names become plain ones, and
every other ``$`` is escaped, since CapRover does no compose interpolation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from knowledge.importers import dockerfile_lines
from knowledge.importers.draft import Draft
from knowledge.importers.errors import ImportFailure
from knowledge.importers.naming import guess_category, parameter_name, secret_kind, slug
from knowledge.templates import document
from knowledge.templates.model import Parameter, Template
from knowledge.templates.variables import escape

REPOSITORY = "https://github.com/caprover/one-click-apps"
APPS = "public/v4/apps"
_TOKEN = re.compile(r"\$\$cap_([A-Za-z0-9_]+)(?:\((\d*)\))?")
_RANDOM = "gen_random_hex"
_URL = re.compile(r"https?://[^\s)\"'>]+")
_SPECIAL = {"appname": "APP_NAME", "root_domain": "ROOT_DOMAIN"}


def discover(root: Path) -> list[Path]:
    """The app files under ``root`` (the repository or ``public/v4/apps``)."""
    base = root / APPS if (root / APPS).is_dir() else root
    return sorted(p for p in base.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def _pattern(raw: Any, name: str, draft: Draft) -> str | None:
    """A JavaScript ``/regex/flags`` literal as a Python pattern, if it compiles."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    match = re.fullmatch(r"/(.*)/([a-z]*)", raw.strip(), re.S)
    body, flags = (match.group(1), match.group(2)) if match else (raw.strip(), "")
    pattern = ("(?i)" if "i" in flags else "") + body.replace("\\/", "/")
    try:
        re.compile(pattern)
    except re.error:
        draft.warn(f"{name}: validRegex {raw} is not a Python regex; not enforced")
        return None
    return pattern


class _Variables:
    """CapRover variables as parameters, and ``$$cap_*`` text as compose text."""

    def __init__(self, draft: Draft, template_id: str, declared: list[Any]) -> None:
        self.draft = draft
        self.template_id = template_id
        self.entries = {
            str(v["id"]).removeprefix("$$cap_"): v
            for v in declared
            if isinstance(v, dict) and str(v.get("id", "")).startswith("$$cap_")
        }
        self.names: dict[str, str] = {}
        self.fallbacks: dict[str, str] = {}
        self.random_count = 0
        self.undeclared: set[str] = set()

    def special(self, key: str) -> str:
        if key == "appname":
            about = "Name of the app (CapRover's $$cap_appname)"
            parameter = Parameter(name="APP_NAME", default=self.template_id, description=about)
        else:
            about = "Root domain apps are served under (CapRover's $$cap_root_domain)"
            parameter = Parameter(
                name="ROOT_DOMAIN", type="domain", default="example.com", description=about
            )
        return self.draft.add(parameter)

    def random(self, length: int, name: str | None = None, **extra: Any) -> str:
        if name is None:
            self.random_count += 1
            name = f"RANDOM_HEX_{self.random_count}"
        kind = secret_kind(name) or "secret"
        parameter = Parameter(
            name=name, type=kind, charset="hex", generate=max(4, min(256, length)), **extra
        )
        return self.draft.add(parameter)

    def declare(self, key: str) -> str:
        """The parameter of variable ``key`` (declared on first use)."""
        if key in self.names:
            return self.names[key]
        entry = self.entries[key]
        name = parameter_name(key)
        label = str(entry.get("label") or "").strip()
        about = str(entry.get("description") or "").strip()
        description = ": ".join(part for part in (label, about) if part)[:500]
        pattern = _pattern(entry.get("validRegex"), name, self.draft)
        raw = entry.get("defaultValue")
        default = (
            (str(raw).lower() if isinstance(raw, bool) else str(raw)) if raw is not None else None
        )
        whole = _TOKEN.fullmatch(default or "")
        self.names[key] = name  # before recursing, so self-references terminate
        if whole and whole.group(1) == _RANDOM:
            extra = {"description": description, "pattern": pattern}
            self.names[key] = self.random(int(whole.group(2) or 16), name, **extra)
        elif default is not None and _TOKEN.search(default):
            self.fallbacks[name] = self.text(default)
            self.names[key] = self.draft.add(Parameter(name=name, description=description))
        else:
            kind = secret_kind(name) or secret_kind(label.replace(" ", "_"))
            required = not default and pattern is not None and not re.fullmatch(pattern, "")
            parameter = self.draft.typed(
                name,
                default,
                description=description,
                required=required,
                kind=kind,
                pattern=pattern,
                # Only a password CapRover makes the user type is generated when missing.
                generate_missing=required,
            )
            self.names[key] = self.draft.add(parameter)
        return self.names[key]

    def token(self, key: str, argument: str | None) -> str | None:
        """Compose text for ``$$cap_<key>``, or None when CapRover would leave it as is."""
        if key in _SPECIAL:
            return f"${{{self.special(key)}}}"
        if key == _RANDOM:
            return f"${{{self.random(int(argument or 16))}}}"
        if key not in self.entries:
            return None
        name = self.declare(key)
        fallback = self.fallbacks.get(name)
        return f"${{{name}:-{fallback}}}" if fallback else f"${{{name}}}"

    def text(self, value: str) -> str:
        out: list[str] = []
        index = 0
        for match in _TOKEN.finditer(value):
            out.append(escape(value[index : match.start()]))
            index = match.end()
            key = match.group(1)
            # "$$cap_db_user_x" may be "$$cap_db_user" followed by "_x".
            while key and key not in self.entries and key not in _SPECIAL and key != _RANDOM:
                key = key.rsplit("_", 1)[0] if "_" in key else ""
            found = self.token(key, match.group(2)) if key else None
            if found is None:
                self.undeclared.add(match.group(1))
                out.append(escape(match.group()))
                continue
            rest = match.group(1)[len(key) :]
            out.append(found + escape(rest if key != _RANDOM else ""))
        out.append(escape(value[index:]))
        return "".join(out)


def _service_name(key: str) -> str:
    bare = key.replace("$$cap_appname", "").strip("-_")
    return slug(_TOKEN.sub("", bare)) if bare else "app"


def _extras(name: str, service: dict[str, Any], draft: Draft) -> str | None:
    extra = service.pop("caproverExtra", None)
    if not isinstance(extra, dict):
        return None
    lines = extra.get("dockerfileLines")
    if isinstance(lines, list):
        dockerfile_lines.apply(name, service, lines, draft.upstream)
        draft.warn(f"{name}: dockerfileLines turned into image, command and environment")
    for key in sorted(set(extra) - {"containerHttpPort", "notExposeAsWebApp", "dockerfileLines"}):
        draft.warn(f"{name}: caproverExtra.{key} has no equivalent; ignored")
    if extra.get("notExposeAsWebApp") in (True, "true"):
        return None  # the default here: nothing is exposed unless ports: say so
    return f"{name} (port {extra.get('containerHttpPort', 80)})"


def _rename_services(data: dict[str, Any], draft: Draft) -> dict[str, str]:
    services = data.get("services")
    if not isinstance(services, dict):
        raise ImportFailure(f"{draft.upstream}: no services", reason="no services")
    renames: dict[str, str] = {}
    for key in map(str, services):
        name, number = _service_name(key), 2
        while name in renames.values():
            name, number = f"{_service_name(key)}-{number}", number + 1
        renames[key] = name
    data["services"] = {renames[str(k)]: v for k, v in services.items()}
    for service in data["services"].values():
        depends = service.get("depends_on") if isinstance(service, dict) else None
        if isinstance(depends, list):
            service["depends_on"] = [renames.get(str(d), d) for d in depends]
        elif isinstance(depends, dict):
            service["depends_on"] = {renames.get(str(k), k): v for k, v in depends.items()}
    return renames


def _hostnames(text: str, renames: dict[str, str]) -> str:
    for old in sorted(renames, key=len, reverse=True):
        text = text.replace(f"srv-captain--{old}", renames[old])
    return text


def _volume_name(source: str) -> str:
    """``$$cap_appname-data`` -> ``app-data``: volume names cannot be interpolated."""
    return slug(_TOKEN.sub("", source.replace("$$cap_appname", "app")))


def _volume(entry: Any, named: set[str]) -> Any:
    if not isinstance(entry, str) or ":" not in entry:
        return entry
    source, _, rest = entry.partition(":")
    if source.startswith(("/", ".", "~")) or "$$cap_" not in source:
        return entry
    named.add(_volume_name(source))
    return f"{_volume_name(source)}:{rest}"


def _network_names(data: dict[str, Any]) -> None:
    """Network names with ``$$cap_appname`` in them, renamed like volumes."""

    def rename(name: Any) -> Any:
        return _volume_name(name) if isinstance(name, str) and "$$cap_" in name else name

    for service in data["services"].values():
        joined = service.get("networks") if isinstance(service, dict) else None
        if isinstance(joined, list):
            service["networks"] = [rename(n) for n in joined]
        elif isinstance(joined, dict):
            service["networks"] = {rename(k): v for k, v in joined.items()}
    networks = data.get("networks")
    if isinstance(networks, dict):
        data["networks"] = {rename(k): v for k, v in networks.items()}


def _instructions(app: dict[str, Any], draft: Draft) -> None:
    instructions = app.get("instructions")
    end = instructions.get("end") if isinstance(instructions, dict) else None
    if isinstance(end, str) and end.strip():
        text = re.sub(r"\s+", " ", _TOKEN.sub(lambda m: "{" + m.group(1).upper() + "}", end))
        draft.warn(f"after deploying, upstream says: {text.strip()[:400]}")


def convert(file: Path, root: Path) -> Template:
    """One CapRover app file as a ``Template``; raises ``ImportFailure``."""
    base = root / APPS if (root / APPS).is_dir() else root
    relative = f"{APPS}/{file.relative_to(base).as_posix()}"
    draft = Draft(
        kind="caprover",
        upstream=file.stem,
        path=relative,
        attribution=f"{REPOSITORY}/blob/master/{quote(relative)}",
    )
    data = document.load(file.read_text("utf-8"), file=relative)
    if str(data.pop("captainVersion", "")) != "4":
        raise ImportFailure(f"{file.stem}: not a captainVersion 4 app", reason="captainVersion")
    app = data.pop("caproverOneClickApp", None)
    app = app if isinstance(app, dict) else {}
    template_id = slug(file.stem)
    variables = _Variables(draft, template_id, app.get("variables") or [])
    renames = _rename_services(data, draft)
    routes = []
    named: set[str] = set()
    for name, service in data["services"].items():
        if not isinstance(service, dict):
            continue
        route = _extras(name, service, draft)
        routes += [route] if route else []
        if isinstance(service.get("volumes"), list):
            service["volumes"] = [_volume(v, named) for v in service["volumes"]]
    volumes = data.get("volumes")
    declared = {
        _volume_name(k) if "$$cap_" in k else k: v
        for k, v in (volumes.items() if isinstance(volumes, dict) else [])
    }
    if named or declared:
        data["volumes"] = {**dict.fromkeys(sorted(named)), **declared}
    _network_names(data)
    data = document.map_strings(data, lambda text: variables.text(_hostnames(text, renames)))
    if variables.undeclared:
        names = ", ".join(f"$$cap_{n}" for n in sorted(variables.undeclared))
        draft.warn(f"{names} not declared upstream; kept as literal text")
    if routes:
        draft.warn(
            "CapRover serves these at <app>.<root domain>; WindFlow does not create routes, so "
            "publish the ports or add them to your reverse proxy: " + ", ".join(routes)
        )
    _instructions(app, draft)
    name = str(app.get("displayName") or file.stem)
    description = str(app.get("description") or name)
    documentation = _URL.search(str(app.get("documentation") or ""))
    versions = [k for k in variables.entries if "version" in k.lower()]
    version = variables.entries[versions[0]].get("defaultValue") if versions else None
    return draft.finish(
        template_id=template_id,
        name=name,
        description=description,
        category=guess_category(words=f"{name} {description}"),
        compose=data,
        version=str(version) if version and "$$cap_" not in str(version) else None,
        links={"homepage": None, "docs": documentation.group() if documentation else None},
    )
