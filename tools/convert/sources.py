"""Content of compose configs and secrets, read the way the Swarm adapter reads it."""

from __future__ import annotations

from pathlib import Path

from tools.stack import FileSpec


def file_content(spec: FileSpec, base_dir: Path | None) -> tuple[str | None, str | None]:
    """(content, None), or (None, why it is unknown). External objects have no content."""
    if spec.content is not None:
        return spec.content, None
    if spec.environment is not None:
        return None, (
            f"its value comes from the variable {spec.environment} at deploy time; "
            "conversion does not read the server's environment"
        )
    if spec.file is None:
        return None, "it has neither file:, content: nor environment:"
    if base_dir is None:
        return None, f"file {spec.file} needs the stack's directory (convert a file, not text)"
    root = base_dir.resolve()
    path = (root / Path(spec.file).expanduser()).resolve()
    # Compose text may come from API users: it must not read files of the server.
    if not path.is_relative_to(root):
        return None, f"file {spec.file} is outside the stack directory"
    if not path.is_file():
        return None, f"file {spec.file} does not exist"
    try:
        return path.read_text("utf-8"), None
    except UnicodeDecodeError:
        return None, f"file {spec.file} is not UTF-8 text"
