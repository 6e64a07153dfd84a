"""Fuzzing the readers of untrusted text: manifests, config files, audit directories, image bytes.

Each property is the same: anything malformed fails with a ``SemauditError`` (exit 3 through the
CLI), never with another exception (exit 4, a traceback). Example counts stay modest so the file
runs in seconds; hypothesis keeps its failures in ``.hypothesis/`` and replays them first.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from factories import make_audit
from hostile import animated_gif, cmyk_jpeg, exif_rotated_jpeg, jpeg_bytes, png_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semaudit.cli import main
from semaudit.cli._options import scan_config
from semaudit.data import ImageItem, load_image, read_manifest
from semaudit.errors import AuditError, InputError, SemauditError
from semaudit.scanner.config import ScanConfig
from semaudit.store import load_audit

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# No "[" in generated text: a Rich-markup class name is a known CLI bug with its own test.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="["), max_size=20)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)  # fmt: skip


# --- manifests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("manifest") / "root"
    for i in range(4):
        (root / "img").mkdir(parents=True, exist_ok=True)
        (root / "img" / f"{i}.png").write_bytes(png_bytes(i))
    (root.parent / "outside.png").write_bytes(png_bytes(9))
    return root


PATH_CELLS = st.sampled_from(["img/0.png", "img/1.png", "./img/2.png", "img/../img/3.png",
                              "../outside.png", "/etc/passwd", "img", "", "img/nope.png",
                              "img/0.png\x00", "~/x.png"]) | TEXT  # fmt: skip
HEADERS = st.sampled_from(["path,label", "path,label,split", "\ufeffpath,label", "label,path",
                           "path", "file,class", "path,label,path", ""])  # fmt: skip


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@FUZZ
@given(header=HEADERS, rows=st.lists(st.tuples(PATH_CELLS, st.sampled_from(["a", " b "]) | TEXT,
                                               TEXT), max_size=8),
       split=st.none() | st.sampled_from(["train", ""]))  # fmt: skip
def test_manifest_fuzz(
    image_root: Path, header: str, rows: list[tuple[str, str, str]], split: str | None
) -> None:
    width = len(header.split(","))
    lines = [header] + [",".join(_csv_cell(c) for c in row[:width]) for row in rows]
    manifest = image_root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        inventory = read_manifest(manifest, split=split)
    except InputError:
        return
    base = image_root.resolve()
    assert len({i.path for i in inventory.items}) == len(inventory.items)
    for item in inventory.items:
        assert isinstance(item, ImageItem) and item.abspath.is_file()
        assert item.abspath.resolve().is_relative_to(base)  # never outside without permission
        assert item.label and item.label == item.label.strip()
    assert all(isinstance(p, str) and reason for p, reason in inventory.skipped)
    if split is None and header.startswith("path,label"):
        assert len(inventory.items) + len(inventory.skipped) == len(rows)


@FUZZ
@given(raw=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".parquet", ".txt"]))
def test_manifest_bytes_fuzz(image_root: Path, raw: bytes, suffix: str) -> None:
    manifest = image_root / f"bytes{suffix}"
    manifest.write_bytes(raw)
    with contextlib.suppress(InputError):
        read_manifest(manifest)


# --- configuration files -------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return (
        "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    )


SCAN_KEYS = st.sampled_from(sorted(ScanConfig().to_dict())) | TEXT.filter(bool)
CHECK_KEYS = st.sampled_from(["max_count_ratio", "max_scale_ratio", "min_images_per_class",
                              "min_saturation", "max_scale_drop", "warn_only", "classes",
                              "max_skipped_fraction"]) | TEXT.filter(bool)  # fmt: skip
TOML_SCALARS = st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | TEXT
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT.filter(bool), inner, max_size=3)
    ),
    max_leaves=6,
)


def _write_toml(path: Path, tables: dict[str, dict[str, Any]]) -> None:
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@FUZZ
@given(scan=st.dictionaries(SCAN_KEYS, TOML_VALUES, max_size=4),
       check=st.dictionaries(CHECK_KEYS, TOML_VALUES, max_size=4))  # fmt: skip
def test_config_file_fuzz(tmp_path: Path, scan: dict[str, Any], check: dict[str, Any]) -> None:
    from semaudit.cli.check import load_thresholds

    path = tmp_path / "semaudit.toml"
    _write_toml(path, {"scan": scan, "check": check})
    try:
        config = scan_config({}, path)
    except SemauditError:
        pass
    else:
        assert isinstance(config, ScanConfig)
        assert set(scan) <= set(config.to_dict())  # an unknown key is never silently ignored
    with contextlib.suppress(SemauditError):
        load_thresholds(path, {})


@FUZZ
@given(raw=st.binary(max_size=120) | TEXT.map(str.encode))
def test_config_bytes_fuzz(tmp_path: Path, raw: bytes) -> None:
    from semaudit.cli.check import load_thresholds

    path = tmp_path / "semaudit.toml"
    path.write_bytes(raw)
    for load in (lambda: scan_config({}, path), lambda: load_thresholds(path, {})):
        with contextlib.suppress(SemauditError):
            load()


@FUZZ
@given(env=st.dictionaries(st.sampled_from(["BATCH_SIZE", "ALPHA", "NORMALIZE", "SEED", "DTYPE",
                                            "MATCHED_M", "WORKERS", "BACKBNE", "DRAWS"]),
                           TEXT, max_size=3))  # fmt: skip
def test_environment_fuzz(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("SEMAUDIT_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(f"SEMAUDIT_SCAN_{key}", value.replace("\x00", ""))
    try:
        scan_config({}, None)
    except SemauditError:
        pass
    else:
        assert "BACKBNE" not in env  # a misspelt variable is an error, not ignored


def test_malformed_config_file_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("[scan\n", "[scan]\nbatch_sise = 8\n", "[scan]\nbatch_size = 'x'\n"):
        (tmp_path / "c.toml").write_text(text)
        code = main(["scan", str(tmp_path), "--config", str(tmp_path / "c.toml")])
        err = capsys.readouterr().err
        assert code == 3 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_out_of_range_value_in_a_config_file_exits_3(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[scan]\nbatch_size = 0\n")
    assert main(["scan", str(tmp_path), "--config", str(tmp_path / "c.toml")]) == 3


@pytest.mark.parametrize(
    "key, value",
    [
        ("seed", -1),
        ("probe_max_per_class", -3),
        ("weights", "/no/such.pt"),
    ],
)
def test_accepted_settings_are_usable(key: str, value: Any) -> None:
    """A value the config layer accepts must be one the scan can use (else it must be refused)."""
    import numpy as np

    try:
        config = ScanConfig().overlay({key: value}, "test")
    except SemauditError as exc:
        assert key != "weights", exc  # a path is a valid weights value
        return
    assert key != "probe_max_per_class", "a negative sample size must be refused"
    np.random.default_rng(config.seed)


# --- audit directories ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_audit(tmp_path_factory.mktemp("fuzz") / "audit", n_classes=4)


def _fresh(pristine: Path, tmp_path: Path) -> Path:
    audit = tmp_path / "audit"
    if audit.exists():
        shutil.rmtree(audit)
    shutil.copytree(pristine, audit)
    return audit


def _set_at(doc: Any, path: list[str], value: Any) -> Any:
    """``doc`` with the field at ``path`` (followed while it exists) replaced by ``value``."""
    if not path or not isinstance(doc, dict) or path[0] not in doc:
        return value
    return {**doc, path[0]: _set_at(doc[path[0]], path[1:], value)}


def _check_cli(audit: Path, other: Path) -> None:
    """Every reader command: a clean outcome or exit 3, never a traceback."""
    try:
        load_audit(audit)
        loaded = True
    except AuditError:
        loaded = False
    check = main(
        ["check", str(audit), "--max-count-ratio", "100", "--min-saturation", "0.1", "--json"]
    )
    assert check in ((0, 1) if loaded else (3,)), check
    for args in (
        ["check", str(audit), "--baseline", str(other)],
        ["compare", str(other), str(audit)],
    ):
        assert main(args) in (0, 1, 3)


@FUZZ
@given(name=st.sampled_from(["audit.json", "summary.json", "weights.json"]),
       where=st.lists(st.sampled_from(["backbone", "settings", "id", "min_images", "count",
                                       "max_min_ratio", "recommendations", "rank_disagreement",
                                       "correlations", "probe_accuracy", "weights", "n_images",
                                       "matched_m", "schema_version", "source", "root"]),
                      max_size=3),
       value=JSON)  # fmt: skip
def test_audit_json_field_fuzz(
    pristine: Path, tmp_path: Path, name: str, where: list[str], value: Any
) -> None:
    audit = _fresh(pristine, tmp_path)
    doc = json.loads((audit / name).read_text())
    (audit / name).write_text(json.dumps(_set_at(doc, where, value)), encoding="utf-8")
    _check_cli(audit, pristine)


@FUZZ
@given(name=st.sampled_from(["audit.json", "summary.json", "weights.json", "classes.csv",
                             "curves.csv", "skipped.csv"]),
       raw=st.binary(max_size=80) | JSON.map(lambda v: json.dumps(v).encode()))  # fmt: skip
def test_audit_file_bytes_fuzz(pristine: Path, tmp_path: Path, name: str, raw: bytes) -> None:
    audit = _fresh(pristine, tmp_path)
    (audit / name).write_bytes(raw)
    _check_cli(audit, pristine)


@FUZZ
@given(
    name=st.sampled_from(["classes.csv", "curves.csv"]),
    row=st.integers(0, 5),
    column=st.integers(0, 12),
    cell=TEXT | st.sampled_from(["inf", "nan", "-1", "1e999", "2.5", ""]),
)
def test_audit_csv_cell_fuzz(
    pristine: Path, tmp_path: Path, name: str, row: int, column: int, cell: str
) -> None:
    import csv
    import io

    audit = _fresh(pristine, tmp_path)
    rows = list(csv.reader(io.StringIO((audit / name).read_text(encoding="utf-8"))))
    r, c = 1 + row % (len(rows) - 1), column % len(rows[0])
    rows[r][c] = cell
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (audit / name).write_text(buffer.getvalue(), encoding="utf-8")
    _check_cli(audit, pristine)


def test_malformed_audit_exits_3_with_one_line(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = _fresh(pristine, tmp_path)
    summary = json.loads((audit / "summary.json").read_text())
    (audit / "summary.json").write_text(json.dumps({**summary, "count": [1, 2]}))
    assert main(["check", str(audit), "--max-count-ratio", "3"]) == 3
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: {audit / 'summary.json'}: count must be an object; rerun `semaudit scan`."
    )
    (audit / "summary.json").write_text(json.dumps(summary).replace("0.9", "NaN", 1))
    with pytest.raises(AuditError, match="not valid JSON"):
        load_audit(audit)


# --- image bytes ---------------------------------------------------------------------------

SEEDS = [png_bytes(1, (12, 9)), jpeg_bytes(2, (16, 16)), animated_gif(3), cmyk_jpeg(4),
         exif_rotated_jpeg(5), png_bytes(6, (8, 8), "P"), png_bytes(7, (8, 8), "LA")]  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.sampled_from(range(len(SEEDS))),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       cut=st.none() | st.integers(0, 10**6))  # fmt: skip
def test_load_image_never_raises_on_mutated_bytes(
    tmp_path: Path, seed: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(SEEDS[seed])
    for at, byte in edits:
        data[at % len(data)] = byte
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path / "fuzzed.img"
    path.write_bytes(bytes(data))
    image, reason = load_image(path)
    if image is None:
        assert reason and isinstance(reason, str)
    else:
        assert reason == "" and image.mode == "RGB" and image.size[0] * image.size[1] <= 178_956_970
