"""``semaudit train``: long-tail fine-tuning with (dynamic) semantic-scale-balanced weights."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import typer

from semaudit.cli._app import app, err, examples, out, plain, print_json, warn


def _train_config(flags: dict[str, Any], config_file: Path | None) -> Any:
    """Defaults < ``[train]`` in the config file < ``SEMAUDIT_TRAIN_*`` < flags (non-None)."""
    from semaudit.config import resolve_config
    from semaudit.train.config import TrainConfig

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
            warn(str(payload))
        elif kind == "pool":
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
    out.print(f"Comparison written to {run / 'comparison.csv'}", markup=False)


@app.command(
    epilog=examples(
        "semaudit train data/train --audit audit --out run --test data/test --weighting dssb",
        "semaudit train data/train --audit audit --out cmp --test data/test "
        "--compare ce,cb,ssb,dssb,focal+dssb --seeds 3",
        "semaudit train data/train --audit audit --out run --finetune last --device cuda",
        "torchrun --nproc_per_node=2 -m semaudit train data/train --audit audit --out run",
    )
)
def train(
    data: Path = typer.Argument(
        ..., help="Training folder (one sub-folder per class).", show_default=False
    ),
    audit: Path = typer.Option(..., "--audit", help="Audit of DATA written by `semaudit scan`."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    val: Path | None = typer.Option(
        None, "--val", help="Validation folder (same classes) for model selection."
    ),
    val_fraction: float | None = typer.Option(
        None, "--val-fraction", help="Hold out this stratified share of DATA as validation."
    ),
    test: Path | None = typer.Option(
        None, "--test", help="Test folder: evaluated once, after training."
    ),
    finetune: str | None = typer.Option(
        None, "--finetune", help="head (stored embeddings) | last | full [default: head]."
    ),
    loss: str | None = typer.Option(
        None, "--loss", help="ce | focal | ldam | balanced-softmax | logit-adjust [default: ce]."
    ),
    weighting: str | None = typer.Option(
        None, "--weighting", help="none | inverse | cb | ssb | dssb [default: none]."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs [default: 30]."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Samples per step [default: 128]."
    ),
    lr: float | None = typer.Option(
        None, "--lr", help="SGD learning rate [default: 0.05 head, 0.01 last/full]."
    ),
    gamma: float | None = typer.Option(
        None, "--gamma", help="ssb/dssb exponent of (1/S)^γ [default: 1]."
    ),
    beta: float | None = typer.Option(
        None, "--beta", help="cb: β of the effective number [default: 0.999]."
    ),
    warmup_epochs: int | None = typer.Option(
        None, "--warmup-epochs", help="dssb: epochs of plain loss first [default: 5]."
    ),
    refresh_every: int | None = typer.Option(
        None, "--refresh-every", help="dssb: recompute scales every k steps [default: 10]."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed (first seed with --seeds)."),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda[:N]."),
    workers: int | None = typer.Option(
        None, "--workers", help="Image decoding processes for last/full [default: spare cores]."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
    compare: str | None = typer.Option(
        None, "--compare", help="Methods [LOSS+]WEIGHTING to compare, e.g. ce,cb,dssb,focal+dssb."
    ),
    seeds: int = typer.Option(1, "--seeds", help="Seeds per method with --compare."),
    config_file: Path | None = typer.Option(
        None, "--config", help="TOML file with a [train] table."
    ),
    json_output: bool = typer.Option(False, "--json", help="Metrics as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Fine-tune on DATA with long-tail losses and (dynamic) semantic-scale-balanced weights."""
    from semaudit.errors import UsageError

    methods: list[tuple[str, str]] = []
    if compare is not None:
        from semaudit.train.config import parse_methods

        methods = parse_methods(compare)
        if loss is not None or weighting is not None:
            raise UsageError("--compare sets the losses and weightings; drop --loss/--weighting.")
    elif seeds != 1:
        raise UsageError("--seeds needs --compare METHOD[,METHOD...].")
    if val is not None and val_fraction is not None:
        raise UsageError("--val and --val-fraction are exclusive; pass one of them.")
    flags = {
        "finetune": finetune,
        "loss": loss,
        "weighting": weighting,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "gamma": gamma,
        "beta": beta,
        "warmup_epochs": warmup_epochs,
        "refresh_every": refresh_every,
        "seed": seed,
        "device": device,
        "workers": workers,
        "val_fraction": val_fraction,
    }
    config = _train_config(flags, config_file)
    from semaudit.distributed import Dist
    from semaudit.scanner.embed import resolve_device
    from semaudit.train import compare_methods, load_inputs, train_run

    dist = Dist.from_env()  # under torchrun: one process per rank, rank 0 writes and prints
    resolved = dist.device(resolve_device(config.device))
    dist.start(resolved)
    try:
        with TrainProgress(quiet, main=dist.is_main) as progress:
            inputs = load_inputs(data, audit, config, val=val, test=test, on_event=progress)
            if methods:
                _, summary = compare_methods(
                    inputs,
                    config,
                    methods,
                    seeds,
                    out_dir,
                    resume=resume,
                    device=resolved,
                    on_event=progress,
                )
            else:
                result = train_run(
                    inputs, config, out_dir, resume=resume, device=resolved, on_event=progress
                )
    finally:
        dist.stop()
    if not dist.is_main:
        return
    if methods:
        if json_output:
            print_json({"out": str(out_dir), "summary": summary.to_dict("records")})
        else:
            _show_comparison(summary, out_dir)
    elif json_output:
        print_json({"out": str(out_dir), **result.metrics})
    else:
        _show_run(result.metrics, out_dir)
