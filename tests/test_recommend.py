"""Plain-language recommendations from a hand-made classes table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semaudit.errors import UsageError
from semaudit.stats.recommend import Kind, NeedMore, Recommendation, need_more_range, recommend
from semaudit.wording import (
    class_stats,
    need_more_label,
    recommendations,
    saturation_label,
)

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
    # few images first; then the weakest classes (small count and scale ranks) whatever their
    # kind; saturated classes last, most saturated first. t-shirt has no fit: nothing to say.
    assert [(r["kind"], r["class"]) for r in out] == [
        ("few_images", "ankle-boot"),
        ("few_images", "trouser"),
        ("narrow_by_scale", "shirt"),
        ("need_more", "bag"),
        ("need_more", "coat"),
        ("saturated", "sandal"),  # four saturated classes: one record, most saturated first
    ]
    by_class = {r["class"]: r for r in out}
    assert by_class["bag"]["text"] == (
        "class 'bag' (100 images) is at about 55% of its semantic scale: ~60–240 more diverse "
        "images would reach 90%."
    )
    assert by_class["bag"]["need_more"] == 120 and by_class["bag"]["saturation"] == 0.55
    assert (by_class["bag"]["need_more_low"], by_class["bag"]["need_more_high"]) == (60, 240)
    assert by_class["bag"]["reliability"] == "fair"
    assert by_class["coat"]["text"] == (
        "class 'coat' (100 images) is at 80% of its semantic scale: ~820–1,900 more diverse images "
        "would reach 90%."
    )
    assert by_class["coat"]["need_more"] == 1234 and by_class["coat"]["reliability"] == "good"
    assert by_class["sandal"]["classes"] == ["sandal", "sneaker", "pullover", "dress"]
    assert by_class["sandal"]["text"] == (
        "4 classes are saturated (at least 91%): 'sandal', 'sneaker', 'pullover', 'dress'; "
        "more of the same images will not widen them: add different ones or stop collecting."
    )
    assert by_class["shirt"]["text"] == (
        "class 'shirt' has as many images as the median class but the smallest semantic scale "
        "at equal image counts (14.00 vs a median 24.50): balanced by count, narrow by meaning."
    )
    assert by_class["trouser"]["text"].startswith("class 'trouser' has only 3 images")
    assert by_class["ankle-boot"]["text"] == (
        "class 'ankle-boot' has no images: add some or remove the class."
    )
    assert all(isinstance(r["text"], str) and r["text"].endswith(".") for r in out)


def test_deterministic_and_order_free() -> None:
    table = _table()
    shuffled = table.sample(frac=1.0, random_state=3)
    assert recommendations(table) == recommendations(shuffled) == recommendations(table)


def test_limit_and_target() -> None:
    assert [r["class"] for r in recommendations(_table(), limit=2)] == ["ankle-boot", "trouser"]
    assert recommendations(_table(), limit=0) == []
    text = recommendations(_table(), target=0.8, limit=4)[3]["text"]
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
    assert narrow[1]["text"].startswith(
        "class 'bag' has as many images as the median class but the 2nd-smallest semantic scale "
        "at equal image counts (20.00 vs a median "
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
        "class 'trouser' has more images than the median class (900 vs 80) but the smallest "
        "semantic scale at equal image counts (15.00 vs a median 21.00): balanced by count, "
        "narrow by meaning."
    )
    # by raw scale the narrowest class is the smallest one (a, 50 images): nothing to report
    raw = recommendations(table.assign(scale_matched=np.nan))
    assert all(r["kind"] != "narrow_by_scale" for r in raw)
    table.loc[table["class"] == "a", "n"] = 100
    raw = recommendations(table.assign(scale_matched=np.nan))
    assert [r["class"] for r in raw if r["kind"] == "narrow_by_scale"] == ["a"]
    assert raw[0]["text"] == (
        "class 'a' has as many images as the median class but the smallest semantic scale "
        "(30.00 vs a median 34.00): balanced by count, narrow by meaning."
    )
    assert raw[0]["basis"] == "scale"


def test_far_from_saturation_is_worded_as_such() -> None:
    table = _table()
    table.loc[table["class"] == "bag", ["need_more"]] = 100 * 100
    bag = next(r for r in recommendations(table) if r["class"] == "bag")
    assert bag["need_more"] == 10_000 and bag["reliability"] == "far"
    assert "barely started to level off" in bag["text"] and "far more" in bag["text"]
    assert "far from the ceiling" in bag["text"] and bag["need_more_high"] is None


def _long_tail() -> pd.DataFrame:
    """The issue's shape: small classes unsaturated, one of them badly recognised."""
    rows = [
        # class, n, scale, scale_matched, saturation, need_more, probe_accuracy
        ("big", 300, 60.0, 30.0, 0.97, 0, 0.95),
        ("large", 200, 55.0, 29.0, 0.95, 0, 0.93),
        ("mid", 100, 45.0, 31.0, 0.80, 280, 0.90),
        ("small", 19, 25.0, 28.0, 0.49, 40, 0.85),
        ("tiny", 10, 18.0, 27.0, 0.49, 32, 0.60),
        ("blurry", 120, 50.0, 30.5, 0.96, 0, 0.18),
    ]
    columns = ["class", "n", "scale", "scale_matched", "saturation", "need_more", "probe_accuracy"]
    return pd.DataFrame(rows, columns=columns).assign(flags="")


