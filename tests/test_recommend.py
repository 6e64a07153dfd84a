"""Plain-language recommendations from a hand-made classes table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semaudit.errors import UsageError
from semaudit.stats.recommend import recommendations

NAN = np.nan


def _table() -> pd.DataFrame:
    rows = [
        # class, n, scale, scale_matched, saturation, need_more, flags
        ("bag", 100, 30.0, 20.0, 0.55, 120, ""),
        ("coat", 100, 32.0, 21.0, 0.80, 1234, ""),
        ("dress", 100, 40.0, 24.0, 0.91, 0, ""),
        ("pullover", 200, 41.0, 25.0, 0.95, 0, ""),
        ("sandal", 100, 42.0, 26.0, 0.97, 0, ""),
        ("shirt", 100, 20.0, 14.0, 0.93, 0, ""),
        ("sneaker", 120, 44.0, 27.0, 0.97, 0, ""),
        ("t-shirt", 100, 45.0, 28.0, NAN, NAN, "no_fit"),
        ("trouser", 3, 5.0, NAN, NAN, NAN, "few_images;below_matched_m"),
        ("ankle-boot", 0, 0.0, NAN, NAN, NAN, "empty;zero_scale"),
    ]
    columns = ["class", "n", "scale", "scale_matched", "saturation", "need_more", "flags"]
    return pd.DataFrame(rows, columns=columns)


def test_ranked_list() -> None:
    out = recommendations(_table())
    assert [(r["kind"], r["class"]) for r in out] == [
        ("need_more", "coat"),
        ("need_more", "bag"),
        ("narrow_by_scale", "shirt"),
        ("saturated", "sandal"),
        ("saturated", "sneaker"),
        ("saturated", "pullover"),
        ("saturated", "dress"),
        ("few_images", "ankle-boot"),
        ("few_images", "trouser"),
    ]
    by_class = {r["class"]: r for r in out}
    assert by_class["bag"]["text"] == (
        "bag is at 55% of its semantic scale: ~120 more diverse images would reach 90%."
    )
    assert by_class["bag"]["need_more"] == 120 and by_class["bag"]["saturation"] == 0.55
    assert by_class["coat"]["text"] == (
        "coat is at 80% of its semantic scale: ~1,200 more diverse images would reach 90%."
    )
    assert by_class["coat"]["need_more"] == 1234
    assert by_class["sneaker"]["text"] == (
        "sneaker is saturated (97%): more of the same images will not widen it; "
        "add different ones or stop collecting."
    )
    assert by_class["shirt"]["text"] == (
        "shirt has as many images as the median class but the smallest semantic scale at equal "
        "image counts: balanced by count, narrow by meaning."
    )
    assert by_class["trouser"]["text"].startswith("trouser has only 3 images")
    assert (
        by_class["ankle-boot"]["text"] == "ankle-boot has no images: add some or remove the class."
    )
    assert all(isinstance(r["text"], str) and r["text"].endswith(".") for r in out)


def test_deterministic_and_order_free() -> None:
    table = _table()
    shuffled = table.sample(frac=1.0, random_state=3)
    assert recommendations(table) == recommendations(shuffled) == recommendations(table)


def test_limit_and_target() -> None:
    assert [r["class"] for r in recommendations(_table(), limit=2)] == ["coat", "bag"]
    assert recommendations(_table(), limit=0) == []
    text = recommendations(_table(), target=0.8, limit=1)[0]["text"]
    assert text.endswith("would reach 80%.")


def test_narrow_class_that_is_second_smallest() -> None:
    table = _table()
    table.loc[table["class"] == "bag", ["saturation", "need_more"]] = [0.95, 0]
    table.loc[table["class"] == "coat", ["saturation", "need_more", "n"]] = [0.95, 0, 300]
    out = recommendations(table)
    narrow = [r for r in out if r["kind"] == "narrow_by_scale"]
    # bottom quarter of 8 eligible classes = 2 smallest scales: shirt (1st), bag (2nd); coat
    # has more images than the median (300 vs 100) and the 3rd-smallest scale: not listed.
    assert [r["class"] for r in narrow] == ["shirt", "bag"]
    assert [r["basis"] for r in narrow] == ["scale_matched", "scale_matched"]
    assert narrow[1]["text"] == (
        "bag has as many images as the median class but the 2nd-smallest semantic scale at "
        "equal image counts: balanced by count, narrow by meaning."
    )


def test_narrow_uses_matched_scale_to_find_large_but_narrow_classes() -> None:
    # trouser has the most images; its raw scale is mid-table (S grows with n) but its
    # count-matched scale is the smallest. Without matched scales, raw scales are used.
    rows = [
        ("a", 50, 30.0, 20.0), ("b", 60, 31.0, 21.0), ("c", 80, 34.0, 22.0),
        ("d", 100, 40.0, 23.0), ("trouser", 900, 36.0, 15.0),
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=["class", "n", "scale", "scale_matched"])
    table = table.assign(saturation=0.95, need_more=0, flags="")
    first = recommendations(table)[0]
    assert first["kind"] == "narrow_by_scale" and first["class"] == "trouser"
    assert first["text"] == (
        "trouser has more images than the median class (900 vs 80) but the smallest semantic "
        "scale at equal image counts: balanced by count, narrow by meaning."
    )
    # by raw scale the narrowest class is the smallest one (a, 50 images): nothing to report
    raw = recommendations(table.assign(scale_matched=np.nan))
    assert all(r["kind"] != "narrow_by_scale" for r in raw)
    table.loc[table["class"] == "a", "n"] = 100
    raw = recommendations(table.assign(scale_matched=np.nan))
    assert [r["class"] for r in raw if r["kind"] == "narrow_by_scale"] == ["a"]
    assert raw[0]["text"] == (
        "a has as many images as the median class but the smallest semantic scale: "
        "balanced by count, narrow by meaning."
    )
    assert raw[0]["basis"] == "scale"


def test_far_from_saturation_is_worded_as_such() -> None:
    table = _table()
    table.loc[table["class"] == "bag", ["need_more"]] = 100 * 100
    first = recommendations(table)[0]
    assert first["class"] == "bag" and first["need_more"] == 10_000
    assert "barely started to level off" in first["text"]


def test_missing_columns_raise() -> None:
    with pytest.raises(UsageError):
        recommendations(_table().drop(columns=["saturation"]))
    with pytest.raises(UsageError):
        recommendations(_table(), target=1.5)
