"""The import rule of docs/architecture.md, read from the source: each package imports only
the packages listed for it, and no semaudit module imports itself through a cycle. The core
never imports training code or the CLI.

Every import counts: absolute and relative (``from ..train.loop import fit`` is resolved against
the module's package), at module level or inside a function, and a literal module path in a
string (``importlib.import_module("semaudit.stats.scale")``, the root's ``_LAZY`` table,
``f"semaudit.train.{name}"``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "semaudit"
_LEAVES = {"errors", "values", "checksum", "config"}
_HEAVY = {"backbones", "distributed", "runtime"}  # torch, imported lazily
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "values": set(),
    "checksum": set(),
    "config": {"errors"},
    "stats": {"errors", "values"},
    "data": {"errors", "values", "checksum"},
    "store": {"errors", "values", "checksum", "stats"},  # stats.defaults: the method's defaults
    "backbones": {"errors", "checksum"},
    "distributed": {"errors"},
    "runtime": {"errors"},
    "wording": {"errors", "values", "stats", "store"},  # the words of stats' records
    "scanner": _LEAVES | _HEAVY | {"stats", "data", "store", "wording"},
    "compare": {"errors", "values", "store"},
    "gate": _LEAVES | {"stats", "store", "compare"},
    "report": {"errors", "values", "stats", "data", "store", "gate", "compare", "wording"},
    "train": _LEAVES | _HEAVY | {"stats", "data", "store", "scanner"},
    "cli": set(),  # the entry point may import anything (checked below: nothing imports it)
    "__main__": {"cli"},
    "__init__": {"scanner", "stats", "store"},
}
_MODULE_PATH = re.compile(r"semaudit(\.[A-Za-z_]\w*)*\.?")


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``semaudit/scanner/run.py`` → ``semaudit.scanner.run``; a package's ``__init__`` → the
    package."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names, relative ones resolved like Python does."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 >= len(base):
        return ""  # above the top-level package: not a semaudit module (Python refuses it)
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _literal_paths(node: ast.AST) -> Iterator[str]:
    """Module paths written as strings: a whole constant, or the literal head of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]
        text = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
        if _MODULE_PATH.fullmatch(text):
            yield text.rstrip(".")
        return
    else:
        return
    if _MODULE_PATH.fullmatch(text) and not text.endswith("."):
        yield text


def known_modules(*packages: Path) -> set[str]:
    return {module_name(p, package) for package in packages for p in package.rglob("*.py")}


def imports_of(
    source: str, module: str, is_package: bool = False, known: set[str] | None = None
) -> list[tuple[int, str, str]]:
    """``(line, imported module, name)`` for every semaudit import in ``source`` (the module
    ``module``); ``name`` is what a ``from`` import takes ("" otherwise, and for strings). A
    string counts when it names one of the ``known`` modules (default: semaudit's own)."""
    known = known_modules(PACKAGE) if known is None else known
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            found += [(node.lineno, target, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, "") for a in node.names]
        else:
            line = getattr(node, "lineno", 0)
            texts = [t for t in _literal_paths(node) if t in known]
            # its own package by name (``resources.files("semaudit.report")``) is data, not code
            found += [(line, t, "") for t in texts if not module.startswith(t + ".")]
    return sorted(f for f in found if f[1] == "semaudit" or f[1].startswith("semaudit."))


def _unit_of(target: str, name: str) -> str | None:
    """The layer unit an import reaches; None for ``from semaudit import __version__``."""
    parts = target.split(".")
    if len(parts) > 1:
        return parts[1]
    return None if name in ("", "__version__") else name  # ``from semaudit import stats``


def violations(source: str, path: Path, package: Path = PACKAGE) -> list[str]:
    """The imports of one source file that break the layer table, as messages."""
    rel = path.relative_to(package)
    unit = rel.with_suffix("").parts[0]
    if unit == "cli":
        return []
    module = module_name(path, package)
    known = known_modules(PACKAGE, package)
    found = []
    for line, target, name in imports_of(source, module, path.name == "__init__.py", known):
        reached = _unit_of(target, name)
        if reached is None or reached == unit or reached in ALLOWED.get(unit, set()):
            continue
        found.append(
            f"{rel}:{line} imports {target}{'.' + name if name else ''} (unit {reached}); "
            f"{unit} may import only {sorted(ALLOWED.get(unit, set()))} (docs/architecture.md)"
        )
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    unit = path.relative_to(PACKAGE).with_suffix("").parts[0]
    assert unit in ALLOWED, f"{unit} is not in the layer table of docs/architecture.md"
    assert violations(path.read_text(encoding="utf-8"), path) == []


