"""What a training run's report says, as plain values: verdict, numbers, settings, tables.

Shared by the HTML and Markdown writers of ``report/training.py``. Reads the run directory
(and the audit's ``summary.json`` for a comparison's verdict when metrics.json has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.stats.table1 import LABELS, row_note
from semaudit.stats.verdict import audit_finding, comparison_verdict, scores_of
from semaudit.store.io import read_json
from semaudit.store.schema import SUMMARY_JSON

__all__ = ["RunView", "load_run", "pct"]

METRICS = (("macro_acc", "macro acc %"), ("many", "many %"), ("medium", "medium %"),
           ("few", "few %"))  # fmt: skip
SETTING_KEYS = (
    "finetune", "epochs", "batch_size", "lr", "gamma", "beta", "warmup_epochs",
    "refresh_every", "val_fraction", "selection", "hidden_dim", "device",
)  # fmt: skip


def pct(value: Any, std: Any = None) -> str:
    """``71.3`` or ``71.3 ± 2.1`` (percent); ``–`` when missing."""
    if value is None or pd.isna(value):
        return "–"
    text = f"{100 * float(value):.1f}"
    return text if std is None or pd.isna(std) else f"{text} ± {100 * float(std):.1f}"


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"class": str, "method": str}, keep_default_na=True)


@dataclass
class RunView:
    """A run or comparison directory, read once."""

    root: Path
    metrics: dict[str, Any]
    identity: dict[str, Any]
    comparison: bool
    per_class: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    rows: pd.DataFrame | None = None
    method_classes: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.identity.get("config") or {})

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.identity.get("inputs") or {})

    def title(self) -> str:
        data = str(self.inputs.get("data") or self.root).rstrip("/").rsplit("/", 1)[-1]
        if self.comparison:
            return f"Training comparison: {data}"
        return (
            f"Training run: {self.metrics.get('method')} ({self.metrics.get('finetune')}), {data}"
        )

    def verdict(self) -> dict[str, Any] | None:
        """metrics.json's verdict, else one computed from comparison.csv (older runs)."""
        if not self.comparison:
            return None
        saved = self.metrics.get("verdict")
        if isinstance(saved, dict) and saved.get("text"):
            return saved
        if self.rows is None:
            return None
        scores = scores_of(self.rows.to_dict("records"))
        summary = self.root / "nothing"
        audit = self.inputs.get("audit")
        if audit and (Path(audit) / SUMMARY_JSON).is_file():
            summary = Path(audit) / SUMMARY_JSON
        finding = audit_finding(read_json(summary)) if summary.is_file() else None
        return comparison_verdict(scores, finding, evaluated_on=self.metrics.get("evaluated_on"))

    def verdict_text(self) -> str:
        found = self.verdict()
        if found is not None:
            return str(found["text"])
        m = self.metrics
        split = m.get("evaluated_on")
        text = (
            f"{m.get('method')} reached {pct(m.get('macro_acc'))} % macro accuracy on the "
            f"{split} split (many {pct(m.get('many'))}, medium {pct(m.get('medium'))}, few "
            f"{pct(m.get('few'))} %)."
        )
        if split != "test":
            text += (
                f" These numbers are on the {split} split, not on a held-out --test folder: "
                "they overstate what the model does on new images."
            )
        return text + self._left_out_note()

    def _left_out_note(self) -> str:
        left = self.metrics.get("classes_left_out") or []
        if not left:
            return ""
        return (
            f" {len(left)} class{'es' if len(left) != 1 else ''} had no evaluation images and "
            f"{'are' if len(left) != 1 else 'is'} left out of the macro accuracy: "
            f"{', '.join(map(str, left[:5]))}{' …' if len(left) > 5 else ''}."
        )

    def key_numbers(self) -> list[tuple[str, str, str]]:
        m = self.metrics
        if self.comparison and self.summary is not None:
            best = (self.verdict() or {}).get("best")
            row = self.summary[self.summary["method"] == best]
            best_value = pct(row["macro_acc_mean"].iloc[0], row["macro_acc_std"].iloc[0])
            return [
                ("best method", str(best or "–"), "highest mean macro accuracy"),
                ("its macro acc %", best_value if len(row) else "–", "mean ± std over seeds"),
                ("methods", str(len(self.summary)), ", ".join(map(str, self.summary["method"]))),
                ("seeds", str(len(m.get("seeds") or [])), "per method, identical splits"),
                ("evaluated on", str(m.get("evaluated_on")), "the split the numbers are on"),
            ]
        return [
            ("macro acc %", pct(m.get("macro_acc")), "mean of the per-class accuracies"),
            ("few %", pct(m.get("few")), "classes with the fewest training images"),
            ("accuracy %", pct(m.get("accuracy")), "over all evaluation images"),
            ("evaluated on", str(m.get("evaluated_on")), f"{m.get('n_eval', '–')} images"),
            ("selected epoch", str(m.get("selected_epoch")), f"selection: {m.get('selection')}"),
        ]

    def settings(self) -> list[tuple[str, str]]:
        inputs, config = self.inputs, self.config
        rows = [("data (train)", str(inputs.get("data")))]
        for key, name in (("val_dir", "--val"), ("test_dir", "--test")):
            if inputs.get(key):
                rows.append((f"{name} folder", str(inputs[key])))
        rows += [
            ("audit", str(inputs.get("audit"))),
            ("backbone", str(inputs.get("backbone"))),
            ("images", f"train {inputs.get('train')}, val {inputs.get('val')}, "
                       f"test {inputs.get('test')}"),
            ("classes", str(len(inputs.get("classes") or []))),
        ]  # fmt: skip
        if self.comparison:
            rows.append(("methods", ", ".join(map(str, self.identity.get("methods") or []))))
            rows.append(("seeds", ", ".join(map(str, self.identity.get("seeds") or []))))
        else:
            rows.append(("method", f"{config.get('loss')} loss, {config.get('weighting')} weights"))
            rows.append(("seed", str(config.get("seed"))))
        rows += [(k, "default" if config.get(k) is None else str(config[k])) for k in SETTING_KEYS
                 if k in config]  # fmt: skip
        for key in ("allow_overlap", "eval_present_classes"):
            if config.get(key):
                rows.append((key, "yes"))
        version = self.identity.get("semaudit_version")
        return rows + ([("semaudit", str(version))] if version else [])

    def thresholds(self) -> tuple[int, int]:
        config = self.config
        return int(config.get("many_threshold", 100)), int(config.get("few_threshold", 20))

    def _classes_frame(self) -> pd.DataFrame | None:
        if self.per_class is not None:
            return self.per_class
        return next(iter(self.method_classes.values()), None)

    def shot_definition(self) -> str:
        many, few = self.thresholds()
        frame = self._classes_frame()

        def members(shot: str) -> str:
            if frame is None:
                return ""
            names = frame.loc[frame["shot"] == shot, "class"].astype(str).tolist()
            if not names:
                return " (no class)"
            shown = ", ".join(names[:8]) + (f", … {len(names) - 8} more" if len(names) > 8 else "")
            return f" ({len(names)}: {shown})"

        return (
            "Classes are grouped by their training images, with the thresholds of the long-tail "
            f"literature (Liu et al. 2019; settings many_threshold and few_threshold): many, more "
            f"than {many} images{members('many')}; medium, {few} to {many}{members('medium')}; "
            f"few, fewer than {few}{members('few')}. Each group's accuracy is the mean of its "
            "classes' accuracies; a group without classes is shown as –."
        )

    def results_note(self) -> str:
        m = self.metrics
        if self.comparison:
            return (
                f"Mean ± sample std over seeds {', '.join(map(str, m.get('seeds') or []))}, "
                f"evaluated on the {m.get('evaluated_on')} split; model selection: "
                f"{m.get('selection')}. Time vs ce is the mean seconds per epoch relative to ce."
            )
        chosen = "best validation epoch" if m.get("selection") == "val" else "final epoch"
        return (
            f"Evaluated once on the {m.get('evaluated_on')} split ({m.get('n_eval')} images); "
            f"model from the {chosen} ({m.get('selected_epoch')}); seed {m.get('seed')}."
        )

    def results_table(self) -> tuple[list[str], list[list[str]]]:
        if self.comparison and self.summary is not None:
            over = self.metrics.get("epoch_time_overhead_vs_ce") or {}
            headers = ["method", "seeds", *(h for _, h in METRICS), "time vs ce"]
            rows = []
            for r in self.summary.to_dict("records"):
                o = over.get(str(r["method"]))
                rows.append(
                    [str(r["method"]), str(r["seeds"])]
                    + [pct(r[f"{k}_mean"], r[f"{k}_std"]) for k, _ in METRICS]
                    + ["–" if o is None else f"{100 * o:+.0f} %"]
                )
            return headers, rows
        m = self.metrics
        headers = [h for _, h in METRICS] + ["accuracy %", "evaluated on"]
        return headers, [[pct(m.get(k)) for k, _ in METRICS] + [
            pct(m.get("accuracy")), str(m.get("evaluated_on"))]]  # fmt: skip

    def correlations(self) -> tuple[str, list[str], list[list[str]]] | None:
        """Table 1 on this run's accuracy: ``(verdict text, headers, rows)``, or None."""
        found = self.metrics.get("correlations")
        source = ""
        if not isinstance(found, dict) and self.comparison:  # the best method's first seed
            best = (self.verdict() or {}).get("best")
            found = self._run_metrics(str(best)).get("correlations") if best else None
            source = f"{best}, first seed. "
        if not isinstance(found, dict) or not isinstance(found.get("test_accuracy"), dict):
            return None
        table = found["test_accuracy"]
        k = len(self.inputs.get("classes") or [])
        rows = []
        for key, stats in table.items():
            if key == "scale_interclass_alpha" or not isinstance(stats, dict):
                continue
            rows.append([
                LABELS.get(key, key), _num(stats.get("pearson")), _num(stats.get("p_pearson")),
                _num(stats.get("spearman")), _num(stats.get("p_spearman")), row_note(stats, k),
            ])  # fmt: skip
        text = source + str((found.get("verdict") or {}).get("text") or "")
        headers = ["measure", "Pearson r", "p", "Spearman ρ", "p", "note"]
        return text, headers, rows

    def _run_metrics(self, method: str) -> dict[str, Any]:
        slug = method.replace("+", "-")
        seeds = self.metrics.get("seeds") or [0]
        path = self.root / "runs" / f"{slug}-seed{seeds[0]}" / "metrics.json"
        return read_json(path) if path.is_file() else {}

    def class_table(self) -> tuple[list[str], list[list[str]]]:
        frame = self._classes_frame()
        if frame is None:
            return [], []
        headers = ["class", "train images", "shot", "audit scale"]
        rows = [
            [str(r["class"]), str(r["n_train"]), str(r["shot"]), _num(r.get("audit_scale"))]
            for r in frame.to_dict("records")
        ]
        if self.per_class is not None:
            headers += ["accuracy %", "final weight"]
            for row, r in zip(rows, frame.to_dict("records"), strict=True):
                row += [pct(r.get("accuracy")), _num(r.get("final_weight"), 3)]
            return headers, rows
        for method, runs in self.method_classes.items():
            headers.append(f"{method} %")
            for row, value in zip(rows, runs["accuracy_mean"], strict=True):
                row.append(pct(value))
        return headers, rows

    def figures(self) -> dict[str, tuple[bytes, str, str]]:
        from semaudit.report.training_figures import figures_of

        return figures_of(self)

    def markdown(self) -> str:
        from semaudit.report.training_figures import markdown_of

        return markdown_of(self)


