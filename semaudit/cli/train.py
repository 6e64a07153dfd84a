"""``semaudit train``: long-tail fine-tuning with (dynamic) semantic-scale-balanced weights.

Every ``TrainConfig`` field is a flag, generated from the field (``setting(...)`` in
semaudit/train/config.py: help, panel, shown default) by ``cli/_settings.py``; the other
options (inputs, ``--compare``, output) are declared here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import typer

from semaudit.cli._app import app, err, examples, out, plain, print_json, warn
from semaudit.cli._settings import with_settings
from semaudit.train.config import TrainConfig

CONFIG_ONLY: frozenset[str] = frozenset()
"""``TrainConfig`` fields set only in ``[train]`` or ``SEMAUDIT_TRAIN_*`` (none today): every
other field is a flag, generated from its ``setting(...)`` (semaudit/train/config.py)."""


def _train_config(flags: dict[str, Any], config_file: Path | None) -> TrainConfig:
    """Defaults < ``[train]`` in the config file < ``SEMAUDIT_TRAIN_*`` < flags (non-None)."""
    from semaudit.config import resolve_config

    return resolve_config(TrainConfig, "train", flags, config_file)


class TrainProgress:
    """``on_event`` for training: pool memory and warnings always; bars only on a TTY."""

    def __init__(self, quiet: bool = False, *, main: bool = True) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.quiet = quiet
        self.main = main  # other torchrun ranks print nothing
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            console=err,
            disable=quiet or not main or not err.is_terminal,
            transient=True,
        )
        self.task: Any = None
        self.said: set[str] = set()  # warnings and notes already printed
        self.label = ""
        self.epochs = 0

    def __enter__(self) -> TrainProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.__exit__(exc_type, exc, tb)

    def __call__(self, kind: str, payload: Any) -> None:
        if not self.main:
            return
        if kind == "warning":
            if str(payload) not in self.said:  # once per run or comparison, not per seed
                self.said.add(str(payload))
                warn(str(payload))
        elif kind == "pool" and "pool" not in self.said:
            self.said.add("pool")
            mib = payload["bytes"] / 2**20
            err.print(
                f"dssb feature pool: {payload['n']:,} samples × {payload['dim']} floats = "
                f"{mib:,.1f} MiB",
                markup=False,
            )
        elif kind == "run_start":
            self.label = f"{payload['method']} seed {payload['seed']}"
        elif kind == "resumed":
            err.print(f"resuming at epoch {payload + 1}", markup=False)
        elif kind == "embed_start":
            self._new("embedding", int(payload))
        elif kind == "embed_progress" and self.task is not None:
            self.progress.advance(self.task, int(payload))
        elif kind == "train_start":
            self.epochs = int(payload["epochs"])
            self._new(self._describe(int(payload["start"])), int(payload["steps"]))
        elif kind == "step" and self.task is not None:
            self.progress.advance(self.task, int(payload))
        elif kind == "epoch" and self.task is not None:
            val = payload.val_macro_acc
            info = f"loss {payload.loss:.3f}" + (f", val {val:.1%}" if val is not None else "")
            self.progress.reset(self.task, description=self._describe(payload.epoch + 1))
            self.progress.update(self.task, info=info)

    def _describe(self, epoch: int) -> str:
        head = f"{self.label}: " if self.label else ""
        return f"{head}epoch {min(epoch + 1, self.epochs)}/{self.epochs}"

    def _new(self, description: str, total: int) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(description, total=total, info="")


def _pct(value: Any) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _pm(mean: Any, std: Any) -> str:
    if mean is None:
        return ""
    return f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def _show_run(metrics: dict[str, Any], run: Path) -> None:
    from rich.table import Table

    table = Table(title=plain(f"{metrics['method']} ({metrics['finetune']})"), title_justify="left")
    for name in ("macro acc %", "many %", "medium %", "few %", "accuracy %", "evaluated on"):
        table.add_column(name, justify="right")
    table.add_row(
        _pct(metrics.get("macro_acc")),
        _pct(metrics.get("many")),
        _pct(metrics.get("medium")),
        _pct(metrics.get("few")),
        _pct(metrics.get("accuracy")),
        str(metrics.get("evaluated_on")),
    )
    out.print(table)
    out.print(f"Run written to {run}", markup=False)


def _verdict(run: Path) -> dict[str, Any] | None:
    """The comparison's verdict from ``RUN/metrics.json`` (docs/train.md, "The verdict")."""
    import json

    try:
        found = json.loads((run / "metrics.json").read_text(encoding="utf-8")).get("verdict")
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _show_comparison(summary: Any, run: Path) -> None:
    from rich.table import Table

    table = Table(title="methods (mean ± std over seeds, %)", title_justify="left")
    for name in ("method", "seeds", "macro acc", "many", "medium", "few", "s/epoch"):
        table.add_column(name, justify="left" if name == "method" else "right")
    for row in summary.to_dict("records"):
        table.add_row(
            plain(row["method"]),
            str(row["seeds"]),
            *(
                _pm(row.get(f"{k}_mean"), row.get(f"{k}_std"))
                for k in ("macro_acc", "many", "medium", "few")
            ),
            f"{row['epoch_seconds_mean']:.3f}" if row.get("epoch_seconds_mean") else "",
        )
    out.print(table)
    verdict = _verdict(run)
    if verdict is not None:
        out.print(f"verdict: {verdict['text']}", markup=False)
    out.print(f"Comparison written to {run / 'comparison.csv'}", markup=False)


