"""Classification and span metrics as pure functions over label lists (shared by train and evaluate).

`report` gives per-label precision/recall/F1 with support, macro-F1 over the labels, accuracy and
a confusion matrix (rows = gold, columns = predicted). `span_overlap_f1` scores predicted spans
against gold spans where any character overlap counts as a match.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from counts (0.0 where undefined)."""
    p = _safe_div(tp, tp + fp)
    r = _safe_div(tp, tp + fn)
    return {"precision": p, "recall": r, "f1": _safe_div(2 * p * r, p + r)}


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts `m[i][j]` of gold `labels[i]` predicted as `labels[j]`; pairs with unknown labels are skipped."""
    idx = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in idx and p in idx:
            m[idx[g]][idx[p]] += 1
    return m


def report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-label P/R/F1 and support, macro-F1 over `labels`, accuracy and the confusion matrix.

    `labels` defaults to the sorted labels seen in `gold`; a predicted label outside `labels`
    counts as a miss for its gold label (a false negative, not a false positive of any label).
    """
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} labels, pred has {len(pred)}")
    labels = list(labels) if labels is not None else sorted(set(gold))
    per: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        per[lab] = {**prf(tp, fp, fn), "support": tp + fn}
    return {
        "labels": labels,
        "per_label": per,
        "macro_f1": _safe_div(sum(v["f1"] for v in per.values()), len(per)),
        "accuracy": _safe_div(sum(1 for g, p in zip(gold, pred) if g == p), len(gold)),
        "n": len(gold),
        "confusion": confusion(gold, pred, labels),
    }


def binary_f1(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    """P/R/F1 of the positive class."""
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred) if p and not g)
    fn = sum(1 for g, p in zip(gold, pred) if g and not p)
    return {**prf(tp, fp, fn), "support": tp + fn}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def span_overlap_f1(
    gold: Iterable[Sequence[tuple[int, int]]], pred: Iterable[Sequence[tuple[int, int]]]
) -> dict[str, float]:
    """Overlap F1 over units (sentences): a predicted span is correct when it overlaps a gold span of its
    unit, a gold span is found when a predicted span overlaps it."""
    n_pred = n_gold = ok_pred = ok_gold = 0
    for g_spans, p_spans in zip(gold, pred, strict=True):
        n_pred += len(p_spans)
        n_gold += len(g_spans)
        ok_pred += sum(1 for p in p_spans if any(_overlaps(p, g) for g in g_spans))
        ok_gold += sum(1 for g in g_spans if any(_overlaps(p, g) for p in p_spans))
    p = _safe_div(ok_pred, n_pred)
    r = _safe_div(ok_gold, n_gold)
    return {"precision": p, "recall": r, "f1": _safe_div(2 * p * r, p + r), "gold": n_gold, "predicted": n_pred}


def format_report(name: str, rep: dict[str, Any]) -> str:
    """A report as a small text table: per-label rows, macro-F1, then the confusion matrix."""
    labels = rep["labels"]
    w = max([len(x) for x in labels] + [9])
    lines = [f"{name}  (n={rep['n']}, macro-F1 {rep['macro_f1']:.3f}, accuracy {rep['accuracy']:.3f})"]
    lines.append(f"  {'label':<{w}}  prec   rec    F1     n")
    for lab in labels:
        v = rep["per_label"][lab]
        lines.append(f"  {lab:<{w}}  {v['precision']:.3f}  {v['recall']:.3f}  {v['f1']:.3f}  {v['support']:>4}")
    lines.append(f"  confusion (rows gold, cols predicted): {' '.join(x[:5] for x in labels)}")
    for lab, row in zip(labels, rep["confusion"]):
        lines.append(f"  {lab:<{w}}  " + " ".join(f"{c:>5}" for c in row))
    return "\n".join(lines)


def overlap(a, b) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def align(gold: Iterable, pred: list) -> list:
    """For each gold segment, the predicted segment with the largest character overlap (None when none overlaps)."""
    out = []
    for g in gold:
        best = max(pred, key=lambda p: overlap(g, p), default=None)
        out.append(best if best is not None and overlap(g, best) > 0 else None)
    return out


def ece(gold: Sequence[str], scores: Sequence[dict[str, float] | None], bins: int = 10) -> dict[str, float]:
    """Expected calibration error of the top label: the support-weighted gap between confidence and accuracy over
    equal-width confidence bins (rows without scores are left out)."""
    pairs = [(max(s.values()), max(s, key=s.get) == g) for g, s in zip(gold, scores, strict=True) if s]
    if not pairs:
        return {"ece": 0.0, "n": 0}
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in pairs if lo < c <= hi or (b == 0 and c == 0)]
        if inside:
            conf = sum(c for c, _ in inside) / len(inside)
            acc = sum(ok for _, ok in inside) / len(inside)
            total += len(inside) / len(pairs) * abs(conf - acc)
    return {"ece": total, "n": len(pairs)}