def _num(value: Any, digits: int = 2) -> str:
    if value is None or pd.isna(value):
        return "–"
    number = float(value)
    return f"{number:.2g}" if 0 < abs(number) < 0.01 else f"{number:.{digits}f}"


def _method_classes(root: Path, identity: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Per method: the per-class table of its first seed, with the accuracy mean over seeds."""
    out: dict[str, pd.DataFrame] = {}
    for method in identity.get("methods") or []:
        frames = [
            f for seed in identity.get("seeds") or []
            if (f := _read_csv(root / "runs" / f"{method.replace('+', '-')}-seed{seed}"
                               / "per_class.csv")) is not None
        ]  # fmt: skip
        if frames:
            first = frames[0].copy()
            accs = pd.concat(
                [pd.to_numeric(f["accuracy"], errors="coerce") for f in frames], axis=1
            )
            first["accuracy_mean"] = accs.mean(axis=1).to_numpy()
            out[str(method)] = first
    return out


def load_run(root: Path) -> RunView:
    """Read a run or comparison directory (metrics.json must exist)."""
    comparison = (root / "comparison.json").is_file()
    identity = read_json(root / ("comparison.json" if comparison else "run.json"))
    view = RunView(root, read_json(root / "metrics.json"), identity, comparison)
    if comparison:
        view.summary = _read_csv(root / "comparison_summary.csv")
        view.rows = _read_csv(root / "comparison.csv")
        view.method_classes = _method_classes(root, identity)
    else:
        view.per_class = _read_csv(root / "per_class.csv")
    return view
