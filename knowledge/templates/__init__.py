"""The template marketplace: typed templates, rendering, and the on-disk catalog.

catalog = TemplateCatalog.load()
template = catalog.search("blog")[0]
rendered = render(template, {"DOMAIN": "blog.example.com"}, stack_name="blog")
"""

from __future__ import annotations

from knowledge.templates.catalog import CATALOG_DIR, TemplateCatalog, load_template
from knowledge.templates.errors import (
    ParameterError,
    TemplateError,
    TemplateFileError,
    TemplateNotFound,
    TemplateRenderError,
)
from knowledge.templates.model import (
    CATEGORIES,
    PARAMETER_TYPES,
    Category,
    Links,
    Parameter,
    ParameterType,
    Source,
    Template,
)
from knowledge.templates.render import RenderedTemplate, ResolvedParameter, render, resolve

__all__ = [
    "CATALOG_DIR",
    "CATEGORIES",
    "PARAMETER_TYPES",
    "Category",
    "Links",
    "Parameter",
    "ParameterError",
    "ParameterType",
    "RenderedTemplate",
    "ResolvedParameter",
    "Source",
    "Template",
    "TemplateCatalog",
    "TemplateError",
    "TemplateFileError",
    "TemplateNotFound",
    "TemplateRenderError",
    "load_template",
    "render",
    "resolve",
]