def _one_seed_note(seed: int) -> str:
    return (
        f"--compare ran 1 seed per method (seed {seed}; --seed sets the first seed, --seeds how "
        "many): one seed cannot tell a difference from seed noise; pass --seeds 3 or more."
    )


INPUT, RUNS, OUTPUT = "Input", "Runs", "Output"


def _check_flags(settings: dict[str, Any], compare: str | None, seeds: int, val: Any) -> list[Any]:
    """The methods of ``--compare`` (empty without it); flags that clash are a ``UsageError``."""
    from semaudit.errors import UsageError

    methods: list[tuple[str, str]] = []
    if compare is not None:
        from semaudit.train.config import parse_methods

        methods = parse_methods(compare)
        if settings.get("loss") is not None or settings.get("weighting") is not None:
            raise UsageError("--compare sets the losses and weightings; drop --loss/--weighting.")
    elif seeds != 1:
        raise UsageError("--seeds needs --compare METHOD[,METHOD...].")
    if val is not None and settings.get("val_fraction") is not None:
        raise UsageError("--val and --val-fraction are exclusive; pass one of them.")
    return methods


@dataclass(frozen=True)
class TrainJob:
    """What one ``semaudit train`` call runs: inputs, settings, methods and where to write."""

    data: Path
    audit: Path
    out: Path
    val: Path | None
    test: Path | None
    config: Any
    methods: list[tuple[str, str]]
    seeds: int
    resume: bool


def _run(job: TrainJob, quiet: bool) -> tuple[bool, Any]:
    """Run the job on this rank; ``(is_main, result)``: a ``RunResult`` or a summary frame."""
    from semaudit.distributed import SETTINGS, Dist
    from semaudit.runtime import resolve_device
    from semaudit.train import compare_methods, load_inputs, train_run

    # under torchrun: one process per rank, rank 0 writes and prints
    dist = Dist.from_env(rerun=SETTINGS.rerun_train)
    device = dist.device(resolve_device(job.config.device))
    dist.start(device)
    try:
        with TrainProgress(quiet, main=dist.is_main) as progress:
            inputs = load_inputs(
                job.data, job.audit, job.config, val=job.val, test=job.test, on_event=progress
            )
            common = {"resume": job.resume, "device": device, "on_event": progress}
            if job.methods:
                _, summary = compare_methods(
                    inputs, job.config, job.methods, job.seeds, job.out, **common
                )
                return dist.is_main, summary
            return dist.is_main, train_run(inputs, job.config, job.out, **common)
    finally:
        dist.stop()


def _show(job: TrainJob, result: Any, json_output: bool) -> None:
    if job.methods:
        if json_output:
            print_json({
                "out": str(job.out),
                "summary": result.to_dict("records"),
                "verdict": _verdict(job.out),
            })  # fmt: skip
        else:
            _show_comparison(result, job.out)
    elif json_output:
        print_json({"out": str(job.out), **result.metrics})
    else:
        _show_run(result.metrics, job.out)


DATA_HELP = (
    "Training data, as audited: a folder (one sub-folder per class), tar shards, a Hugging Face "
    "dataset (parquet, save_to_disk) or hf:OWNER/NAME."
)


def _train(
    data: Path = typer.Argument(
        ...,
        help=DATA_HELP,
        show_default=False,
    ),
    audit: Path = typer.Option(
        ..., "--audit", help="Audit of DATA written by `semaudit scan`.", rich_help_panel=INPUT
    ),
    val: Path | None = typer.Option(
        None,
        "--val",
        help="Validation data (same classes, any form DATA takes) for model selection.",
        rich_help_panel=INPUT,
    ),
    test: Path | None = typer.Option(
        None,
        "--test",
        help="Test data (any form DATA takes): evaluated once, after training.",
        rich_help_panel=INPUT,
    ),
    config_file: Path | None = typer.Option(
        None, "--config", help="TOML file with a [train] table.", rich_help_panel=INPUT
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run in --out.", rich_help_panel=RUNS
    ),
    compare: str | None = typer.Option(
        None,
        "--compare",
        help="Methods [LOSS+]WEIGHTING to compare, e.g. ce,cb,dssb,focal+dssb.",
        rich_help_panel=RUNS,
    ),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Seeds per method with --compare \\[default: 1].",
        rich_help_panel=RUNS,
        show_default=False,
    ),
    out_dir: Path = typer.Option(
        ..., "--out", "-o", help="Run directory to write.", rich_help_panel=OUTPUT
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Metrics as JSON on stdout.", rich_help_panel=OUTPUT
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars.", rich_help_panel=OUTPUT
    ),
    **settings: Any,
) -> None:
    """Fine-tune on DATA with long-tail losses and (dynamic) semantic-scale-balanced weights."""
    methods = _check_flags(settings, compare, 1 if seeds is None else seeds, val)
    config = _train_config(settings, config_file)
    job = TrainJob(data, audit, out_dir, val, test, config, methods, seeds or 1, resume)
    is_main, result = _run(job, quiet)
    if is_main:
        _show(job, result, json_output)
        if methods and seeds is None:
            warn(_one_seed_note(config.seed))


train = app.command(
    "train",
    epilog=examples(
        "semaudit train data/train --audit audit --out run --test data/test --weighting dssb",
        "semaudit train data/train --audit audit --out cmp --test data/test "
        "--compare ce,cb,ssb,dssb,focal+dssb --seeds 3",
        "semaudit train data/train --audit audit --out run --finetune last --device cuda",
        "torchrun --nproc_per_node=2 -m semaudit train data/train --audit audit --out run",
    ),
)(with_settings(_train, TrainConfig, before="resume", config_only=CONFIG_ONLY))
