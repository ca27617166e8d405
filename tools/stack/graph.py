"""The service graph: start order in layers, cycles, and profile selection.

Besides ``depends_on``, compose orders a service after the services it shares a
namespace with (``network_mode: service:db``, ``ipc``, ``pid``), links to or takes
volumes from; those edges count here too, since starting out of order fails the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from tools.stack.errors import ComposeError
from tools.stack.model import Service, Stack


def _service_ref(value: str | None) -> str | None:
    if value and value.startswith("service:"):
        return value.removeprefix("service:")
    return None


def dependencies(service: Service, known: Iterable[str]) -> set[str]:
    """Every service ``service`` must start after, explicit and implicit."""
    names = set(service.depends_on)
    for mode in (service.network_mode, service.ipc, service.pid):
        if (ref := _service_ref(mode)) is not None:
            names.add(ref)
    for link in service.extras.get("links") or []:
        names.add(str(link).split(":", 1)[0])
    for source in service.extras.get("volumes_from") or []:
        if not str(source).startswith("container:"):
            names.add(str(source).split(":", 1)[0])
    return names & set(known)


def find_cycle(stack: Stack) -> list[str] | None:
    """One dependency cycle as ``[a, b, a]``, or None."""
    graph = {name: sorted(dependencies(s, stack.services)) for name, s in stack.services.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dependency in graph[name]:
            if state.get(dependency) == 1:
                return [*path[path.index(dependency) :], dependency]
            if dependency not in state and (cycle := visit(dependency)) is not None:
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)) is not None:
            return cycle
    return None


def cycle_error(
    cycle: list[str], *, file: str | None = None, line: int | None = None
) -> ComposeError:
    return ComposeError(
        f"services depend on each other in a cycle: {' -> '.join(cycle)}",
        file=file,
        path=f"services.{cycle[0]}.depends_on",
        line=line,
        hint="remove one of these dependencies; a cycle can never start",
    )


def dependency_order(stack: Stack) -> list[list[str]]:
    """Services in layers: each layer depends only on earlier ones; names sorted within."""
    remaining = {name: dependencies(s, stack.services) for name, s in stack.services.items()}
    layers: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, needs in remaining.items() if not needs)
        if not ready:
            raise cycle_error(find_cycle(stack) or sorted(remaining))
        layers.append(ready)
        for name in ready:
            del remaining[name]
        for needs in remaining.values():
            needs.difference_update(ready)
    return layers


def select_profiles(stack: Stack, profiles: Iterable[str]) -> Stack:
    """The stack as ``docker compose --profile ...`` would run it.

    Services without profiles always run; others only when one of theirs is active. A
    running service that needs a disabled one is an error; optional dependencies
    (``required: false``) on disabled services are dropped.
    """
    active = set(profiles)
    enabled = {
        name: service
        for name, service in stack.services.items()
        if not service.profiles or active & set(service.profiles)
    }
    services: dict[str, Service] = {}
    for name, service in enabled.items():
        depends_on = dict(service.depends_on)
        for dependency in list(depends_on):
            if dependency in enabled:
                continue
            flags = service.dependency_flags.get(dependency)
            if flags is not None and not flags.required:
                del depends_on[dependency]
                continue
            wanted = ", ".join(stack.services[dependency].profiles)
            raise ComposeError(
                f"service {name!r} depends on {dependency!r}, which no active profile enables",
                path=f"services.{name}.depends_on.{dependency}",
                hint=f"activate one of its profiles ({wanted})",
            )
        kept = {k: v for k, v in service.dependency_flags.items() if k in depends_on}
        services[name] = service.model_copy(
            update={"depends_on": depends_on, "dependency_flags": kept}
        )
    return stack.model_copy(update={"services": services})
