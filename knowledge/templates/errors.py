"""Errors of the template marketplace: each names the template and the field at fault."""

from __future__ import annotations

from typing import Any

from windflow.errors import InvalidInput, NotFound


class TemplateError(InvalidInput):
    """A template, or a value given for one of its parameters, is not usable."""

    code = "template_invalid"
    title = "Invalid template"

    def __init__(
        self,
        message: str,
        *,
        template: str | None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint, details={"template": template, **(details or {})})
        self.template = template


class TemplateFileError(TemplateError):
    """A file of a template folder is missing, malformed or describes an invalid template."""

    code = "template_file_invalid"
    title = "Invalid template file"

    def __init__(
        self, message: str, *, file: str, template: str | None, hint: str | None = None
    ) -> None:
        super().__init__(f"{file}: {message}", template=template, hint=hint, details={"file": file})
        self.file = file


class ParameterError(TemplateError):
    """A value given for a template parameter is unknown, missing or invalid."""

    code = "template_parameter_invalid"
    title = "Invalid template parameter"

    def __init__(
        self, message: str, *, template: str, parameter: str | None, hint: str | None = None
    ) -> None:
        super().__init__(message, template=template, hint=hint, details={"parameter": parameter})
        self.parameter = parameter


class TemplateRenderError(TemplateError):
    """The template's compose file does not load once its parameters are filled in."""

    code = "template_render_failed"
    title = "Template does not render"


class TemplateNotFound(NotFound):
    """No template with that id exists in the catalog."""

    code = "template_not_found"
    title = "Template not found"
