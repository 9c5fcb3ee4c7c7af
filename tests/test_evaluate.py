"""Evaluation: gold-to-predicted segment alignment and the side-by-side reports."""

from pathlib import Path

from annotate.evaluate import align, aligned_labels, format_results
from annotate.model import Claim, Document

ROOT = Path(__file__).resolve().parent.parent


def claim(i, start, end, type_="fact", stance="neutral", text="x" * 100):
    return Claim("d", i, 0, start, end, text[start:end], type=type_, stance=stance)


def test_align_picks_largest_overlap_and_none_without_overlap():
    gold = [claim(0, 0, 10), claim(1, 10, 30), claim(2, 50, 60)]
    pred = [claim(0, 0, 12), claim(1, 12, 40), claim(2, 40, 45)]
    got = align(gold, pred)
    assert [p.index if p else None for p in got] == [0, 1, None]


def test_aligned_labels_count_missing_segments_as_other_and_none():
    text = "x" * 100
    gold = Document("d", text, claims=[claim(0, 0, 10, "attributed", "sceptical"), claim(1, 50, 60, "opinion", "endorse"),
                                       claim(2, 70, 80, "other", None)])
    pred = Document("d", text, claims=[claim(0, 0, 9, "attributed", "neutral"), claim(1, 70, 80, "other", None)])
    lab = aligned_labels([gold], {"d": pred})
    assert lab["type_gold"] == ["attributed", "opinion", "other"]
    assert lab["type_pred"] == ["attributed", "other", "other"]
    # `other` gold segments carry no stance; an unaligned claim's stance is "none" (a miss).
    assert lab["stance_gold"] == ["sceptical", "endorse"] and lab["stance_pred"] == ["neutral", "none"]


def test_format_results_shows_model_and_rules_side_by_side():
    from annotate.metrics import report

    rep = {"type": report(["fact", "opinion"], ["fact", "fact"]), "stance": report(["neutral"], ["neutral"])}
    text = format_results({"seeds_loo": {"model": rep, "rules": rep, "model_on_gold_segments": rep},
                           "polnear_dev": {"attribution": {"model": {"precision": 1, "recall": 0.5, "f1": 2 / 3}},
                                           "source_spans": {}}})
    assert "seeds LOO type: fine-tuned" in text and "seeds LOO type: rules" in text
    assert "attribution detection (model): P 1.000 R 0.500 F1 0.667" in text