def test_weakest_classes_come_first_and_low_accuracy_is_named() -> None:
    everything = recommendations(_long_tail())
    assert everything[0]["kind"] == "count_driven"  # scale 3.3x, matched 1.15x, rho 1
    out = everything[1:]
    order = [(r["kind"], r["class"]) for r in out]
    # tiny: fewest images, smallest scale, lowest accuracy but one; the 100-image class last
    # of the actionable ones, and a saturated class the probe cannot recognise is named
    assert order[:4] == [
        ("need_more", "tiny"),
        ("need_more", "small"),
        ("low_accuracy", "blurry"),
        ("need_more", "mid"),
    ]
    assert [kind for kind, _ in order[4:]] == ["saturated", "saturated"]  # 2 < GROUP_AT
    blurry = out[2]
    assert "only 18%" in blurry["text"] and "median class" in blurry["text"]
    assert "only 60%" in out[0]["text"]  # tiny is also badly recognised: said in its text


def test_weak_fits_are_a_floor_not_a_count() -> None:
    by_class = {r.get("class"): r for r in recommendations(_long_tail())}
    tiny, small = by_class["tiny"], by_class["small"]
    assert tiny["reliability"] == small["reliability"] == "weak"
    assert "at least ~32 more" in tiny["text"] and "order of magnitude" in tiny["text"]
    assert "49%" not in tiny["text"] and "class 'tiny' (10 images) is under half of" in tiny["text"]
    assert tiny["need_more_high"] is None and tiny["need_more_low"] == 32
    assert need_more_label({"n": 10, "saturation": 0.49, "need_more": 32, "flags": ""}) == "≥ 32"
    assert need_more_label({"n": 100, "saturation": 0.8, "need_more": 280, "flags": ""}) == (
        "190–420"
    )
    assert need_more_label({"n": 5, "saturation": 0.3, "need_more": 500, "flags": ""}) == "≫ 500"
    assert need_more_label({"n": 50, "saturation": 0.95, "need_more": 0, "flags": ""}) == "0"
    assert need_more_label({"n": 3, "saturation": np.nan, "need_more": np.nan}) == ""


def test_need_more_range_widens_as_the_fit_weakens() -> None:
    assert need_more_range(100, 0.85, 50) == NeedMore(100, "good", 66, 150)
    assert need_more_range(100, 0.85, 12) == NeedMore(100, "fair", 50, 200)
    assert need_more_range(100, 0.6, 50) == NeedMore(100, "fair", 50, 200)
    assert need_more_range(100, 0.4, 50) == NeedMore(100, "weak", 100, None)
    assert need_more_range(100, 0.85, 50, capped=True) == NeedMore(100, "far", 100, None)


def test_count_driven_imbalance_is_said_in_one_sentence() -> None:
    # raw scale grows with n (ratio 6x) but at equal counts the classes are alike (1.09x)
    n = [400, 200, 100, 50, 20, 10]
    table = pd.DataFrame(
        {
            "class": list("abcdef"),
            "n": n,
            "scale": [60.0, 45.0, 33.0, 24.0, 15.0, 10.0],
            "scale_matched": [10.9, 10.5, 10.2, 10.0, 10.4, 10.0],
            "saturation": 0.95,
            "need_more": 0,
            "flags": "",
        }
    )
    first = recommendations(table)[0]
    assert first["kind"] == "count_driven" and "class" not in first
    assert first["text"] == (
        "The scale imbalance is mostly count-driven: the scale ratio of 6.00× falls to 1.09× at "
        "equal image counts and ρ(count, S) = 1.00, so balancing image counts addresses most "
        "of it."
    )
    # matched scales as unequal as raw ones: the imbalance is not count-driven
    spread = table.assign(scale_matched=table["scale"] / 2)
    assert all(r["kind"] != "count_driven" for r in recommendations(spread))


def test_missing_columns_raise() -> None:
    with pytest.raises(UsageError):
        recommendations(_table().drop(columns=["saturation"]))
    with pytest.raises(UsageError):
        recommendations(_table(), target=1.5)


def test_near_equal_matched_scales_do_not_reorder_classes() -> None:
    """The demo's shape: matched scales within 1.09x are noise; small classes still lead."""
    rows = [
        # class, n, scale, scale_matched, saturation, need_more, probe_accuracy
        ("ankle-boot", 6, 15.1, 15.1, 0.49, 16, 0.83),
        ("bag", 10, 24.6, 15.8, 0.49, 37, 0.90),
        ("coat", 35, 55.9, 15.1, 0.55, 180, 0.90),
        ("t-shirt", 120, 94.0, 15.2, 0.73, 260, 0.90),
        ("trouser", 90, 70.2, 14.5, 0.74, 180, 0.90),
    ]
    columns = ["class", "n", "scale", "scale_matched", "saturation", "need_more", "probe_accuracy"]
    table = pd.DataFrame(rows, columns=columns).assign(flags="")
    out = [r for r in recommendations(table) if r["kind"] == "need_more"]
    assert [r["classes"] for r in out] == [["ankle-boot", "bag", "coat", "trouser", "t-shirt"]]
    # with a real spread (2.5x), the narrow 90-image class moves ahead of the wide 35-image one
    table.loc[table["class"] == "trouser", "scale_matched"] = 8.0
    table.loc[table["class"] == "coat", "scale_matched"] = 20.0
    (out,) = [r["classes"] for r in recommendations(table) if r["kind"] == "need_more"]
    assert out.index("trouser") < out.index("coat")


