"""Importers of third-party template catalogs (Dokploy, Coolify, CapRover).

    report = import_catalog("dokploy", "/path/to/Dokploy/templates")
    print(report.summary())
    templates = report.templates()        # imported and rendering

Each importer reads a local checkout of its catalog, maps upstream variables onto typed
parameters, converts the compose file to ``${PARAM}`` form, keeps the upstream license
and a link back, and records what it could not carry over as per-template warnings.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.importers import caprover, coolify, dokploy
from knowledge.importers.errors import ImportFailure
from knowledge.importers.report import CatalogKind, ImportReport, TemplateOutcome, run_import
from knowledge.templates.errors import TemplateFileError

IMPORTERS = {"dokploy": dokploy, "coolify": coolify, "caprover": caprover}

__all__ = [
    "IMPORTERS",
    "CatalogKind",
    "ImportFailure",
    "ImportReport",
    "TemplateOutcome",
    "import_catalog",
]


def import_catalog(kind: CatalogKind, path: str | Path) -> ImportReport:
    """Import every template of a local catalog folder and report on each one."""
    importer = IMPORTERS.get(kind)
    if importer is None:
        raise ImportFailure(
            f"unknown catalog kind {kind!r}",
            reason="unknown kind",
            hint=f"use one of: {', '.join(IMPORTERS)}",
        )
    root = Path(path)
    if not root.is_dir():
        raise TemplateFileError(
            "the catalog folder does not exist",
            file=str(root),
            template=None,
            hint=f"point at a local checkout of the {kind} catalog",
        )
    return run_import(kind, root, importer.discover(root), importer.convert)
