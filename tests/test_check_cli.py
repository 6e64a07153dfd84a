"""``semaudit check``: exit codes for every path, config precedence, JSON, JUnit, annotations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from factories import make_audit

from semaudit.cli import main
from semaudit.gate import list_rules

NAMES = ["bag", "coat", "dress", "shirt"]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """Run ``semaudit ARGS`` in-process from a clean repository folder; ``(code, out, err)``."""
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for var in os.environ:
        if var.startswith("SEMAUDIT_"):
            monkeypatch.delenv(var)

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def audit(tmp_path: Path) -> Path:
    """Counts 120/60/30/12: count ratio 10, no failing class below 12 images."""
    return make_audit(tmp_path / "audit", counts=[120, 60, 30, 12], names=NAMES)


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    """The previous version: dress had 90 images, since cut to 30."""
    return make_audit(tmp_path / "baseline", counts=[120, 60, 90, 12], names=NAMES)


def one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    for needle in needles:
        assert needle in flat, flat


# ----------------------------------------------------------------------- exit codes


def test_pass_exits_0(cli: Run, audit: Path) -> None:
    code, out, err = cli("check", audit, "--max-count-ratio", "10", "--min-images-per-class", "12")
    assert code == 0, err
    assert "PASS" in out and "FAIL" not in out


def test_fail_exits_1_and_names_rule_and_class(cli: Run, audit: Path) -> None:
    code, out, _ = cli("check", audit, "--max-count-ratio", "10", "--min-images-per-class", "20")
    assert code == 1
    failing = [line for line in out.splitlines() if "FAIL" in line and "shirt" in line]
    assert failing and "min_images_per_class" in failing[0]


def test_warnings_exit_0(cli: Run, audit: Path) -> None:
    (Path.cwd() / "semaudit.toml").write_text("[check]\nmax_count_ratio = {warn = 5, fail = 20}\n")
    code, out, _ = cli("check", audit)
    assert code == 0 and "WARN" in out


def test_warn_only_turns_fail_into_warn(cli: Run, audit: Path) -> None:
    code, out, _ = cli("check", audit, "--max-count-ratio", "2", "--warn-only", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "WARN" and doc["warn_only"] and doc["results"][0]["demoted"]


@pytest.mark.parametrize(
    "args",
    [
        ["check"],  # AUDIT missing
        ["check", "{audit}", "--max-cont-ratio", "3"],  # unknown option
        ["check", "{audit}", "--min-saturation", "high"],  # not a number
        ["check", "{audit}", "--min-images-per-class", "2.5"],  # not an integer
    ],
)
def test_usage_errors_exit_2(cli: Run, audit: Path, args: list[str]) -> None:
    code, _, err = cli(*[a.format(audit=audit) for a in args])
    assert code == 2, err
    assert "Traceback" not in err


def test_flag_out_of_bounds_exits_2_naming_the_flag(cli: Run, audit: Path) -> None:
    code, _, err = cli("check", audit, "--min-saturation", "1.5")
    assert code == 2
    one_line_error(err, "--min-saturation must be in [0.0, 1.0]", "1.5")


def test_missing_audit_exits_3(cli: Run, tmp_path: Path) -> None:
    code, _, err = cli("check", tmp_path / "nope", "--max-count-ratio", "3")
    assert code == 3
    one_line_error(err, "no audit directory at", "semaudit scan")


def test_corrupt_audit_exits_3(cli: Run, audit: Path) -> None:
    (audit / "summary.json").write_text("{not json")
    code, _, err = cli("check", audit, "--max-count-ratio", "3")
    assert code == 3
    one_line_error(err, "summary.json is not valid JSON")


def test_missing_baseline_exits_3(cli: Run, audit: Path, tmp_path: Path) -> None:
    code, _, err = cli("check", audit, "--baseline", tmp_path / "old", "--max-scale-drop", "0.1")
    assert code == 3
    one_line_error(err, "no audit directory at", "old")


def test_incompatible_baseline_exits_3_naming_both_backbones(
    cli: Run, audit: Path, tmp_path: Path
) -> None:
    other = make_audit(tmp_path / "clip", counts=[120, 60, 30, 12], names=NAMES,
                       backbone="openclip:ViT-B-32/laion2b_s34b_b79k")  # fmt: skip
    code, _, err = cli("check", audit, "--baseline", other, "--max-scale-drop", "0.1")
    assert code == 3
    one_line_error(err, "cannot compare", "openclip:ViT-B-32/laion2b_s34b_b79k",
                   "efficientnet-lite0")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[check]\nmax_count_ratoi = 3\n",
         ["unknown key 'check.max_count_ratoi' in", "semaudit.toml", "did you mean"]),
        ('[check.classes."some class"]\nmin_saturaton = 0.5\n',
         ["""unknown key 'check.classes."some class".min_saturaton'"""]),
        ("[check]\nmax_count_ratio = = 3\n", ["is not valid TOML", "line 2"]),
        ("[check]\nmax_count_ratio = 'ten'\n", ["check.max_count_ratio in", "must be a number"]),
        ("[check.classes.bag]\nmax_count_ratio = 3\n", ["dataset-wide rule"]),
        ("[scan]\nseed = 1\n", ["no check rules configured", "has no [check] rules"]),
    ],
)  # fmt: skip
def test_config_errors_exit_3(cli: Run, audit: Path, text: str, needles: list[str]) -> None:
    (Path.cwd() / "semaudit.toml").write_text(text)
    code, _, err = cli("check", audit)
    assert code == 3, err
    one_line_error(err, *needles)


def test_no_rules_at_all_exits_3_with_the_fix(cli: Run, audit: Path) -> None:
    code, _, err = cli("check", audit)
    assert code == 3
    one_line_error(err, "no check rules configured", "--suggest")


def test_missing_config_file_exits_3(cli: Run, audit: Path, tmp_path: Path) -> None:
    code, _, err = cli("check", audit, "--config", tmp_path / "nope.toml")
    assert code == 3
    one_line_error(err, "nope.toml does not exist")


def test_misspelt_env_var_exits_3(cli: Run, audit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMAUDIT_CHECK_MAX_CONT_RATIO", "3")
    code, _, err = cli("check", audit, "--max-count-ratio", "30")
    assert code == 3
    one_line_error(err, "SEMAUDIT_CHECK_MAX_CONT_RATIO", "SEMAUDIT_CHECK_MAX_COUNT_RATIO")


def test_unwritable_junit_path_exits_3(cli: Run, audit: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = cli("check", audit, "--max-count-ratio", "30", "--junit", blocker / "x.xml")
    assert code == 3
    one_line_error(err, "cannot write the JUnit report")


def test_internal_error_exits_4(cli: Run, audit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from semaudit import gate

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(gate, "evaluate", broken)
    code, _, err = cli("check", audit, "--max-count-ratio", "30")
    assert code == 4
    assert "Traceback" in err and "internal error" in err


# ----------------------------------------------------------------------- configuration


def test_config_found_from_cwd_with_per_class_overrides(cli: Run, audit: Path) -> None:
    (Path.cwd() / "semaudit.toml").write_text(
        "[check]\nmin_images_per_class = {warn = 40, fail = 20}\n"
        "[check.classes.shirt]\nmin_images_per_class = 10\n"
        '[check.classes."dress"]\nmin_images_per_class = false\n'
    )
    code, out, err = cli("check", audit, "--json")
    assert code == 0, err
    assert "semaudit.toml" in err
    doc = json.loads(out)
    status = {r["class"]: r["status"] for r in doc["results"]}
    assert status == {"bag": "PASS", "coat": "PASS", "dress": "SKIP", "shirt": "PASS"}
    assert doc["config"].endswith("semaudit.toml")


def test_pyproject_tool_semaudit_check(cli: Run, audit: Path) -> None:
    (Path.cwd() / "pyproject.toml").write_text("[tool.semaudit.check]\nmax_count_ratio = 5\n")
    code, out, _ = cli("check", audit)
    assert code == 1 and "max_count_ratio" in out
    (Path.cwd() / "pyproject.toml").write_text("[tool.semaudit.check]\nmax_count_ratoi = 5\n")
    code, _, err = cli("check", audit)
    assert code == 3
    one_line_error(err, "unknown key 'tool.semaudit.check.max_count_ratoi'")


def test_explicit_config_wins_over_the_project_file(cli: Run, audit: Path, tmp_path: Path) -> None:
    (Path.cwd() / "semaudit.toml").write_text("[check]\nmax_count_ratio = 5\n")
    explicit = tmp_path / "ci.toml"
    explicit.write_text("[check]\nmax_count_ratio = 50\n")
    assert cli("check", audit)[0] == 1
    assert cli("check", audit, "--config", explicit)[0] == 0


def test_precedence_flag_over_env_over_file(
    cli: Run, audit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path.cwd() / "semaudit.toml").write_text("[check]\nmax_count_ratio = 50\n")
    assert cli("check", audit)[0] == 0
    monkeypatch.setenv("SEMAUDIT_CHECK_MAX_COUNT_RATIO", "5")
    assert cli("check", audit)[0] == 1
    code, out, _ = cli("check", audit, "--max-count-ratio", "50", "--json")
    assert code == 0
    result = json.loads(out)["results"][0]
    assert result["source"] == (
        "semaudit.toml < SEMAUDIT_CHECK_MAX_COUNT_RATIO < --max-count-ratio"
    )
    monkeypatch.setenv("SEMAUDIT_CHECK_MAX_COUNT_RATIO", "{warn = 2, fail = 50}")
    code, out, _ = cli("check", audit, "--json")
    assert code == 0 and json.loads(out)["status"] == "WARN"
    monkeypatch.setenv("SEMAUDIT_CHECK_WARN_ONLY", "true")
    monkeypatch.setenv("SEMAUDIT_CHECK_MAX_COUNT_RATIO", "2")
    assert cli("check", audit)[0] == 0


def test_suggested_config_passes_the_audit(cli: Run, audit: Path) -> None:
    code, out, _ = cli("check", audit, "--suggest")
    assert code == 0
    assert set(tomllib.loads(out)["check"]) >= {"max_count_ratio", "min_saturation"}
    (Path.cwd() / "semaudit.toml").write_text(out)
    code, out, err = cli("check", audit, "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["WARN"] == 0


def test_list_rules(cli: Run) -> None:
    code, out, _ = cli("check", "--list-rules")
    assert code == 0 and "max_scale_drop" in out and "min_probe_accuracy" in out


# ----------------------------------------------------------------------- outputs


def test_json_is_the_only_thing_on_stdout(cli: Run, audit: Path, baseline: Path) -> None:
    code, out, _ = cli("check", audit, "--baseline", baseline, "--max-scale-drop", "0.05",
                       "--max-count-drop", "0.5", "--json")  # fmt: skip
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["status"] == "FAIL"
    failed = {(r["rule"], r["class"]) for r in doc["results"] if r["status"] == "FAIL"}
    assert failed == {("max_scale_drop", "dress"), ("max_count_drop", "dress")}


def test_baseline_rules_without_baseline_are_reported_skipped(cli: Run, audit: Path) -> None:
    code, out, _ = cli("check", audit, "--max-scale-drop", "0.1", "--max-count-ratio", "30")
    assert code == 0
    assert "SKIP" in out and "no baseline" in " ".join(out.split())
    assert "1 skipped" in out


def test_junit_file(cli: Run, audit: Path, baseline: Path, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "semaudit.xml"
    code, _, _ = cli("check", audit, "--baseline", baseline, "--max-scale-drop", "0.05",
                     "--min-images-per-class", "10", "--junit", report)  # fmt: skip
    assert code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 8  # two class rules × four classes
    failures = [(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None]
    assert failures == [("semaudit.max_scale_drop", "dress")]


def test_github_annotations(
    cli: Run, audit: Path, baseline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("SEMAUDIT_CHECK_MIN_PROBE_ACCURACY", "{warn = 0.99, fail = 0.1}")
    args = ("check", audit, "--baseline", baseline, "--max-scale-drop", "0.05")
    code, out, _ = cli(*args)
    assert code == 1
    lines = out.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert errors == [
        "::error title=semaudit check FAIL%3A max_scale_drop [dress]::class 'dress': scale drop "
        + errors[0].split("scale drop ", 1)[1]
    ]
    assert "(27" in errors[0] and "bits)" in errors[0]
    assert len([line for line in lines if line.startswith("::warning ")]) == len(NAMES)
    code, out, err = cli(*args, "--json")
    json.loads(out)  # annotations moved to stderr: stdout stays one JSON document
    assert any(line.startswith("::error ") for line in err.splitlines())
    code, out, _ = cli("check", audit, "--max-scale-drop", "0.05")
    assert code == 0
    assert any(line.startswith("::notice title=semaudit check SKIP%3A max_scale_drop::no baseline")
               for line in out.splitlines())  # fmt: skip


def test_verbose_lists_every_passing_class(cli: Run, audit: Path) -> None:
    _, out, _ = cli("check", audit, "--min-images-per-class", "1")
    assert "all 4 classes" in out
    _, out, _ = cli("check", audit, "--min-images-per-class", "1", "-v")
    assert all(name in out for name in NAMES)


def test_real_subprocess_exit_codes(audit: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEMAUDIT_", "GITHUB_"))}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "semaudit", *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip

    assert run("check", audit, "--max-count-ratio", "30").returncode == 0
    assert run("check", audit, "--max-count-ratio", "3").returncode == 1
    assert run("check", audit, "--max-count-ratio", "x").returncode == 2
    assert run("check", tmp_path / "none", "--max-count-ratio", "3").returncode == 3
    result = run("compare", audit, audit, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["kind"] == "semaudit-compare"


# ----------------------------------------------------------------------- nothing checked


@pytest.fixture(scope="module")
def one_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-class audit: 30 Fashion-MNIST pullovers scanned with the pixels backbone."""
    from fmnist import write_image_folder

    import semaudit

    root = tmp_path_factory.mktemp("one-class")
    data = write_image_folder(root / "data", {2: 30}, seed=1)
    semaudit.scan(data, out=root / "audit", backbone="pixels")
    return root / "audit"


