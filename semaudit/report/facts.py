"""What the report says, as plain values: verdict, key numbers, provenance, class rows.

Shared by the HTML and Markdown writers so both tell the same story from one audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from semaudit.store import Audit
from semaudit.values import finite, format_number, plural
from semaudit.wording import quote

__all__ = [
    "KeyNumber",
    "class_table",
    "fmt_num",
    "fmt_ratio",
    "key_numbers",
    "provenance",
    "verdict",
]


@dataclass(frozen=True)
class KeyNumber:
    """One headline number: a label, its formatted value and a short explanation."""

    label: str
    value: str
    hint: str


def fmt_num(value: Any, digits: int = 1) -> str:
    """A number for people: thousands separators, ``–`` for missing values."""
    number = finite(value)
    whole = number is not None and number == int(number) and digits <= 1
    return format_number(value, ",.0f" if whole else f",.{digits}f", missing="–")


def approx(count: float) -> int:
    """A count people read as an estimate: exact below 100, else two significant digits."""
    if count < 100:
        return round(count)
    digits = len(str(int(count))) - 2
    return int(round(count, -digits))


def fmt_ratio(value: Any) -> str:
    """A max/min ratio as ``20×``, ``1.4×``; ``n/a`` when undefined."""
    number = finite(value)
    spec = ",.0f" if number is not None and number >= 100 else ".3g"
    return format_number(value, spec, missing="n/a") + ("×" if number is not None else "")


def fmt_pct(value: Any) -> str:
    return format_number(value, ".0%", missing="–")


def target_saturation(audit: Audit) -> float:
    return audit.settings.target_saturation


def below_target(audit: Audit) -> pd.DataFrame:
    """Classes with a fitted curve below the target saturation, most images needed first."""
    classes = audit.classes
    fitted = classes[classes["saturation"].notna()]
    below = fitted[fitted["saturation"] < target_saturation(audit)]
    return below.sort_values(["need_more", "class"], ascending=[False, True])


def title(audit: Audit) -> str:
    """ "Semantic scale audit: <data folder name>"."""
    root = str(audit.meta.get("source", {}).get("root") or audit.path)
    return "Semantic scale audit: " + (root.rstrip("/").rsplit("/", 1)[-1] or root)


def verdict(audit: Audit) -> str:
    """The audit in one sentence: count vs scale imbalance, and who needs more images."""
    summary = audit.overview
    k = len(audit.classes)
    eligible = summary.n_eligible if summary.n_eligible is not None else k
    if k == 0:
        return "This audit has no classes; check the data folder and rescan."
    if k == 1:
        return (
            "The audit has 1 class, so imbalance statistics are undefined; scan a folder with "
            "at least two classes."
        )
    if eligible < 2:
        return (
            f"Only {eligible} of {k:,} classes {'has' if eligible == 1 else 'have'} at least "
            f"{audit.settings.min_images} images, so imbalance statistics are undefined; add "
            "images to the small classes."
        )
    matched_m = summary.matched_m
    matched = summary.ratio("scale_matched")
    scale_part = f"semantic scale {fmt_ratio(summary.ratio('scale'))}"
    if matched is not None and matched_m:
        scale_part += f" ({fmt_ratio(matched)} at an equal {matched_m} images)"
    ratio = fmt_ratio(summary.ratio("count"))
    head = f"Counts vary {ratio} across {plural(k, 'class')} and {scale_part}"
    below = below_target(audit)
    target = fmt_pct(target_saturation(audit))
    if below.empty:
        return f"{head}; every class with a fitted curve has reached {target} saturation."
    verb = "is" if len(below) == 1 else "are"
    return (
        f"{head}; {len(below):,} of {plural(k, 'class')} {verb} below {target} saturation"
        f"{_lead(audit)}."
    )


def _lead(audit: Audit) -> str:
    """ ", led by X (~a–b more diverse images)": the first class the recommendations rank."""
    below = set(below_target(audit)["class"].astype(str))
    for rec in audit.overview.recommendations:
        if str(rec.get("class")) not in below:
            continue
        low, high = finite(rec.get("need_more_low")), finite(rec.get("need_more_high"))
        if low is not None and high is not None:
            need = f" (~{approx(low):,}–{approx(high):,} more diverse images)"
        elif low is not None:
            need = f" (at least ~{approx(low):,} more diverse images)"
        else:
            need = ""
        return f", led by class {quote(rec['class'])}{need}"
    return ""


def key_numbers(audit: Audit) -> list[KeyNumber]:
    """Classes, images, count / scale / matched-scale ratios and skipped files."""
    summary = audit.overview
    matched_m = summary.matched_m
    skipped = summary.n_skipped if summary.n_skipped is not None else len(audit.skipped)
    fraction = summary.skipped_fraction
    n_classes = summary.n_classes if summary.n_classes is not None else len(audit.classes)
    return [
        KeyNumber(
            "classes", fmt_num(n_classes), f"{fmt_num(summary.n_eligible)} with enough images"
        ),
        KeyNumber("images", fmt_num(summary.n_images), "embedded and used"),
        KeyNumber("count ratio", fmt_ratio(summary.ratio("count")), "largest / smallest class"),
        KeyNumber("scale ratio", fmt_ratio(summary.ratio("scale")), "widest / narrowest class"),
        KeyNumber(
            "matched-scale ratio",
            fmt_ratio(summary.ratio("scale_matched")),
            f"at an equal {matched_m} images per class" if matched_m else "not computed",
        ),
        KeyNumber(
            "skipped files",
            fmt_num(skipped),
            "none" if not skipped else f"{100 * (fraction or 0):.2g}% of files",
        ),
    ]


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "/".join(_short(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "–" if value is None else str(value)


def provenance(audit: Audit) -> list[tuple[str, str]]:
    """(label, text) pairs: backbone, settings, source, versions and date."""
    meta = audit.meta
    backbone = meta.get("backbone", {})
    digest = str(backbone.get("weights_digest") or "–")
    rows = [
        ("backbone", f"{backbone.get('id', '–')} ({backbone.get('embed_dim', '?')}-d)"),
        ("weights", digest[:23] + ("…" if len(digest) > 23 else "")),
        ("preprocessing", _short(backbone.get("preprocessing", {}))),
        ("settings", _short(meta.get("settings", {}))),
        ("source", _short(meta.get("source", {}).get("root"))),
        ("semaudit", str(meta.get("semaudit_version", "–"))),
        ("created", str(meta.get("created", "–"))),
    ]
    env = meta.get("environment")
    if isinstance(env, dict) and env:
        rows.append(("environment", _short(env)))
    return rows


def class_table(audit: Audit) -> pd.DataFrame:
    """classes.csv plus ranks (1 = largest) by count and by scale, sorted by count."""
    table = audit.classes.copy()
    table["count_rank"] = table["n"].rank(ascending=False, method="min").astype(int)
    table["scale_rank"] = table["scale"].rank(ascending=False, method="min").astype(int)
    return table.sort_values(["n", "class"], ascending=[False, True]).reset_index(drop=True)
