"""The verdict of a ``train --compare``: which method is best, by how much, beyond seed noise?

Pure numbers in, a dict out (numbers and one paragraph of text); numpy and scipy only.

- **Best**: the method with the highest mean of the metric (macro accuracy) over its seeds.
- **Families**: a *semantic-scale* method weights classes by the audit's scale (weighting
  ``ssb`` or ``dssb``, whatever the loss); every other method is a *baseline* (``ce``, ``cb``,
  ``inverse``, ``focal``, ``ldam+cb``, …). The best method is compared with plain ``ce`` and
  with the best method of the *other* family: a semantic-scale winner against the best
  baseline, a baseline winner against the best semantic-scale method.
- **Seed noise**: a paired t-test on the per-seed differences (docs/decisions.md: every method
  runs the same seeds on identical splits, so seed k of two methods shares its split, its
  sample order and its initialisation; pairing removes that shared variation). Two-sided,
  ``alpha`` 0.05. With one seed there is no test.
- **Seeds needed**: the smallest number of seeds at which a paired t-test at ``alpha`` would
  detect the observed mean difference with 80 % power, if the per-seed differences kept their
  observed spread (noncentral t). From two or three seeds the spread itself is rough, so this is
  an order of magnitude.
- **The audit's finding**: whether the audit found the scale imbalance mostly count-driven
  (the ``count_driven`` recommendation of ``stats/recommend.py``: scale ratio ≥ 1.5, at most a
  quarter of it left at equal counts, ρ(count, S) ≥ 0.7). Then count-based weights are expected
  to do as well as scale-based ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from semaudit.values import finite

__all__ = [
    "SCALE_WEIGHTINGS",
    "audit_finding",
    "comparison_verdict",
    "is_scale_method",
    "scores_of",
]

SCALE_WEIGHTINGS = frozenset({"ssb", "dssb"})
POWER = 0.8
MAX_SEEDS = 1000

Scores = Mapping[str, Mapping[int, float | None]]


def is_scale_method(method: str) -> bool:
    """``ssb``, ``dssb``, ``focal+dssb`` …: a method weighting by semantic scale."""
    return method.rsplit("+", 1)[-1] in SCALE_WEIGHTINGS


def scores_of(rows: Iterable[Mapping[Any, Any]], metric: str = "macro_acc") -> dict[str, Any]:
    """``{method: {seed: value}}`` from rows of ``comparison.csv`` (method, seed, metric)."""
    scores: dict[str, dict[int, Any]] = {}
    for row in rows:
        scores.setdefault(str(row["method"]), {})[int(row["seed"])] = row.get(metric)
    return scores


def _clean(scores: Scores) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for method, by_seed in scores.items():
        found = {int(s): finite(v) for s, v in by_seed.items()}
        kept = {s: v for s, v in found.items() if v is not None}
        if kept:
            out[str(method)] = kept
    return out


def seeds_needed(mean: float, sd: float, alpha: float = 0.05, power: float = POWER) -> int | None:
    """Seeds for a two-sided paired t-test at ``alpha`` to detect ``mean`` with ``power`` when
    the per-seed differences have standard deviation ``sd``; None when it cannot be said (no
    spread or no difference), ``MAX_SEEDS + 1`` when more than ``MAX_SEEDS``."""
    from scipy import stats

    if not (sd > 0 and abs(mean) > 0):
        return None
    effect = abs(mean) / sd
    for n in range(2, MAX_SEEDS + 1):
        crit = stats.t.ppf(1 - alpha / 2, n - 1)
        nc = effect * math.sqrt(n)
        reach = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
        if reach >= power:
            return n
    return MAX_SEEDS + 1


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], alpha: float = 0.05
) -> dict[str, Any]:
    """``a − b`` over the seeds both ran: mean, sd, paired t-test p, verdict, seeds needed."""
    from scipy import stats

    common = sorted(set(a) & set(b))
    diffs = np.array([a[s] - b[s] for s in common], dtype=np.float64)
    mean = float(diffs.mean()) if diffs.size else float("nan")
    sd = float(diffs.std(ddof=1)) if diffs.size > 1 else None
    p: float | None = None
    if diffs.size > 1 and sd is not None:
        if sd > 0:
            p = float(stats.ttest_rel(
                [a[s] for s in common], [b[s] for s in common]
            ).pvalue)  # fmt: skip
        else:  # every seed moved by exactly the same amount
            p = 1.0 if mean == 0 else 0.0
    return {
        "diff": finite(mean),
        "sd": sd,
        "seeds": int(diffs.size),
        "test": "paired t-test over seeds" if p is not None else None,
        "p": p,
        "beyond_noise": None if p is None else bool(p < alpha),
        "seeds_needed": seeds_needed(mean, sd, alpha) if sd is not None and sd > 0 else None,
    }


def audit_finding(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the audit's ``summary.json`` says about counts and scale, for the verdict."""
    if not summary:
        return None
    item = next(
        (
            r
            for r in summary.get("recommendations") or []
            if isinstance(r, dict) and r.get("kind") == "count_driven"
        ),
        None,
    )
    rho_block = summary.get("spearman_count_scale") or {}

    def ratio(kind: str) -> float | None:
        block = summary.get(kind)
        return finite(block.get("max_min_ratio")) if isinstance(block, dict) else None

    return {
        "count_driven": item is not None,
        "spearman_count_scale": finite((item or {}).get("spearman_count_scale"))
        or finite(rho_block.get("rho") if isinstance(rho_block, dict) else None),
        "scale_ratio": finite((item or {}).get("scale_ratio")) or ratio("scale"),
        "matched_scale_ratio": finite((item or {}).get("matched_scale_ratio"))
        or ratio("scale_matched"),
    }


