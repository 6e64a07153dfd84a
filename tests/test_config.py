"""Config discovery, TOML errors, sections, environment overrides and unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from semaudit.config import (
    check_keys,
    env_overrides,
    find_project_config,
    load_config_file,
    load_section,
    parse_value,
    section_prefix,
)
from semaudit.errors import ConfigError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root: the config walk stops here."""
    (tmp_path / ".git").mkdir()
    return tmp_path


def test_semaudit_toml_is_found_from_a_subfolder(repo: Path) -> None:
    (repo / "semaudit.toml").write_text("[check]\nmax_count_ratio = 10\n")
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    path, table = find_project_config(deep) or (None, None)
    assert path == (repo / "semaudit.toml").resolve()
    assert table == {"check": {"max_count_ratio": 10}}


def test_pyproject_needs_a_tool_semaudit_table(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.semaudit.check]\nmin_saturation = 0.5\n")
    sub = repo / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no [tool.semaudit]: skipped
    path, table = find_project_config(sub) or (None, None)
    assert path == (repo / "pyproject.toml").resolve()
    assert table == {"check": {"min_saturation": 0.5}}


def test_semaudit_toml_wins_over_pyproject_in_one_folder(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.semaudit.check]\nmin_saturation = 0.5\n")
    (repo / "semaudit.toml").write_text("[check]\nmin_saturation = 0.7\n")
    found = find_project_config(repo)
    assert found is not None and found[0].name == "semaudit.toml"


def test_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "semaudit.toml").write_text("[check]\nmax_count_ratio = 10\n")
    inner = tmp_path / "checkout"
    (inner / ".git").mkdir(parents=True)
    assert find_project_config(inner) is None
    assert load_section("check", start=inner) == ({}, None)


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "semaudit.toml"
    path.write_text("[check]\nmax_count_ratio = 10\nmin_saturation = = 0.5\n")
    with pytest.raises(ConfigError, match=r"semaudit\.toml is not valid TOML.*line 3"):
        load_config_file(path)


@pytest.mark.parametrize(
    ("name", "text", "prefix"),
    [
        ("semaudit.toml", "[check]\nmax_count_ratio = 3\n", "check"),
        ("custom.toml", "[check]\nmax_count_ratio = 3\n", "check"),
        ("pyproject.toml", "[tool.semaudit.check]\nmax_count_ratio = 3\n", "tool.semaudit.check"),
    ],
)
def test_explicit_file_section(tmp_path: Path, name: str, text: str, prefix: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    table, source = load_section("check", path)
    assert table == {"max_count_ratio": 3}
    assert source == path
    assert section_prefix("check", source) == prefix


def test_explicit_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_section("check", tmp_path / "missing.toml")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.semaudit\] table"):
        load_section("check", tmp_path / "pyproject.toml")
    (tmp_path / "bad.toml").write_text("check = 3\n")
    with pytest.raises(ConfigError, match=r"check in .*bad\.toml must be a table"):
        load_section("check", tmp_path / "bad.toml")


def test_file_without_the_section_gives_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "semaudit.toml"
    path.write_text("[scan]\nseed = 1\n")
    assert load_section("check", path) == ({}, path)
    assert load_section("scan", path) == ({"seed": 1}, path)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("10", 10),
        ("0.5", 0.5),
        ("true", True),
        ("{warn = 1, fail = 2}", {"warn": 1, "fail": 2}),
        ("efficientnet-lite0", "efficientnet-lite0"),
        ("", ""),
    ],
)
def test_parse_value(raw: str, value: object) -> None:
    assert parse_value(raw) == value


def test_env_overrides_picks_known_keys_and_rejects_typos_when_strict() -> None:
    environ = {"SEMAUDIT_CHECK_MAX_COUNT_RATIO": "10", "SEMAUDIT_SCAN_SEED": "3", "HOME": "/x"}
    known = {"max_count_ratio", "min_saturation"}
    assert env_overrides("SEMAUDIT_CHECK_", known, environ=environ) == {"max_count_ratio": "10"}
    typo = {**environ, "SEMAUDIT_CHECK_MAX_COUNT_RATOI": "3"}
    assert env_overrides("SEMAUDIT_CHECK_", known, environ=typo) == {"max_count_ratio": "10"}
    with pytest.raises(ConfigError) as info:
        env_overrides("SEMAUDIT_CHECK_", known, environ=typo, strict=True)
    message = str(info.value)
    assert "SEMAUDIT_CHECK_MAX_COUNT_RATOI" in message
    assert "did you mean 'SEMAUDIT_CHECK_MAX_COUNT_RATIO'" in message


def test_env_overrides_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMAUDIT_SCAN_SEED", "7")
    assert env_overrides("SEMAUDIT_SCAN_", {"seed"}) == {"seed": "7"}


def test_check_keys_names_the_dotted_key_and_the_file(tmp_path: Path) -> None:
    source = tmp_path / "semaudit.toml"
    allowed = {"max_count_ratio": {"warn": None, "fail": None}, "classes": {"*": {"min_n"}}}
    check_keys({"max_count_ratio": {"warn": 1}}, allowed, "check", source=source)
    with pytest.raises(ConfigError) as info:
        check_keys({"max_count_ratoi": 3}, allowed, "check", source=source)
    message = str(info.value)
    assert message.startswith(f"unknown key 'check.max_count_ratoi' in {source}")
    assert "did you mean 'max_count_ratio'" in message
    assert "known: classes, max_count_ratio" in message
    with pytest.raises(ConfigError, match=r"'check\.max_count_ratio\.wran'"):
        check_keys({"max_count_ratio": {"wran": 1}}, allowed, "check")
    with pytest.raises(ConfigError, match=r"""'check\.classes\."some class"\.min'"""):
        check_keys({"classes": {"some class": {"min": 1}}}, allowed, "check")


def test_check_keys_accepts_a_plain_set() -> None:
    check_keys({"seed": 1}, {"seed", "alpha"}, "scan")
    with pytest.raises(ConfigError, match=r"unknown key 'scan\.sed'"):
        check_keys({"sed": 1}, {"seed", "alpha"}, "scan")
