"""The shape of the code, read from its imports (``ast``, no import executed): one direction of dependencies.

- No import cycle between ``backoffice`` modules, counting imports inside functions (an import moved into a
  function to dodge a cycle is still an arrow pointing the wrong way).
- The work kernel (``backoffice.work``) imports no feature: features subscribe to its signals.
- Pure packages (the X12 codec, coding, deadlines, every ``rules.py``) reach no Flask, SQLAlchemy, Redis, RQ,
  models or database session, directly or through what they import.

docs/ARCHITECTURE.md draws the layers these tests hold.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "backoffice"

# What the kernel may import: the ground floor and the reference data work items point at.
KERNEL = "backoffice.work"
KERNEL_MAY_IMPORT = (
    "backoffice.work",
    "backoffice.accounts",
    "backoffice.orgs",
    "backoffice.patients",
    "backoffice.sessions",
    "backoffice.calendars",
    "backoffice.clock",
    "backoffice.db_types",
    "backoffice.errors",
    "backoffice.extensions",
    "backoffice.services_base",
    "backoffice.signals",
    "backoffice.tasks",
    "backoffice.audit",
    "backoffice.form_actions",
    "backoffice.forms",
    "backoffice.inputs",
)
IMPURE_THIRD_PARTY = ("flask", "flask_sqlalchemy", "flask_login", "flask_wtf", "sqlalchemy", "redis", "rq", "prefect")
IMPURE_OURS = ("backoffice.extensions", "backoffice.services_base", "backoffice.tasks", "backoffice.db_types")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a backoffice module, or a third-party top-level name
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str) -> str:
    """The backoffice module ``name`` lands in (a name imported from a module is that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):  # never executed: annotations only
                for other in child.orelse:
                    yield from walk(other, in_function)
                continue
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield _import(module, alias.name, child.lineno, inside)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    origin = ".".join(base + ([child.module] if child.module else []))
                else:
                    origin = child.module or ""
                for alias in child.names:
                    full = f"{origin}.{alias.name}"
                    yield _import(module, full if full in MODULES else origin, child.lineno, inside)
            yield from walk(child, inside)

    yield from walk(ast.parse(path.read_text(), filename=str(path)), False)


def _import(source: str, name: str, line: int, in_function: bool) -> Import:
    target = _resolve(name) if name.startswith("backoffice") else name.partition(".")[0]
    return Import(source, target, line, in_function)


IMPORTS = [imp for module in MODULES for imp in _imports_of(module)]
GRAPH: dict[str, set[str]] = {module: set() for module in MODULES}
for _imp in IMPORTS:
    if _imp.target in MODULES and _imp.target != _imp.source:
        GRAPH[_imp.source].add(_imp.target)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
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
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _path_within(component: list[str]) -> str:
    """One concrete loop through a cycle, for the failure message."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    node = start
    while True:
        nxt = sorted(t for t in GRAPH[node] if t in members)
        back = [t for t in nxt if t == start]
        if back and len(path) > 1:
            return " -> ".join([*path, start])
        fresh = [t for t in nxt if t not in seen]
        if not fresh:
            return " -> ".join([*path, nxt[0]]) if nxt else start
        node = fresh[0]
        path.append(node)
        seen.add(node)


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_between_backoffice_modules_counting_imports_inside_functions() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(_path_within(c) for c in cycles)


# Where an import inside a function is allowed, and why (never to dodge a cycle): the package's lazy ``create_app``
# keeps pure modules free of Flask; the CLI imports each command's modules when it runs (instant --help, Prefect only
# after its environment is set).
LAZY_ENTRY_POINTS = {"backoffice": "lazy create_app", "backoffice.cli": "each command imports what it runs"}


def test_imports_inside_functions_are_only_in_the_lazy_entry_points() -> None:
    inside = sorted(
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if imp.in_function and imp.target.startswith("backoffice") and imp.source not in LAZY_ENTRY_POINTS
    )
    assert not inside, "import at module level (an arrow that needs hiding points the wrong way):\n" + "\n".join(inside)


def test_the_work_kernel_imports_no_feature() -> None:
    wrong = sorted(
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if (imp.source == KERNEL or imp.source.startswith(KERNEL + "."))
        and imp.target.startswith("backoffice")
        and not any(imp.target == ok or imp.target.startswith(ok + ".") for ok in KERNEL_MAY_IMPORT)
    )
    assert not wrong, "the kernel sends a signal instead (backoffice/signals.py):\n" + "\n".join(wrong)


def _pure(module: str) -> bool:
    last = module.rpartition(".")[2]
    return (
        last == "rules"
        or module.startswith(("backoffice.x12", "backoffice.coding", "backoffice.deadlines"))
        or module in ("backoffice.calendars", "backoffice.clock", "backoffice.signals", "backoffice.inputs")
    )


def _impure_reach(module: str) -> list[str]:
    """What ``module`` reaches, directly or through backoffice modules, that is not pure: a chain per finding."""
    problems, seen, todo = [], {module}, [(module, [module])]
    while todo:
        current, chain = todo.pop()
        for imp in (i for i in IMPORTS if i.source == current):
            target = imp.target
            if target in IMPURE_THIRD_PARTY or target in IMPURE_OURS or target.endswith(".models"):
                problems.append(" -> ".join([*chain, target]))
            elif target in MODULES and target not in seen:
                seen.add(target)
                todo.append((target, [*chain, target]))
    return sorted(problems)


PURE = sorted(module for module in MODULES if _pure(module))


def test_the_pure_packages_are_the_ones_the_house_rules_name() -> None:
    named = {"backoffice.x12.reader", "backoffice.x12.era835", "backoffice.x12.claim837", "backoffice.work.rules",
             "backoffice.coding.icd10", "backoffice.deadlines.rules", "backoffice.scrubber.rules"}  # fmt: skip
    assert named <= set(PURE)


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_reaches_no_framework_database_or_queue(module: str) -> None:
    problems = _impure_reach(module)
    assert not problems, f"{module} must stay pure:\n" + "\n".join(problems)
