"""The registry of every tool WindFlow ships."""

from __future__ import annotations

from tools.kubernetes_tools import KUBERNETES_TOOLS
from tools.library_tools import LIBRARY_TOOLS
from tools.registry import ToolRegistry
from tools.stack_tools import STACK_TOOLS
from tools.vagrant_tools import VAGRANT_TOOLS


def default_registry() -> ToolRegistry:
    return ToolRegistry([*LIBRARY_TOOLS, *STACK_TOOLS, *KUBERNETES_TOOLS, *VAGRANT_TOOLS])
