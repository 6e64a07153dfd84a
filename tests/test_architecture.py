"""The import rule of docs/architecture.md, read from the source: each package imports only
the packages listed for it. The core never imports training code or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "semaudit"
_LEAVES = {"errors", "values", "checksum", "config"}
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
    "scanner": _LEAVES | {"stats", "data", "store", "backbones", "distributed"},
    "compare": {"errors", "values", "store"},
    "gate": _LEAVES | {"stats", "store", "compare"},
    "report": {"errors", "values", "stats", "data", "store", "gate", "compare"},
    "train": _LEAVES | {"stats", "data", "store", "backbones", "distributed", "scanner"},
    "cli": set(),  # the entry point may import anything (checked below: nothing imports it)
    "__main__": {"cli"},
    "__init__": {"scanner", "stats", "store"},
}


def _unit(path: Path) -> str:
    """The package (or top-level module) a source file belongs to."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, semaudit unit imported, names)`` for every import of a semaudit module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [(node.module, [a.name for a in node.names])]
        elif isinstance(node, ast.Import):
            modules = [(a.name, []) for a in node.names]
        else:
            continue
        for module, names in modules:
            parts = module.split(".")
            if parts[0] != "semaudit":
                continue
            if len(parts) == 1:  # ``from semaudit import X``: the root, or a sub-package X
                found += [(node.lineno, n, []) for n in names if n != "__version__"]
            else:
                found.append((node.lineno, parts[1], names))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    unit = _unit(path)
    assert unit in ALLOWED, f"{unit} is not in the layer table of docs/architecture.md"
    if unit == "cli":
        return
    for line, target, _ in _imports(path):
        if target == unit:
            continue
        assert target in ALLOWED[unit], (
            f"{path.relative_to(PACKAGE)}:{line} imports semaudit.{target}; "
            f"{unit} may import only {sorted(ALLOWED[unit])} (docs/architecture.md)"
        )


def test_the_rule_can_fail(tmp_path: Path) -> None:
    """The checker sees a forbidden edge (the core importing training code)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from semaudit.train.loop import fit\nimport semaudit.cli\n")
    targets = [t for _, t, _ in _imports(bad)]
    assert targets == ["train", "cli"]
    assert "train" not in ALLOWED["scanner"] and "cli" not in ALLOWED["report"]


def test_every_unit_in_the_table_exists() -> None:
    units = {_unit(p) for p in SOURCES}
    assert set(ALLOWED) - {"train", "distributed"} <= units
