"""The README quickstart is what this test runs: demo, then check and compare on its audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import semaudit_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_quickstart(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && semaudit demo" in readme
    demo = semaudit_cli("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    audit = tmp_path / "semaudit-demo" / "audit"
    assert "434 images in 10 classes, 0 skipped" in demo.stdout
    assert (tmp_path / "semaudit-demo" / "report" / "report.html").is_file()
    assert f"semaudit check {audit.relative_to(tmp_path)} --suggest" in demo.stdout
    suggest = semaudit_cli("check", str(audit), "--suggest", cwd=tmp_path)
    assert suggest.returncode == 0, suggest.stderr
    (tmp_path / "semaudit.toml").write_text(suggest.stdout, encoding="utf-8")
    (tmp_path / ".git").mkdir()
    gate = semaudit_cli("check", str(audit), "--json", cwd=tmp_path)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert json.loads(gate.stdout)["status"] in ("PASS", "WARN")
    compare = semaudit_cli("compare", str(audit), str(audit), "--json", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
