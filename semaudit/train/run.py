"""One training run in a run directory: build, train (resumably), select, evaluate, save.

``RUN/`` holds ``run.json`` (settings and inputs), ``checkpoint.safetensors`` (every epoch),
``metrics.json``, ``per_class.csv``, ``history.csv``, ``weights_history.csv`` (dssb),
``curves.png`` / ``weights.png``, and the model: ``head.safetensors`` for ``head``, or
``model.safetensors`` (backbone state dict, loadable by ``scan --weights``) and
``classifier.safetensors`` for ``last`` / ``full``. Layout: docs/train.md.
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

from semaudit import __version__
from semaudit.errors import UsageError
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
from semaudit.train.evaluate import run_metrics
from semaudit.train.loop import (
    EpochRecord,
    predict,
    run_epoch,
)
from semaudit.train.losses import LongTailLoss
from semaudit.train.models import BuiltModel, build_model, is_main, wrap_distributed
from semaudit.train.protocol import TrainInputs
from semaudit.train.weighting import ClassWeighting, FeaturePool
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


def _identity(inputs: TrainInputs, config: TrainConfig) -> dict[str, Any]:
    return {"kind": RUN_KIND, "config": config.to_dict(), "inputs": inputs.describe()}


def _prepare_dir(out: Path, identity: dict[str, Any], resume: bool) -> bool:
    """Create or check ``out``; return whether a finished run is already there."""
    run_json = out / "run.json"
    if run_json.is_file():
        saved = read_json(run_json)
        if not resume:
            raise UsageError(
                f"{out} already holds a training run; pass --resume to continue it, or choose "
                "another --out."
            )
        same = {k: saved.get(k) for k in identity} == json_safe(identity)
        if not same:
            raise UsageError(
                f"{out} holds a run with other settings or data; --resume needs the same "
                "command, or choose another --out."
            )
        return (out / "metrics.json").is_file()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not a training run; choose an empty --out.")
    write_json(run_json, {**json_safe(identity), "semaudit_version": __version__})
    return False


def _selection(config: TrainConfig, inputs: TrainInputs) -> str:
    if config.selection == "val" and inputs.val is None:
        raise UsageError("selection = val needs a validation split: --val DIR or --val-fraction.")
    if config.selection == "auto":
        return "val" if inputs.val is not None else "final"
    return config.selection


@contextlib.contextmanager
def _cpu_threads(config: TrainConfig, device: str) -> Iterator[None]:
    """The head on a CPU runs on one thread: its matrices are tiny and extra threads cost more
    than they give (10× slower with 2 threads on a busy 2-core machine, docs/train.md)."""
    if config.finetune != "head" or device != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    with _cpu_threads(config, device):
        return _train_run(inputs, config, Path(out), resume, device, on_event, figures)


def _train_run(
    inputs: TrainInputs,
    config: TrainConfig,
    out: Path,
    resume: bool,
    device: str,
    on_event: Events | None,
    figures: bool,
) -> RunResult:
    emit: Events = on_event or (lambda kind, payload: None)
    out.mkdir(parents=True, exist_ok=True)
    identity = _identity(inputs, config)
    if is_main() and _prepare_dir(out, identity, resume):
        return RunResult(out, read_json(out / "metrics.json"), _read_history(out))
    selection = _selection(config, inputs)
    k = len(inputs.class_names)
    counts = inputs.counts
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    built = build_model(inputs, config, device)
    model = built.module
    trained = wrap_distributed(model, device)
    loss_fn = LongTailLoss.from_config(config, counts).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    pool = None
    if config.weighting == "dssb":
        pool = FeaturePool(inputs.train.labels, built.pool_dim, k, device=device)
        emit("pool", {"bytes": pool.nbytes, "n": len(inputs.train), "dim": built.pool_dim})
    weighting = ClassWeighting.from_config(config, counts, inputs.audit_scales, pool)
    val_batches = built.make_eval(inputs.val) if inputs.val is not None else None
    history: list[EpochRecord] = []
    best: dict[str, Any] = {"epoch": -1, "score": -1.0}
    best_state: dict[str, torch.Tensor] | None = None
    start_epoch = 0
    ckpt = out / "checkpoint.safetensors"
    if resume and ckpt.is_file():
        tensors, state = load_checkpoint(ckpt)
        model.load_state_dict(unprefixed("model", tensors))
        restore_optimizer(optimizer, tensors, state["optimizer"])
        if pool is not None:
            pool.load_state(tensors)
        weighting.load_state(state["weighting"])
        history = [EpochRecord(**r) for r in state["history"]]
        best = state["best"]
        best_state = unprefixed("best", tensors) or None
        start_epoch = int(state["epoch"]) + 1
        emit("resumed", start_epoch)
    emit("train_start", {"epochs": config.epochs, "steps": len(built.train), "start": start_epoch})
    amp = config.amp and device.startswith("cuda")
    for epoch in range(start_epoch, config.epochs):
        record = run_epoch(
            trained,
            loss_fn,
            weighting,
            built.train,
            optimizer,
            epoch=epoch,
            epochs=config.epochs,
            base_lr=config.learning_rate,
            seed=config.seed,
            device=device,
            pool=pool,
            amp=amp,
            on_step=lambda n: emit("step", n),
        )
        if val_batches is not None:
            preds, labels = predict(model, val_batches, device=device, amp=amp)
            score = run_metrics(preds, labels, counts, inputs.audit_scales)["macro_acc"] or 0.0
            record = EpochRecord(**{**record.to_dict(), "val_macro_acc": score})
            if selection == "val" and score > best["score"]:
                best = {"epoch": epoch, "score": score}
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(record)
        if is_main():
            opt_tensors, opt_state = optimizer_tensors(optimizer)
            tensors = {
                **prefixed("model", model.state_dict()),
                **opt_tensors,
                **(pool.state() if pool is not None else {}),
                **(prefixed("best", best_state) if best_state is not None else {}),
            }
            state = {
                "epoch": epoch,
                "history": [r.to_dict() for r in history],
                "best": best,
                "optimizer": opt_state,
                "weighting": weighting.state(),
            }
            save_checkpoint(ckpt, tensors, json_safe(state))
        emit("epoch", record)
    if selection == "val" and best_state is not None:
        model.load_state_dict(best_state)
    selected = best["epoch"] if selection == "val" else config.epochs - 1
    if not is_main():
        return RunResult(out, {}, [])
    return _finish(
        out,
        inputs,
        config,
        built,
        weighting,
        history,
        selection,
        selected,
        device,
        pool,
        emit,
        figures,
    )


def _read_history(out: Path) -> list[dict[str, Any]]:
    path = out / "history.csv"
    if not path.is_file():
        return []
    return [{str(k): v for k, v in row.items()} for row in pd.read_csv(path).to_dict("records")]


def _finish(
    out: Path,
    inputs: TrainInputs,
    config: TrainConfig,
    built: BuiltModel,
    weighting: ClassWeighting,
    history: list[EpochRecord],
    selection: str,
    selected: int,
    device: str,
    pool: FeaturePool | None,
    emit: Events,
    figures: bool,
) -> RunResult:
    """Evaluate the selected model once, write every output file."""
    started = time.perf_counter()
    split = inputs.test or inputs.val or inputs.train
    if inputs.test is None:
        emit("warning", f"no --test folder: the reported numbers are on the {split.name} split")
    amp = config.amp and device.startswith("cuda")
    preds, labels = predict(built.module, built.make_eval(split), device=device, amp=amp)
    counts = inputs.counts
    found = run_metrics(
        preds,
        labels,
        counts,
        inputs.audit_scales,
        many=config.many_threshold,
        few=config.few_threshold,
    )
    per_class, shots = found.pop("per_class"), found.pop("shot")
    last_weights = history[-1].weights if history else None
    # epoch 0 pays one-off costs (lazy library set-up, first allocations): left out of the mean
    epoch_seconds = [r.seconds for r in history][1:] or [r.seconds for r in history]
    metrics = {
        "method": config.method,
        "loss": config.loss,
        "weighting": config.weighting,
        "finetune": config.finetune,
        "seed": config.seed,
        "selection": selection,
        "selected_epoch": selected,
        "evaluated_on": split.name,
        **found,
        "thresholds": {"many": f"> {config.many_threshold}", "few": f"< {config.few_threshold}"},
        "epoch_seconds_mean": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "epoch_seconds_median": float(np.median(epoch_seconds)) if epoch_seconds else None,
        "pool_bytes": pool.nbytes if pool is not None else 0,
        "dssb_refreshes": len(weighting.history),
        "train_images": len(inputs.train),
        "eval_seconds": None,
    }
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
    write_csv(out / "per_class.csv", frame)
    write_csv(out / "history.csv", pd.DataFrame([_flat(r) for r in history]))
    if weighting.history:
        rows = [[it, *w] for it, w in weighting.history]
        write_csv(
            out / "weights_history.csv",
            pd.DataFrame(rows, columns=["iteration", *inputs.class_names]),
        )
    saved = built.save(built.module, out)
    metrics["model_files"] = [p.name for p in saved]
    if figures:
        from semaudit.train.figures import curves_figure, weights_figure

        curves_figure(out / "curves.png", history, config.method)
        weights_figure(
            out / "weights.png", weighting.history, history, inputs.class_names, config.method
        )
    metrics["eval_seconds"] = round(time.perf_counter() - started, 3)
    write_json(out / "metrics.json", json_safe(metrics))
    return RunResult(out, json_safe(metrics), [_flat(r) for r in history])


def _flat(record: EpochRecord) -> dict[str, Any]:
    row = record.to_dict()
    row.pop("weights")
    return row