def comparison_verdict(
    scores: Scores,
    finding: Mapping[str, Any] | None = None,
    *,
    metric: str = "macro_acc",
    evaluated_on: str | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """``{"best", "best_mean", "vs_ce", "vs_other", "audit", "text", …}`` from per-method,
    per-seed values of ``metric`` (fractions; None / NaN left out). See the module doc."""
    clean = _clean(scores)
    means = {m: float(np.mean(list(v.values()))) for m, v in clean.items()}
    verdict: dict[str, Any] = {
        "metric": metric,
        "evaluated_on": evaluated_on,
        "alpha": alpha,
        "best": None,
        "best_mean": None,
        "vs_ce": None,
        "vs_other": None,
        "audit": dict(finding) if finding else None,
    }
    if not means:
        verdict["text"] = "No method produced a score, so there is no verdict."
        return verdict
    best = max(means, key=lambda m: (means[m], m == "ce"))  # a tie favours plain ce
    verdict.update(best=best, best_mean=means[best])
    if best != "ce" and "ce" in clean:
        verdict["vs_ce"] = {"method": "ce", **paired_difference(clean[best], clean["ce"], alpha)}
    others = [m for m in means if is_scale_method(m) != is_scale_method(best)]
    if others:
        other = max(others, key=lambda m: means[m])
        verdict["vs_other"] = {
            "method": other,
            "family": "semantic-scale" if is_scale_method(other) else "baseline",
            **paired_difference(clean[best], clean[other], alpha),
        }
    verdict["text"] = verdict_text(verdict)
    return verdict


def _points(diff: float | None) -> str:
    return "–" if diff is None else f"{100 * diff:+.1f} points"


def _noise(cmp: Mapping[str, Any]) -> str:
    """``p = 0.31 over 2 seeds: within seed noise; about 9 seeds would tell`` …"""
    if cmp["p"] is None:
        return "one seed: no spread to judge noise by; run --seeds 3 or more"
    if cmp["sd"] == 0:
        every = "both" if cmp["seeds"] == 2 else f"all {cmp['seeds']}"
        return f"the same difference on {every} seeds: no seed noise between them"
    p = "p < 0.001" if cmp["p"] < 0.001 else f"p = {cmp['p']:.2g}"
    head = f"paired t-test over {cmp['seeds']} seeds, {p}"
    if cmp["beyond_noise"]:
        return f"{head}: beyond seed noise"
    needed = cmp["seeds_needed"]
    if needed is None:
        return f"{head}: within seed noise"
    more = f"more than {MAX_SEEDS:,}" if needed > MAX_SEEDS else f"about {needed:,}"
    return (
        f"{head}: within seed noise; at this spread {more} seeds would be needed to tell them apart"
    )


def _audit_text(finding: Mapping[str, Any] | None) -> str:
    if not finding or finding.get("spearman_count_scale") is None:
        return ""
    rho = finding["spearman_count_scale"]
    ratios = ""
    if finding.get("scale_ratio") is not None and finding.get("matched_scale_ratio") is not None:
        ratios = (
            f"; its scale ratio of {finding['scale_ratio']:.2f}× is "
            f"{finding['matched_scale_ratio']:.2f}× at equal image counts"
        )
    if finding.get("count_driven"):
        return (
            f" The audit found the scale imbalance mostly count-driven (ρ(count, S) = "
            f"{rho:.2f}{ratios}), so count-based weights (cb, inverse) are expected to do as well "
            "as scale-based ones (ssb, dssb)."
        )
    return (
        f" The audit found scale not merely restating counts (ρ(count, S) = {rho:.2f}{ratios}), "
        "so scale-based weights (ssb, dssb) can differ from count-based ones."
    )


def verdict_text(verdict: Mapping[str, Any]) -> str:
    """One paragraph: best method, its margins and whether they are beyond seed noise."""
    where = f" on the {verdict['evaluated_on']} split" if verdict.get("evaluated_on") else ""
    best = verdict["best"]
    text = f"{best} has the best macro accuracy{where} ({100 * verdict['best_mean']:.1f} %)"
    parts = []
    other = verdict.get("vs_other")
    for key in ("vs_ce", "vs_other"):
        cmp = verdict.get(key)
        if not cmp or (key == "vs_other" and verdict.get("vs_ce") and cmp["method"] == "ce"):
            continue  # ce already compared, as the best baseline too
        role = ""
        if other and cmp["method"] == other["method"]:
            family = "semantic-scale method" if other["family"] == "semantic-scale" else "baseline"
            role = f", the best {family}"
        parts.append(f"{_points(cmp['diff'])} over {cmp['method']}{role} ({_noise(cmp)})")
    if parts:
        text += ": " + "; ".join(parts)
    return text + "." + _audit_text(verdict.get("audit"))
