"""Metrics on small cases computed by hand."""

import pytest

from annotate.metrics import (
    binary_f1,
    confusion,
    format_report,
    report,
    span_overlap_f1,
)


def test_report_per_label_and_macro_by_hand():
    gold = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    rep = report(gold, pred, ["a", "b", "c"])
    # a: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 0.8
    assert rep["per_label"]["a"]["precision"] == pytest.approx(1.0)
    assert rep["per_label"]["a"]["recall"] == pytest.approx(2 / 3)
    assert rep["per_label"]["a"]["f1"] == pytest.approx(0.8)
    # b: tp 1, fp 1, fn 1 -> 0.5 / 0.5 / 0.5 ; c: tp 1, fp 1, fn 0 -> 0.5 / 1 / 2/3
    assert rep["per_label"]["b"]["f1"] == pytest.approx(0.5)
    assert rep["per_label"]["c"]["f1"] == pytest.approx(2 / 3)
    assert rep["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert rep["accuracy"] == pytest.approx(4 / 6)
    assert rep["per_label"]["a"]["support"] == 3
    assert rep["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_absent_label_scores_zero_and_unknown_prediction_is_a_miss():
    rep = report(["x", "x"], ["x", "?"], ["x", "y"])
    assert rep["per_label"]["x"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert rep["per_label"]["y"]["f1"] == 0.0
    assert rep["macro_f1"] == pytest.approx(1 / 3)
    assert confusion(["x", "x"], ["x", "?"], ["x", "y"]) == [[1, 0], [0, 0]]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        report(["a"], ["a", "b"])


def test_binary_f1():
    r = binary_f1([True, True, False, False], [True, False, True, False])
    assert (r["precision"], r["recall"], r["f1"], r["support"]) == (0.5, 0.5, 0.5, 2)


def test_span_overlap_f1_by_hand():
    gold = [[(0, 5), (10, 12)], [], [(3, 4)]]
    pred = [[(4, 8)], [(0, 2)], [(3, 4), (3, 4)]]
    r = span_overlap_f1(gold, pred)
    # predicted correct: (4,8) yes, (0,2) no, both (3,4) yes -> 3/4; gold found: (0,5) yes, (10,12) no, (3,4) yes -> 2/3
    assert r["precision"] == pytest.approx(0.75)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    # touching spans do not overlap
    assert span_overlap_f1([[(0, 5)]], [[(5, 9)]])["f1"] == 0.0


def test_format_report_lists_every_label():
    text = format_report("type", report(["a", "b"], ["a", "a"]))
    assert "macro-F1 0.333" in text and "\n  a " in text and "\n  b " in text
