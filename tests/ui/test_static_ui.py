"""The chat UI's files without a browser: small, self-contained, safe by construction, and
a palette whose text colors meet WCAG 2.1 AA contrast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "chat-ui"
SOURCES = sorted(UI.glob("*.js"))

# (text, background, where): every text color of app.css on the backgrounds it is used on.
PAIRS = [
    ("--text", "--bg", "page text"),
    ("--text", "--surface", "cards"),
    ("--muted", "--surface", "secondary text"),
    ("--muted", "--bg", "secondary text on the page"),
    ("--muted", "--code-bg", "code bar, comments"),
    ("--muted", "--muted-bg", "secondary text on tags"),
    ("--primary", "--surface", "links"),
    ("--primary", "--bg", "links on the page"),
    ("--on-primary", "--primary", "primary button"),
    ("--on-primary", "--primary-dark", "primary button, hovered"),
    ("--on-header", "--header", "navigation"),
    ("--ok", "--ok-bg", "ok badge"),
    ("--ok", "--surface", "live indicator"),
    ("--warn", "--warn-bg", "waiting badge, warnings"),
    ("--bad", "--bad-bg", "error badge and notices"),
    ("--bad", "--surface", "danger button, lost connection"),
    ("--info", "--info-bg", "info badge, diff hunk"),
    ("--info", "--surface", "run status"),
    ("--text", "--muted-bg", "tags"),
    ("--text", "--user-bg", "the user's bubbles"),
    ("#0550ae", "--code-bg", "YAML and JSON keys"),
    ("#0a3069", "--code-bg", "strings"),
    ("#953800", "--code-bg", "numbers"),
    ("#6639ba", "--code-bg", "literals and commands"),
    ("#8a4600", "--code-bg", "anchors and variables"),
    ("#116329", "--code-bg", "flags"),
    ("#0f5323", "#e6ffec", "added diff lines"),
    ("#8b0b20", "#ffebe9", "removed diff lines"),
    ("#ffffff", "#2b5279", "current navigation item"),
]


def _palette() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", (UI / "app.css").read_text(), re.S)
    assert root, "app.css defines its palette in :root"
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", root.group(1)))


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(("text", "background", "where"), PAIRS)
def test_text_colors_meet_wcag_aa(text: str, background: str, where: str) -> None:
    palette = _palette()
    fg, bg = palette.get(text, text), palette.get(background, background)
    ratio = contrast(fg, bg)
    assert ratio >= 4.5, f"{where}: {fg} on {bg} is {ratio:.2f}:1, below 4.5:1"


def test_files_are_small_modules_of_one_concern() -> None:
    assert {p.name for p in SOURCES} >= {"app.js", "api.js", "sse.js", "markdown.js", "chat.js"}
    for path in [*SOURCES, UI / "app.css", UI / "index.html"]:
        lines = path.read_text().count("\n")
        assert lines <= 400, f"{path.name} has {lines} lines"
    total = sum(p.stat().st_size for p in UI.iterdir() if p.is_file())
    assert total < 150_000, f"the UI weighs {total} bytes"


def test_no_third_party_code_and_no_html_injection_sinks() -> None:
    index = (UI / "index.html").read_text()
    assert '<script type="module" src="/ui/app.js">' in index
    assert not re.search(r"(src|href)=\"(https?:)?//", index), "nothing is loaded from elsewhere"
    for path in SOURCES:
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"
        for module in re.findall(r"from \"([^\"]+)\"", source):
            assert module.startswith("./"), f"{path.name} imports {module}"
