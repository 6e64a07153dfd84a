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


CPU_TORCH = "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"


def _cpu_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## CPU-only machines", 1)[1].split("\n## ", 1)[0]


def test_readme_cpu_only_install_keeps_the_cpu_wheels() -> None:
    """The documented CPU build satisfies the package's torch pins, so `pip install -e .`
    keeps it instead of pulling the CUDA wheels back in."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    block = _cpu_section().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block == [CPU_TORCH, "pip install -e ."]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {r.name: r.specifier for r in map(Requirement, project["dependencies"])}
    assert Version("2.5.1+cpu") in pins["torch"] and Version("0.20.1+cpu") in pins["torchvision"]
    assert Version("2.0.0+cpu") not in pins["torch"]  # the check can fail: an old build


@pytest.mark.network
def test_readme_cpu_index_resolves_cpu_wheels(tmp_path: Path) -> None:
    """The CPU index serves +cpu builds of both packages (a dry run: nothing is installed)."""
    import subprocess
    import sys

    report = tmp_path / "report.json"
    args = CPU_TORCH.split()[2:]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--quiet", "--report", str(report), *args],
        check=True, timeout=600,
    )  # fmt: skip
    found = {i["metadata"]["name"]: i["metadata"]["version"]
             for i in json.loads(report.read_text())["install"]}  # fmt: skip
    assert found["torch"].endswith("+cpu") and found["torchvision"].endswith("+cpu")