def test_saturation_label_is_no_more_precise_than_the_fit() -> None:
    row = {"n": 100, "saturation": 0.97, "need_more": 0, "flags": ""}
    assert saturation_label(row) == "97%"
    assert saturation_label({**row, "saturation": 0.66, "need_more": 200}) == "~65%"
    assert saturation_label({**row, "n": 10, "saturation": 0.82, "need_more": 9}) == "~80%"
    assert saturation_label({**row, "saturation": 0.49, "need_more": 37}) == "< 50%"
    assert saturation_label({**row, "saturation": np.nan, "need_more": np.nan}) == ""


def _matched(scales: list[float], stds: list[float]) -> pd.DataFrame:
    """Saturated classes of equal counts whose matched scales carry a std."""
    k = len(scales)
    return pd.DataFrame(
        {
            "class": [f"c{i}" for i in range(k)],
            "n": 400,
            "scale": 40.0,
            "scale_matched": scales,
            "scale_matched_std": stds,
            "saturation": 0.95,
            "need_more": 0,
            "flags": "",
        }
    )


def test_narrow_is_said_only_beyond_the_uncertainty() -> None:
    """15.50 ± 1.02 against a median 15.54 ± 1.00 is noise, not "narrow by meaning"."""
    table = _matched([15.50, 15.54, 15.60, 15.70], [1.02, 1.00, 1.00, 1.01])
    assert all(r["kind"] != "narrow_by_scale" for r in recommendations(table, matched_m=100))
    # a wider gap with small stds exceeds the combined std: said, with the numbers; the subset
    # std is corrected for overlap (÷ √(1 − 100/400)): 0.03 → 0.035
    table = _matched([15.0, 15.54, 15.60, 15.70], [0.03, 0.02, 0.02, 0.02])
    (narrow,) = [r for r in recommendations(table, matched_m=100) if r["kind"] == "narrow_by_scale"]
    assert narrow["class"] == "c0" and narrow["scale_std"] == pytest.approx(0.03 / 0.75**0.5)
    assert "(15.00 ± 0.03 vs a median 15.57 ± 0.02)" in narrow["text"]
    # a class of exactly m* images has one subset (std 0): it borrows the others' uncertainty
    table = _matched([15.0, 15.6, 15.6, 15.6, 15.6], [0.0, 0.0, 0.0, 1.0, 1.0])
    table["n"] = [100, 100, 100, 400, 400]
    assert all(r["kind"] != "narrow_by_scale" for r in recommendations(table, matched_m=100))


def test_classes_sharing_a_finding_are_one_record_naming_them() -> None:
    """Many small classes: one sentence naming the first few and the last, typed in stats."""
    names = [f"{i}" for i in range(60)]
    table = pd.DataFrame(
        {"class": names, "n": [3] * 52 + [100] * 8, "scale": 5.0, "scale_matched": NAN,
         "saturation": [NAN] * 52 + [0.95] * 8, "need_more": [NAN] * 52 + [0] * 8,
         "flags": ["few_images"] * 52 + [""] * 8}
    )  # fmt: skip
    typed = recommend(class_stats(table))
    assert [rec.kind for rec in typed] == [Kind.FEW_IMAGES, Kind.SATURATED]
    assert all(isinstance(rec, Recommendation) for rec in typed)
    assert len(typed[0].classes) == 52 and typed[0].classes[0].name == "0"
    few = recommendations(table)[0]
    assert few["text"] == (
        "52 classes have only 3 images each: '0', '1', '10', … '9'; too few to measure their "
        "semantic scale: add more before trusting their numbers."
    )
    assert len(few["classes"]) == 52 and few["class"] == "0"


def test_a_poorly_recognised_class_keeps_its_own_entry_beside_a_group() -> None:
    rows = [(f"c{i}", 20 + i, 30.0 + i, 20.0, 0.6, 40, 0.9) for i in range(5)]
    rows.append(("shirt", 22, 31.0, 20.0, 0.6, 40, 0.16))
    columns = ["class", "n", "scale", "scale_matched", "saturation", "need_more", "probe_accuracy"]
    out = recommendations(pd.DataFrame(rows, columns=columns).assign(flags=""))
    assert [(r["kind"], len(r["classes"])) for r in out] == [("need_more", 5), ("need_more", 1)]
    assert out[1]["class"] == "shirt" and "recognises only 16%" in out[1]["text"]
