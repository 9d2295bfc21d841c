"""No import circle in the project, counting imports inside functions.

Every module under ``ecogprom/``, ``surveys/`` and ``scoring/`` is parsed with
:mod:`ast`; each ``import`` and ``from ... import`` anywhere in it (module
level, inside functions, under ``TYPE_CHECKING``) is an edge to the project
module it names (``from surveys import models`` names ``surveys.models``). A
package's ``__init__`` importing its own submodules is an edge like any other;
a submodule is not taken to import its parent package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ecogprom", "surveys", "scoring")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module *name* refers to (itself or its closest enclosing package)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """Project modules that *module* imports anywhere in its source."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import name`: the submodule pkg.name if there is one, else pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_project_has_no_import_cycle():
    graph = import_graph(ROOT, PACKAGES)
    assert "surveys.tasks" in graph and "surveys.jobs.runner" in graph  # the walk found them
    assert find_cycles(graph) == []


def test_no_module_imports_the_celery_tasks():
    graph = import_graph(ROOT, PACKAGES)
    assert sorted(name for name, targets in graph.items() if "surveys.tasks" in targets) == []


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def late():\n    from .c import x\n")
    (package / "sub" / "c.py").write_text("def later():\n    from .. import a\n")
    (package / "d.py").write_text("import pkg.a\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.sub.c"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]


# --- the rooms and what each may import (docs/architecture.md, "Who imports whom") -------

ROOMS = (
    "surveys.security",
    "surveys.models",
    "surveys.trial",
    "surveys.accounts",
    "surveys.jobs",
    "surveys.tablet",
    "surveys.home",
    "surveys.coordinator",
    "surveys.statistician",
    "surveys.outreach",
    "surveys.api",
    "surveys.management",
    "surveys.migrations",
)
BASE = {
    "scoring",
    "surveys.schedule",
    "surveys.instrumentation",
    "surveys.models",
    "surveys.security",
}
MAY_IMPORT: dict[str, set[str]] = {
    "scoring": set(),
    "surveys.schedule": set(),
    "surveys.security": set(),  # request hygiene: Django, DRF and django-filter only
    "surveys.instrumentation": {"scoring"},
    "surveys.models": {"scoring", "surveys.schedule"},
    "surveys.trial": BASE,
    "surveys.accounts": BASE,
    "surveys.jobs": BASE | {"ecogprom"},
    "surveys.tablet": BASE | {"surveys.trial", "surveys.accounts"},
    # Home links and phone mode open the tablet's kiosk sessions in another mode.
    "surveys.home": BASE | {"surveys.trial", "surveys.accounts", "surveys.tablet"},
    # Contact details, reminders, delivery: the home link of the form comes from surveys.home.
    "surveys.outreach": BASE | {"surveys.trial", "surveys.accounts", "surveys.home"},
    # The coordinator corrects answers with the tablet's answers service, issues home links
    # and records calls with the home services; her page shows the contact summary and the
    # reminders sent (outreach).
    "surveys.coordinator": BASE
    | {"surveys.trial", "surveys.accounts", "surveys.tablet", "surveys.home"}
    | {"surveys.outreach"},
    "surveys.statistician": BASE | {"surveys.trial", "surveys.accounts", "surveys.jobs"},
    "surveys.api": BASE
    | {"surveys.trial", "surveys.accounts", "surveys.tablet", "surveys.coordinator"}
    | {"surveys.statistician", "surveys.jobs"},
    "surveys.tasks": BASE
    | {"surveys.trial", "surveys.coordinator", "surveys.statistician"}
    | {"surveys.jobs", "surveys.outreach"},
    # The admin revokes API tokens with the accounts' service.
    "surveys.admin": BASE | {"surveys.trial", "surveys.accounts"},
    # The demo plays its trial through the services and saves the paper's analysis preset.
    "surveys.demo": BASE
    | {"surveys.trial", "surveys.accounts", "surveys.tablet", "surveys.statistician"}
    | {"surveys.home", "surveys.outreach"},
    "surveys.management": BASE
    | {"surveys.trial", "surveys.jobs", "surveys.demo", "surveys.statistician", "surveys.accounts"},
    "surveys.migrations": BASE,
    "surveys.apps": {"surveys.accounts"},  # connects the login signal receivers
    "surveys": set(),
    # the home view; the outbox email backend is named in settings (a string, no import)
    "ecogprom": {"surveys.accounts"},
}


def room_of(module: str) -> str:
    for room in ROOMS:
        if module == room or module.startswith(room + "."):
            return room
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "surveys" else parts[0]


def test_each_room_imports_only_what_the_architecture_allows():
    graph = import_graph(ROOT, PACKAGES)
    broken = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if room_of(target) != room_of(module) and room_of(target) not in MAY_IMPORT[room_of(module)]
    )
    assert broken == []
