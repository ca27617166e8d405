"""The registry of every tool WindFlow ships."""

from __future__ import annotations

from tools.compose_fix import fix_compose
from tools.compose_lint import lint_compose
from tools.convert.tool import convert_compose
from tools.diagnosis import diagnose_service
from tools.knowledge_tools import KNOWLEDGE_TOOLS
from tools.kubernetes_tools import KUBERNETES_TOOLS
from tools.library_tools import LIBRARY_TOOLS
from tools.manifest_lint import lint_kubernetes
from tools.migration import MIGRATION_TOOLS
from tools.registry import ToolRegistry
from tools.stack_tools import STACK_TOOLS
from tools.template_tools import TEMPLATE_TOOLS
from tools.vagrant_tools import VAGRANT_TOOLS


def default_registry() -> ToolRegistry:
    return ToolRegistry(
        [
            *LIBRARY_TOOLS,
            *KNOWLEDGE_TOOLS,
            *TEMPLATE_TOOLS,
            lint_compose,
            fix_compose,
            lint_kubernetes,
            convert_compose,
            *STACK_TOOLS,
            diagnose_service,
            *KUBERNETES_TOOLS,
            *VAGRANT_TOOLS,
            *MIGRATION_TOOLS,
        ]
    )
