"""The README quickstart is what this test runs: demo, then check and compare on its audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "semaudit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_readme_quickstart(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && semaudit demo" in readme
    demo = run("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    audit = tmp_path / "semaudit-demo" / "audit"
    assert "434 images in 10 classes, 0 skipped" in demo.stdout
    assert (tmp_path / "semaudit-demo" / "report" / "report.html").is_file()
    assert f"semaudit check {audit.relative_to(tmp_path)} --suggest" in demo.stdout
    suggest = run("check", str(audit), "--suggest", cwd=tmp_path)
    assert suggest.returncode == 0, suggest.stderr
    (tmp_path / "semaudit.toml").write_text(suggest.stdout, encoding="utf-8")
    (tmp_path / ".git").mkdir()
    gate = run("check", str(audit), "--json", cwd=tmp_path)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert json.loads(gate.stdout)["status"] in ("PASS", "WARN")
    compare = run("compare", str(audit), str(audit), "--json", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
