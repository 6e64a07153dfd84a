"""One training run in a run directory: build, train (resumably), select, evaluate, save.

``RUN/`` holds ``run.json`` (settings and inputs), ``checkpoint.safetensors`` (every epoch),
``metrics.json``, ``per_class.csv``, ``history.csv``, ``weights_history.csv`` (dssb),
``curves.png`` / ``weights.png``, and the model: ``head.safetensors`` for ``head``, or
``model.safetensors`` (backbone state dict, loadable by ``scan --weights``) and
``classifier.safetensors`` for ``last`` / ``full``. Layout: docs/train.md.

The steps: :func:`_build` (model, optimizer, weighting), :func:`_restore` (``--resume``),
:func:`_train_epoch` per epoch (train, validate, checkpoint), :func:`_select`, :func:`_finish`
(evaluate once, write the outputs).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from semaudit.distributed import Dist
from semaudit.runtime import apply_threads
from semaudit.store.io import read_json, write_csv, write_json
from semaudit.train.checkpoint import (
    load_checkpoint,
    optimizer_tensors,
    prefixed,
    restore_optimizer,
    save_checkpoint,
    unprefixed,
)
from semaudit.train.config import TrainConfig
from semaudit.train.evaluate import audit_interclass, run_metrics
from semaudit.train.loop import (
    EpochRecord,
    predict,
    run_epoch,
)
from semaudit.train.models import BuiltModel, build_model, train_dist, wrap_distributed
from semaudit.train.pool import FeaturePool
from semaudit.train.protocol import Split, TrainInputs
from semaudit.train.reweighter import Reweighter
from semaudit.train.rundir import RUN, prepare_dir
from semaudit.values import json_safe

__all__ = ["RunResult", "train_run"]

Events = Callable[[str, Any], None]
RUN_KIND = "semaudit-train-run"


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory, metrics and per-epoch history."""

    out: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out (not what it trains): resume, device, events, figures."""

    resume: bool
    device: str
    emit: Events
    figures: bool


@dataclass
class Training:
    """What one run trains with, built once by :func:`_build`."""

    inputs: TrainInputs
    config: TrainConfig
    out: Path
    options: RunOptions
    dist: Dist
    built: BuiltModel
    trained: nn.Module  # the model, wrapped in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    weighting: Reweighter
    val_batches: Any
    selection: str  # "val" or "final"

    @property
    def model(self) -> nn.Module:
        return self.built.module

    @property
    def pool(self) -> FeaturePool | None:
        return self.weighting.pool

    @property
    def amp(self) -> bool:
        return self.config.amp and self.options.device.startswith("cuda")

    @property
    def checkpoint(self) -> Path:
        return self.out / "checkpoint.safetensors"


@dataclass
class Progress:
    """Where training stands: restored from the checkpoint, advanced by every epoch."""

    history: list[EpochRecord] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "score": -1.0})
    best_state: dict[str, torch.Tensor] | None = None
    start_epoch: int = 0


def _identity(inputs: TrainInputs, config: TrainConfig) -> dict[str, Any]:
    return {"kind": RUN_KIND, "config": config.to_dict(), "inputs": inputs.describe()}


@contextlib.contextmanager
def _cpu_threads(config: TrainConfig, device: str) -> Iterator[None]:
    """The head on a CPU runs on one thread: its matrices are tiny and extra threads cost more
    than they give (10× slower with 2 threads on a busy 2-core machine, docs/train.md)."""
    if config.finetune != "head" or device != "cpu":
        yield
        return
    before = apply_threads(1)
    try:
        yield
    finally:
        apply_threads(before)


def train_run(
    inputs: TrainInputs,
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "cpu",
    on_event: Events | None = None,
    figures: bool = True,
) -> RunResult:
    """Train one method with one seed into ``out`` and return its metrics (see module doc)."""
    options = RunOptions(resume, device, on_event or (lambda kind, payload: None), figures)
    with _cpu_threads(config, device):
        return _train_run(inputs, config, Path(out), options)


def _train_run(
    inputs: TrainInputs, config: TrainConfig, out: Path, options: RunOptions
) -> RunResult:
    dist = train_dist()
    if prepare_dir(out, RUN, _identity(inputs, config), options.resume, dist):
        if not dist.is_main:
            return RunResult(out, {}, [])
        return RunResult(out, read_json(out / "metrics.json"), _read_history(out))
    training = _build(inputs, config, out, options, dist)
    resumed = options.resume and training.checkpoint.is_file()
    progress = _restore(training) if resumed else Progress()
    steps = len(training.built.train)
    options.emit(
        "train_start", {"epochs": config.epochs, "steps": steps, "start": progress.start_epoch}
    )
    with dist.guard():  # DDP's gradient all-reduce and the pool's merges: a lost rank is one line
        for epoch in range(progress.start_epoch, config.epochs):
            _train_epoch(training, progress, epoch)
    selected = _select(training, progress)
    if not dist.is_main:
        return RunResult(out, {}, [])
    return _finish(training, progress, selected)


def _build(
    inputs: TrainInputs, config: TrainConfig, out: Path, options: RunOptions, dist: Dist
) -> Training:
    """Seed, then build the model, its optimizer and the weighting (with its pool)."""
    device, emit = options.device, options.emit
    selection = config.selection_for(inputs.val is not None)
    k = len(inputs.class_names)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    built = build_model(inputs, config, device)
    model = built.module
    trained = wrap_distributed(model, device, dist)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    weighting = Reweighter.from_config(
        config,
        inputs.train.labels,
        n_classes=k,
        scales=inputs.audit_scales,
        feature_dim=built.pool_dim,
        device=device,
    )
    pool = weighting.pool
    if pool is not None:
        emit("pool", {"bytes": pool.nbytes, "n": len(inputs.train), "dim": pool.width})
    val_batches = built.make_eval(inputs.val) if inputs.val is not None else None
    return Training(
        inputs, config, out, options, dist, built, trained, optimizer, weighting, val_batches,
        selection,
    )  # fmt: skip


def _restore(t: Training) -> Progress:
    """Model, optimizer, pool, weights and history from the checkpoint (``--resume``)."""
    tensors, state = load_checkpoint(t.checkpoint)
    t.model.load_state_dict(unprefixed("model", tensors))
    restore_optimizer(t.optimizer, tensors, state["optimizer"])
    if t.pool is not None:
        t.pool.load_state(tensors)
    t.weighting.load_state(state["weighting"])
    progress = Progress(
        history=[EpochRecord(**r) for r in state["history"]],
        best=state["best"],
        best_state=unprefixed("best", tensors) or None,
        start_epoch=int(state["epoch"]) + 1,
    )
    t.options.emit("resumed", progress.start_epoch)
    return progress


def _train_epoch(t: Training, p: Progress, epoch: int) -> None:
    """Train one epoch, score it on the validation split, write the checkpoint (rank 0)."""
    c, emit = t.config, t.options.emit
    record = run_epoch(
        t.trained,
        t.weighting,
        t.built.train,
        t.optimizer,
        epoch=epoch,
        epochs=c.epochs,
        base_lr=c.learning_rate,
        seed=c.seed,
        device=t.options.device,
        amp=t.amp,
        on_step=lambda n: emit("step", n),
    )
    if t.val_batches is not None:
        record = _validate(t, p, epoch, record)
    p.history.append(record)
    if t.dist.is_main:
        _save_checkpoint(t, p, epoch)
    emit("epoch", record)


def _validate(t: Training, p: Progress, epoch: int, record: EpochRecord) -> EpochRecord:
    """``record`` with its validation macro accuracy; keeps the best model when selecting."""
    preds, labels = predict(t.model, t.val_batches, device=t.options.device, amp=t.amp)
    found = run_metrics(preds, labels, t.inputs.counts, t.inputs.audit_scales)
    score = found["macro_acc"] or 0.0
    if t.selection == "val" and score > p.best["score"]:
        p.best = {"epoch": epoch, "score": score}
        p.best_state = {k: v.detach().clone() for k, v in t.model.state_dict().items()}
    return EpochRecord(**{**record.to_dict(), "val_macro_acc": score})


def _save_checkpoint(t: Training, p: Progress, epoch: int) -> None:
    opt_tensors, opt_state = optimizer_tensors(t.optimizer)
    tensors = {
        **prefixed("model", t.model.state_dict()),
        **opt_tensors,
        **(t.pool.state() if t.pool is not None else {}),
        **(prefixed("best", p.best_state) if p.best_state is not None else {}),
    }
    state = {
        "epoch": epoch,
        "history": [r.to_dict() for r in p.history],
        "best": p.best,
        "optimizer": opt_state,
        "weighting": t.weighting.state(),
    }
    save_checkpoint(t.checkpoint, tensors, json_safe(state))


def _select(t: Training, p: Progress) -> int:
    """Load the selected model (the best validation epoch, or the final one); its epoch."""
    if t.selection == "val" and p.best_state is not None:
        t.model.load_state_dict(p.best_state)
    return int(p.best["epoch"]) if t.selection == "val" else t.config.epochs - 1


def _read_history(out: Path) -> list[dict[str, Any]]:
    path = out / "history.csv"
    if not path.is_file():
        return []
    return [{str(k): v for k, v in row.items()} for row in pd.read_csv(path).to_dict("records")]


def _finish(t: Training, p: Progress, selected: int) -> RunResult:
    """Evaluate the selected model once, write every output file."""
    started = time.perf_counter()
    inputs = t.inputs
    split = inputs.test or inputs.val or inputs.train
    if inputs.test is None:
        t.options.emit(
            "warning", f"no --test folder: the reported numbers are on the {split.name} split"
        )
    found = _evaluate(t, split)
    present = set(np.unique(split.labels).tolist())  # --eval-present-classes: NaN, not scored
    found["classes_left_out"] = [c for i, c in enumerate(inputs.class_names) if i not in present]
    per_class, shots = found.pop("per_class"), found.pop("shot")
    metrics = _metrics(t, p, selected, split.name, found)
    _write_tables(t, p, per_class, shots)
    metrics["model_files"] = [path.name for path in t.built.save(t.model, t.out)]
    if t.options.figures:
        _write_figures(t, p)
    metrics["eval_seconds"] = round(time.perf_counter() - started, 3)
    write_json(t.out / "metrics.json", json_safe(metrics))
    return RunResult(t.out, json_safe(metrics), [_flat(r) for r in p.history])


def _evaluate(t: Training, split: Split) -> dict[str, Any]:
    """Every metric of the selected model on ``split`` (raw logits)."""
    batches = t.built.make_eval(split)
    preds, labels = predict(t.model, batches, device=t.options.device, amp=t.amp)
    return run_metrics(
        preds,
        labels,
        t.inputs.counts,
        t.inputs.audit_scales,
        many=t.config.many_threshold,
        few=t.config.few_threshold,
        **audit_interclass(t.inputs.audit, t.inputs.class_names),
    )


def _metrics(
    t: Training, p: Progress, selected: int, evaluated_on: str, found: dict[str, Any]
) -> dict[str, Any]:
    """``metrics.json``: the method, the selection, the metrics, timings and pool size."""
    config = t.config
    # epoch 0 pays one-off costs (lazy library set-up, first allocations): left out of the mean
    epoch_seconds = [r.seconds for r in p.history][1:] or [r.seconds for r in p.history]
    return {
        "method": config.method,
        "loss": config.loss,
        "weighting": config.weighting,
        "finetune": config.finetune,
        "seed": config.seed,
        "selection": t.selection,
        "selected_epoch": selected,
        "evaluated_on": evaluated_on,
        **found,
        "thresholds": {"many": f"> {config.many_threshold}", "few": f"< {config.few_threshold}"},
        "epoch_seconds_mean": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "epoch_seconds_median": float(np.median(epoch_seconds)) if epoch_seconds else None,
        "pool_bytes": t.pool.nbytes if t.pool is not None else 0,
        "dssb_refreshes": getattr(t.weighting, "refreshes", len(t.weighting.history)),
        "train_images": len(t.inputs.train),
        "eval_seconds": None,
    }


def _write_tables(t: Training, p: Progress, per_class: Any, shots: Any) -> None:
    """``per_class.csv``, ``history.csv`` and (dssb) ``weights_history.csv``."""
    inputs, counts = t.inputs, t.inputs.counts
    last_weights = p.history[-1].weights if p.history else None
    frame = pd.DataFrame(
        {
            "class": inputs.class_names,
            "n_train": counts,
            "shot": shots,
            "accuracy": per_class,
            "audit_scale": inputs.audit_scales,
            "final_weight": last_weights if last_weights is not None else np.ones(len(counts)),
        }
    )
    write_csv(t.out / "per_class.csv", frame)
    write_csv(t.out / "history.csv", pd.DataFrame([_flat(r) for r in p.history]))
    if t.weighting.history:
        rows = [[it, *w] for it, w in t.weighting.history]
        write_csv(
            t.out / "weights_history.csv",
            pd.DataFrame(rows, columns=["iteration", *inputs.class_names]),
        )


def _write_figures(t: Training, p: Progress) -> None:
    from semaudit.train.figures import curves_figure, weights_figure

    method = t.config.method
    curves_figure(t.out / "curves.png", p.history, method)
    weights_figure(
        t.out / "weights.png", t.weighting.history, p.history, t.inputs.class_names, method
    )


def _flat(record: EpochRecord) -> dict[str, Any]:
    row = record.to_dict()
    row.pop("weights")
    return row
