"""The catalog of templates on disk: one folder per template, loaded and searchable.

    knowledge/catalog/<id>/template.yaml   metadata and parameters (the Template fields)
    knowledge/catalog/<id>/compose.yaml    the compose file, using ${PARAM}

``TemplateCatalog.load()`` fails on the first broken folder with an error naming the
file; ``load(strict=False)`` keeps the good templates and collects one error per broken
folder in ``catalog.errors``, so one bad template cannot hide the others.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.templates.errors import TemplateError, TemplateFileError, TemplateNotFound
from knowledge.templates.model import CATEGORIES, Template

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
METADATA = "template.yaml"
COMPOSE = "compose.yaml"
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(
    _TOKEN.findall(
        "a an and are as at be by can for from i in is it me my no of on or such that the "
        "thing this to with want need some any all self hosted"
    )
)
_HINTS = {
    "category": f"use one of: {', '.join(CATEGORIES)}",
    "id": "ids are lowercase slugs (letters, digits, '-') equal to the folder name",
    "parameters": "each parameter needs an UPPER_SNAKE name and a type",
    "compose": "declare every ${NAME} of compose.yaml as a parameter",
}


def _read(path: Path, template: str) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError as exc:
        raise TemplateFileError(
            "the file is missing",
            file=str(path),
            template=template,
            hint=f"a template folder holds {METADATA} and {COMPOSE}",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateFileError(
            f"cannot be read: {exc}", file=str(path), template=template, hint="save it as UTF-8"
        ) from exc


def _metadata(path: Path, template: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read(path, template))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise TemplateFileError(
            f"{where}malformed YAML: {exc.problem or exc}",
            file=str(path),
            template=template,
            hint="check indentation (spaces, not tabs), colons and quotes near that line",
        ) from exc
    except yaml.YAMLError as exc:
        raise TemplateFileError(
            f"malformed YAML: {exc}", file=str(path), template=template, hint="fix the YAML"
        ) from exc
    if not isinstance(data, dict):
        raise TemplateFileError(
            "the top level must be a mapping of template fields",
            file=str(path),
            template=template,
            hint="start with id:, name:, description:, category:",
        )
    return data


def _validation_error(exc: ValidationError, path: Path, template: str) -> TemplateFileError:
    problems = []
    first_field = ""
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "template"
        first_field = first_field or str(error["loc"][0] if error["loc"] else "")
        problems.append(f"{where}: {error['msg']}")
    return TemplateFileError(
        "; ".join(problems),
        file=str(path),
        template=template,
        hint=_HINTS.get(first_field, "see knowledge/catalog/README.md for the fields"),
    )


def load_template(folder: Path) -> Template:
    """The template in ``folder``; raises ``TemplateFileError`` naming the broken file."""
    template = folder.name
    meta_path = folder / METADATA
    data = _metadata(meta_path, template)
    declared = data.setdefault("id", template)
    if declared != template:
        raise TemplateFileError(
            f"id {declared!r} differs from the folder name {template!r}",
            file=str(meta_path),
            template=template,
            hint="rename the folder or the id so they match",
        )
    if "compose" in data:
        raise TemplateFileError(
            "compose: belongs in its own file",
            file=str(meta_path),
            template=template,
            hint=f"move it to {COMPOSE}",
        )
    data["compose"] = _read(folder / COMPOSE, template)
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, meta_path, template) from exc


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _score(template: Template, text: str, words: list[str]) -> int:
    if text in (template.id, template.name.lower()):
        return 1000
    name = set(_tokens(template.name)) | set(_tokens(template.id))
    tags = {token for tag in template.tags for token in _tokens(tag)}
    description = set(_tokens(template.description))
    score = 0
    for word in words:
        if word in name:
            score += 10
        elif any(token.startswith(word) for token in name):
            score += 6
        if word in tags:
            score += 5
        if word == template.category:
            score += 4
        if word in description:
            score += 2
    return score


class TemplateCatalog:
    """Templates by id, with search; ``errors`` holds broken folders in lenient loads."""

    def __init__(
        self, templates: Iterable[Template], errors: dict[str, TemplateError] | None = None
    ) -> None:
        self._templates = {t.id: t for t in sorted(templates, key=lambda t: t.id)}
        self.errors: dict[str, TemplateError] = dict(errors or {})

    @classmethod
    def load(cls, root: Path = CATALOG_DIR, *, strict: bool = True) -> TemplateCatalog:
        """Every ``<root>/<id>/`` folder; strict fails on the first broken one."""
        if not root.is_dir():
            raise TemplateFileError(
                "the catalog folder does not exist",
                file=str(root),
                template=None,
                hint="point the catalog at a folder of template folders",
            )
        templates: list[Template] = []
        errors: dict[str, TemplateError] = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith((".", "_")):
                continue
            try:
                templates.append(load_template(folder))
            except TemplateError as exc:
                if strict:
                    raise
                errors[folder.name] = exc
        return cls(templates, errors)

    def __len__(self) -> int:
        return len(self._templates)

    def __iter__(self) -> Iterator[Template]:
        return iter(self._templates.values())

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates

    def ids(self) -> list[str]:
        return list(self._templates)

    def get(self, template_id: str) -> Template:
        found = self._templates.get(template_id)
        if found is None:
            close = difflib.get_close_matches(template_id, self._templates, n=3)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else "search the catalog to find a template's id"
            )
            raise TemplateNotFound(f"no template {template_id!r} in the catalog", hint=hint)
        return found

    def search(
        self, text: str = "", category: str | None = None, tags: Iterable[str] = ()
    ) -> list[Template]:
        """Templates matching the filters, best first; exact id or name matches lead.

        ``text`` is scored by tokens over name, id, tags, category and description
        (templates matching no token are left out); ``category`` and ``tags`` filter.
        """
        wanted_tags = {tag.strip().lower() for tag in tags if tag.strip()}
        query = text.strip().lower()
        words = [word for word in _tokens(query) if word not in _STOP_WORDS]
        hits: list[tuple[int, Template]] = []
        for template in self:
            if category is not None and template.category != category:
                continue
            if not wanted_tags <= set(template.tags):
                continue
            score = _score(template, query, words) if words else 1
            if score > 0:
                hits.append((score, template))
        hits.sort(key=lambda hit: (-hit[0], hit[1].name.lower()))
        return [template for _, template in hits]

    def categories(self) -> dict[str, int]:
        """Number of templates per category, in the fixed category order."""
        counts = {category: 0 for category in CATEGORIES}
        for template in self:
            counts[template.category] += 1
        return {category: n for category, n in counts.items() if n}
