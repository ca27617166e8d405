"""The web chat and approval queue: static files served by the API, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from windflow.errors import ConfigurationError

# The checkout ships the UI next to the packages; WINDFLOW_UI_DIR points elsewhere.
DEFAULT_UI_DIR = Path(__file__).resolve().parents[2] / "chat-ui"


def install(app: FastAPI, ui_dir: Path | None) -> None:
    directory = ui_dir or DEFAULT_UI_DIR
    index = directory / "index.html"
    if not index.is_file():
        raise ConfigurationError(
            f"the chat UI is missing: {index} does not exist",
            hint="run from a full checkout, or set WINDFLOW_UI_DIR to the chat-ui folder",
        )
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def chat_ui() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=directory), name="ui")