def test_the_rule_can_fail(tmp_path: Path) -> None:
    """The checker sees forbidden edges, however they are written: absolute, relative, lazy,
    through ``importlib`` or an f-string."""
    stats = tmp_path / "semaudit" / "stats"
    stats.mkdir(parents=True)
    planted = stats / "planted.py"
    source = (
        "from semaudit.train.loop import fit\n"
        "import semaudit.cli\n"
        "from ..train.loop import fit\n"
        "from .. import scanner\n"
        "def later():\n"
        "    from ...semaudit.data import decode\n"  # beyond the top: not a semaudit module
        "    import importlib\n"
        "    return importlib.import_module('semaudit.scanner.run')\n"
        "TABLE = {'x': 'semaudit.gate.rules'}\n"
        "name = f'semaudit.report.{1}'\n"
        "prose = 'semaudit.gate is a package name, not an import'\n"
    )
    planted.write_text(source)
    found = violations(source, planted, tmp_path / "semaudit")
    lines = [int(m.split(":")[1].split()[0]) for m in found]
    assert lines == [1, 2, 3, 4, 8, 9, 10], found
    assert "semaudit.train.loop.fit" in found[2]  # the relative import, resolved


def test_relative_imports_resolve_against_the_package() -> None:
    source = "from . import io\nfrom .io import write_json\nfrom ..stats import defaults\n"
    expected = ["semaudit.store", "semaudit.store.io", "semaudit.stats"]
    assert [t for _, t, _ in imports_of(source, "semaudit.store", is_package=True)] == expected
    assert [t for _, t, _ in imports_of(source, "semaudit.store.audit")] == expected
    top = imports_of("from . import errors\nfrom .stats import scale\n", "semaudit.config")
    assert [(t, n) for _, t, n in top] == [("semaudit", "errors"), ("semaudit.stats", "scale")]


def test_every_unit_in_the_table_exists() -> None:
    units = {p.relative_to(PACKAGE).with_suffix("").parts[0] for p in SOURCES}
    assert set(ALLOWED) - {"train", "distributed"} <= units


# -- import cycles -------------------------------------------------------------------------


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the semaudit modules it imports (``from a import b`` reaches ``a.b`` when that
    is a module, else ``a``). ``from semaudit import __version__`` is not an edge: the root
    defines it before anything else and imports nothing at import time."""
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(p, package): p for p in paths}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        for _, target, name in imports_of(source, module, is_package, set(modules)):
            if target == "semaudit" and name in ("", "__version__"):
                continue
            named = f"{target}.{name}" if f"{target}.{name}" in modules else target
            reached = _longest_known(named, modules)
            if reached is not None and reached != module:
                graph[module].add(reached)
    return graph


def _longest_known(target: str, modules: Iterable[str]) -> str | None:
    known = set(modules)
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_no_import_cycles() -> None:
    assert find_cycles(import_graph()) == []


def test_the_cycle_check_can_fail(tmp_path: Path) -> None:
    """A cycle hidden in a lazy import, and one through a relative import, are both found."""
    pkg = tmp_path / "semaudit"
    (pkg / "gate").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '0'\n")
    (pkg / "gate" / "__init__.py").write_text("")
    (pkg / "gate" / "rules.py").write_text("def f():\n    from .thresholds import T\n")
    (pkg / "gate" / "thresholds.py").write_text("from semaudit.gate.rules import f\nT = 1\n")
    (pkg / "leaf.py").write_text("from semaudit import __version__\n")
    assert find_cycles(import_graph(pkg)) == [["semaudit.gate.rules", "semaudit.gate.thresholds"]]


# -- citations ------------------------------------------------------------------------------

_MISSING_DOCS = re.compile(r"\bDESIGN\b|STYLE\.md")


def test_no_citation_of_documents_the_repository_does_not_hold() -> None:
    """Comments and docstrings cite docs/method.md, docs/decisions.md, docs/architecture.md:
    the repository has no DESIGN document and no style guide file."""
    cited = []
    for path in [*SOURCES, *sorted((ROOT / "tests").rglob("*.py"))]:
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _MISSING_DOCS.search(line):
                cited.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert cited == []


# -- short functions ------------------------------------------------------------------------

MAX_FUNCTION_LINES = 60
_SHORT = ("scanner", "cli", "train")
_LONG_ALLOWED: set[str] = set()


def test_functions_of_the_scan_and_the_cli_are_short() -> None:
    """House style: a function fits on a screen (signature, docstring and body)."""
    long = []
    for path in SOURCES:
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.split("/")[0] not in _SHORT or rel in _LONG_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name}: {lines} lines")
    assert long == []


# -- audit file names -----------------------------------------------------------------------

_FILE_NAMES = {"audit.json", "summary.json", "weights.json", "classes.csv", "curves.csv",
               "skipped.csv", "embeddings", "index.parquet"}  # fmt: skip
_NAMED_ELSEWHERE = {"store/schema.py"}  # the constants themselves
_NAMES_OWN_FILES = ("train/",)  # run directories: their own files, not the audit's


def test_audit_file_names_come_from_the_schema() -> None:
    """docs/architecture.md: code names the audit's files through ``store/schema.py``'s
    constants (``AUDIT_JSON``, …), never by a string literal of its own."""
    found = []
    for path in SOURCES:
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in _NAMED_ELSEWHERE or rel.startswith(_NAMES_OWN_FILES):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in _FILE_NAMES:
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert found == []