def test_one_class_gate_checks_nothing_and_exits_3(one_class: Path, tmp_path: Path) -> None:
    from cli_support import assert_one_line_error, semaudit_cli

    (tmp_path / ".git").mkdir()
    result = semaudit_cli("check", str(one_class), "--max-scale-ratio", "3", cwd=tmp_path,
                          env={"GITHUB_ACTIONS": "false"})  # fmt: skip
    assert_one_line_error(result, 3, "every configured rule was skipped", "nothing was checked",
                          "fewer than two eligible classes", "--allow-skipped")  # fmt: skip
    row = next(line for line in result.stdout.splitlines() if "max_scale_ratio" in line)
    assert row.split("│")[3:6] == [" n/a   ", " n/a   ", " SKIP   "], row
    assert "SKIP: 0 failed, 0 warned, 0 passed, 1 skipped" in result.stdout
    assert "PASS" not in result.stdout


def test_one_class_gate_passes_only_when_skips_are_allowed(
    cli: Run, one_class: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli("check", one_class, "--max-scale-ratio", "3", "--json")
    assert code == 3 and "every configured rule was skipped" in err
    doc = json.loads(out)  # the outputs are still written, for CI artifacts
    assert (doc["status"], doc["passed"], doc["evaluated"]) == ("SKIP", False, 0)
    code, out, _ = cli("check", one_class, "--max-scale-ratio", "3", "--allow-skipped")
    assert code == 0 and "nothing was checked; allowed by --allow-skipped" in out
    (Path.cwd() / "semaudit.toml").write_text(
        "[check]\nmax_scale_ratio = 3\nallow_skipped = true\n"
    )
    assert cli("check", one_class)[0] == 0
    (Path.cwd() / "semaudit.toml").write_text("[check]\nmax_scale_ratio = 3\n")
    assert cli("check", one_class)[0] == 3
    monkeypatch.setenv("SEMAUDIT_CHECK_ALLOW_SKIPPED", "1")
    assert cli("check", one_class)[0] == 0


def test_one_class_gate_with_an_evaluated_rule_passes(
    cli: Run, one_class: Path, tmp_path: Path
) -> None:
    report = tmp_path / "gate.xml"
    code, out, _ = cli("check", one_class, "--max-scale-ratio", "3", "--min-images-per-class", "20",
                       "--junit", report)  # fmt: skip
    assert code == 0 and "PASS: 0 failed, 0 warned, 1 passed, 1 skipped" in out
    assert ET.parse(report).getroot().get("skipped") == "1"
    code, out, _ = cli("check", one_class, "--min-probe-accuracy", "0.5", "--allow-skipped",
                       "--json")  # fmt: skip
    (result,) = json.loads(out)["results"]
    assert code == 0 and result["message"] == (
        "probe not run: fewer than two eligible classes (n_eligible = 1)"
    )


# ----------------------------------------------------------------------- quiet, help


def test_quiet_prints_only_the_verdict(cli: Run, audit: Path) -> None:
    (Path.cwd() / "semaudit.toml").write_text("[check]\nmin_images_per_class = 20\n")
    code, out, err = cli("check", audit, "-q")
    assert code == 1
    others = len(list_rules()) - 1
    assert out.splitlines() == [
        f"FAIL: 1 failed, 0 warned, 3 passed, 0 skipped; {others} rules not configured "
        "(--list-rules)"
    ]
    assert err == ""  # not even the "thresholds: semaudit.toml" line
    code, _, err = cli("check", audit, "--quiet", "--verbose")
    assert code == 2
    one_line_error(err, "--quiet and --verbose")


def test_help_has_examples_and_readable_metavars(cli: Run) -> None:
    code, out, _ = cli("check", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "semaudit check [OPTIONS] AUDIT" in flat and "{audit}" not in flat
    assert "Examples" in flat and "semaudit check audit --suggest > semaudit.toml" in flat
    assert "OLD_AUDIT" in flat and "--allow-skipped" in flat


# ----------------------------------------------------------------------- options from the registry


def test_every_rule_has_its_option_from_the_registry(cli: Run) -> None:
    import typer

    from semaudit.cli._app import app

    command = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    options = {p.name: p for p in command.params}
    for rule in list_rules():
        option = options[rule.name]
        assert option.opts == [rule.flag]
        assert option.metavar == ("N" if rule.integer else "X")
        assert option.rich_help_panel.startswith("Rules")
        assert rule.description in option.help
    names = [p.name for p in command.params]
    rules = [r.name for r in list_rules()]
    assert names[names.index("json_output") + 1 :][: len(rules)] == rules  # help order kept


@pytest.fixture
def extra_rule(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A rule added to the registry and nowhere else: ``min_class_scale`` (bits per class)."""
    from semaudit.cli import check as check_cli
    from semaudit.gate import measures, rules
    from semaudit.gate import suggest as policy

    rule = rules.Rule("min_class_scale", "classes.csv scale", "min", "bits",
                      "Each class's semantic scale.", "class",
                      measure=measures.class_column("scale"), suggest=policy.fraction_floor,
                      label="scale")  # fmt: skip
    monkeypatch.setattr(rules, "_RULES", (*rules._RULES, rule))
    monkeypatch.setattr(rules, "_BY_NAME", {**rules._BY_NAME, rule.name: rule})
    monkeypatch.setattr(check_cli.check, "__signature__", check_cli.check.__signature__)
    check_cli._with_rule_options(check_cli.check)  # what importing the module does
    yield rule.name


def test_a_rule_added_to_the_registry_reaches_flag_env_config_and_docs(
    cli: Run, audit: Path, extra_rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semaudit import gate
    from semaudit.store import load_audit

    scales = load_audit(audit).classes.set_index("class")["scale"]
    narrowest, low = str(scales.idxmin()), float(scales.min())
    code, out, _ = cli("check", audit, "--min-class-scale", str(low + 0.01), "--json")
    assert code == 1
    failed = [(r["rule"], r["class"]) for r in json.loads(out)["results"] if r["status"] == "FAIL"]
    assert failed == [(extra_rule, narrowest)]
    assert cli("check", audit, "--min-class-scale", str(low))[0] == 0
    monkeypatch.setenv("SEMAUDIT_CHECK_MIN_CLASS_SCALE", str(low + 0.01))
    assert cli("check", audit)[0] == 1
    monkeypatch.delenv("SEMAUDIT_CHECK_MIN_CLASS_SCALE")
    (Path.cwd() / "semaudit.toml").write_text(
        f'[check]\nmin_class_scale = {low + 0.01}\n[check.classes."{narrowest}"]\n'
        "min_class_scale = false\n"
    )
    assert cli("check", audit)[0] == 0  # the narrow class is exempted
    assert "min_class_scale" in cli("check", "--list-rules")[1]
    assert "`--min-class-scale`" in gate.rules_markdown()
    code, out, _ = cli("check", audit, "--suggest")
    assert code == 0 and "min_class_scale = { warn = " in out
    code, out, _ = cli("check", "--help")
    assert "--min-class-scale" in out
