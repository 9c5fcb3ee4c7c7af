"""Evaluate the fine-tuned classifier against the rule baseline, side by side, and write the results as JSON.

- Seeds (the project's gold): leave-one-document-out. Each fold fine-tunes from the corpus-only
  stage-1 model on four articles' gold and labels the fifth through the real pipeline; every gold
  segment is aligned to the predicted segment of its document with the largest character overlap.
- CheckThat! 2024 `dev_test_en.tsv` (never trained on): SUBJ = some claim of the sentence is an opinion.
- PolNeAR dev: attribution detection per sentence and source span overlap F1 (span head vs spaCy rules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from . import classify as C
from .metrics import (  # noqa: F401
    align,
    binary_f1,
    ece,
    format_report,
    overlap,
    report,
    span_overlap_f1,
)
from .model import TYPES, Document
from .train import SUBJ

CHECKTHAT, POLNEAR = "checkthat2024-subjectivity-en", "polnear"



# --- seeds, leave one document out ---------------------------------------------------------------------------

def aligned_labels(gold_docs: list[Document], pred_docs: dict[str, Document]) -> dict[str, list]:
    """Gold and predicted type and stance per gold segment ("none" where nothing aligns or no stance)."""
    out: dict[str, list] = {"type_gold": [], "type_pred": [], "stance_gold": [], "stance_pred": []}
    for gd in gold_docs:
        pd = pred_docs[gd.id]
        for g, p in zip(gd.claims, align(gd.claims, pd.claims)):
            out["type_gold"].append(g.type)
            out["type_pred"].append(p.type if p else "other")
            if g.stance is not None and g.type != "other":
                out["stance_gold"].append(g.stance)
                out["stance_pred"].append((p.stance if p else None) or "none")
    return out


def _reports(lab: dict[str, list]) -> dict[str, Any]:
    return {"type": report(lab["type_gold"], lab["type_pred"], list(TYPES)),
            "stance": report(lab["stance_gold"], lab["stance_pred"], list(C.STANCE_LABELS))}


def judge(gold_docs: list[Document], pred_docs: dict[str, Document]) -> dict[str, Any]:
    """Everything the product promises, scored on labeled documents: type and stance (per-label P/R/F1, macro-F1,
    confusion, calibration error), attributed F1, source canonical name and kind accuracy, and the claims typed
    `attributed` without a source."""
    from .handlabel import normal_name

    lab = aligned_labels(gold_docs, pred_docs)
    out = _reports(lab)
    pairs = [(g, p) for gd in gold_docs for g, p in zip(gd.claims, align(gd.claims, pred_docs[gd.id].claims))]
    out["attributed"] = binary_f1([g.type == "attributed" for g, _ in pairs],
                                  [p is not None and p.type == "attributed" for _, p in pairs])
    att = [(g, p) for g, p in pairs if g.type == "attributed"]
    named = [(g, p) for g, p in att if p is not None and p.type == "attributed"]

    def right(g, p) -> bool:
        return p is not None and p.source is not None and normal_name(p.source.canonical) == normal_name(g.source.canonical)

    out["source"] = {
        "n": len(att),
        "canonical_accuracy": sum(right(g, p) for g, p in att) / max(1, len(att)),
        "canonical_accuracy_typed_attributed": sum(right(g, p) for g, p in named) / max(1, len(named)),
        "kind_accuracy": sum(p is not None and p.source is not None and p.source.kind == g.source.kind
                             for g, p in att) / max(1, len(att)),
        "span_overlap": sum(p is not None and p.source is not None and p.source.start < g.source.end
                            and g.source.start < p.source.end for g, p in att) / max(1, len(att)),
    }
    preds = [c for d in pred_docs.values() for c in d.claims]
    out["attributed_without_source"] = sum(c.type == "attributed" and c.source is None for c in preds)
    out["predicted_attributed"] = sum(c.type == "attributed" for c in preds)
    claims = [(g, p) for g, p in pairs if g.type != "other" and p is not None and p.type_scores]
    out["calibration"] = {
        "type": ece([g.type for g, _ in claims], [p.type_scores for _, p in claims]),
        "stance": ece([g.stance for g, p in claims if p.stance_scores], [p.stance_scores for _, p in claims
                                                                         if p.stance_scores]),
    }
    return out


def evaluate_seeds(train_cfg, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Leave-one-document-out on the gold: fine-tuned folds and the rule labeler, aligned to gold segments."""
    from .annotator import score_documents
    from .config import resolve
    from .corpus import iter_documents
    from .gold import gold_documents, gold_examples
    from .rules import RuleLabeler
    from .train import train

    gold_docs, errors = gold_documents(resolve(train_cfg.gold), resolve(train_cfg.corpus_dir))
    raw = {d.id: d for d in iter_documents([resolve(train_cfg.corpus_dir)]) if isinstance(d, Document)}
    fresh = lambda ids: [Document.from_record(raw[i].to_record()) for i in ids]  # noqa: E731
    ids = [d.id for d in gold_docs]
    rules = {d.id: d for d in score_documents(fresh(ids), RuleLabeler())}
    model_docs: dict[str, Document] = {}
    direct = {"type_gold": [], "type_pred": [], "stance_gold": [], "stance_pred": []}
    for doc_id in ids:
        say(f"fold: hold out {doc_id}")
        fold = train_cfg.model_copy(update={
            "name": f"{train_cfg.name}-loo-{doc_id.split('_')[0]}", "exclude_docs": [doc_id],
            "base_name": train_cfg.base_name or f"{train_cfg.name}-base",
            "calibration": train_cfg.calibration.model_copy(update={"enabled": False, "gold_dev_fraction": 0.0})})
        fold_dir = train(fold)
        labeler = C.ClassifierLabeler(fold_dir)
        model_docs.update({d.id: d for d in score_documents(fresh([doc_id]), labeler)})
        # The classifier alone, on the gold segments themselves (no segmentation error).
        rows = gold_examples([d for d in gold_docs if d.id == doc_id])
        for r, p in zip(rows, labeler.classifier.predict(rows)):
            direct["type_gold"].append(r["type"])
            direct["type_pred"].append(p["type"])
            if r["stance"]:
                direct["stance_gold"].append(r["stance"])
                direct["stance_pred"].append(p["stance"])
    direct_rep = {"type": report(direct["type_gold"], direct["type_pred"], list(C.TYPE_LABELS)),
                  "stance": report(direct["stance_gold"], direct["stance_pred"], list(C.STANCE_LABELS))}
    return {"documents": ids, "errors": [str(e) for e in errors],
            "model": _reports(aligned_labels(gold_docs, model_docs)),
            "rules": _reports(aligned_labels(gold_docs, rules)),
            "model_on_gold_segments": direct_rep}


# --- voa-news: the in-domain gold ------------------------------------------------------------------------------

def _fresh(docs: list[Document]) -> list[Document]:
    return [Document.from_record(d.to_record()) for d in docs]


def judge_labelers(gold_docs: list[Document], labelers: dict[str, Any]) -> dict[str, Any]:
    """`judge` for each labeler on fresh copies of the gold documents (segmented and attributed by the pipeline)."""
    from .annotator import score_documents

    return {who: judge(gold_docs, {d.id: d for d in score_documents(_fresh(gold_docs), lab)})
            for who, lab in labelers.items()}


def evaluate_voa(model_dir: Path, train_cfg, split: str) -> dict[str, Any]:
    """Model and rules on the voa-news articles of `split`, against their hand labels."""
    from .gold import voa_documents
    from .rules import RuleLabeler
    from .train import voa_paths

    gold = voa_documents(*voa_paths(train_cfg), [split])
    out = judge_labelers(gold, {"model": C.ClassifierLabeler(model_dir), "rules": RuleLabeler()})
    return {"documents": len(gold), "segments": sum(len(d.claims) for d in gold), **out}


def evaluate_topics(train_cfg, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Leave-one-topic-out: per topic group, a model trained without that group's articles (stage 2 from the cached
    corpus-only model) labels all 15 of them; the rules beside it. Transfer across topics, not a setting chooser."""
    from .corpora import VOA_GROUPS
    from .gold import voa_documents
    from .rules import RuleLabeler
    from .train import train, voa_paths

    folds: dict[str, Any] = {}
    everything = voa_documents(*voa_paths(train_cfg))
    for group in VOA_GROUPS:
        say(f"topic fold: hold out {group}")
        fold = train_cfg.model_copy(update={
            "name": f"{train_cfg.name}-loto-{group}", "base_name": train_cfg.base_name or f"{train_cfg.name}-base",
            "voa": train_cfg.voa.model_copy(update={"exclude_groups": [group], "dev_split": None}),
            "calibration": train_cfg.calibration.model_copy(update={"enabled": False, "gold_dev_fraction": 0.0})})
        held = [d for d in everything if d.id[:2] == group]
        folds[group] = {"documents": len(held),
                        **judge_labelers(held, {"model": C.ClassifierLabeler(train(fold)), "rules": RuleLabeler()})}
    mean = {who: {task: sum(f[who][task]["macro_f1"] for f in folds.values()) / len(folds) for task in ("type", "stance")}
            for who in ("model", "rules")}
    return {"folds": folds, "mean_macro_f1": mean}


def evaluate_probes(model_dir: Path, paths: dict[str, Path]) -> dict[str, Any]:
    """Pass rates of the behavioural probe files, model and rules."""
    from . import probes
    from .rules import RuleLabeler

    labelers = {"model": C.ClassifierLabeler(model_dir), "rules": RuleLabeler()}
    return {name: {who: probes.run(probes.load(path), lab).to_dict() for who, lab in labelers.items()}
            for name, path in paths.items() if path.exists()}


# --- public corpora held out ---------------------------------------------------------------------------------

def _sentence_docs(sentences: list[str], prefix: str) -> list[Document]:
    return [Document(id=f"{prefix}-{i}", text=s) for i, s in enumerate(sentences)]


def evaluate_checkthat(model_dir: Path, root: Path) -> dict[str, Any]:
    """SUBJ/OBJ macro-F1 on dev_test_en.tsv: the model alone, the model through the pipeline, the rules."""
    from .annotator import score_documents
    from .corpora import load_checkthat
    from .rules import RuleLabeler

    rows = load_checkthat(root / CHECKTHAT, "dev_test").to_list()
    gold = ["SUBJ" if r["type"] in SUBJ else "OBJ" for r in rows]
    labeler = C.ClassifierLabeler(model_dir)
    direct = ["SUBJ" if p["type"] == "opinion" else "OBJ" for p in labeler.classifier.predict(rows)]

    def via(lab) -> list[str]:
        docs = score_documents(_sentence_docs([r["sentence"] for r in rows], "ct"), lab)
        return ["SUBJ" if any(c.type == "opinion" for c in d.claims) else "OBJ" for d in docs]

    return {"n": len(rows), "model": report(gold, direct, ["SUBJ", "OBJ"]),
            "model_pipeline": report(gold, via(labeler), ["SUBJ", "OBJ"]),
            "rules": report(gold, via(RuleLabeler()), ["SUBJ", "OBJ"])}


def evaluate_polnear(model_dir: Path, root: Path, limit: int | None = 1500) -> dict[str, Any]:
    """Attribution detection F1 per sentence and source span overlap F1 on PolNeAR dev, model vs rules."""
    from .annotator import score_documents
    from .corpora import load_polnear, polnear_spans
    from .rules import RuleLabeler
    from .train import span_rows

    ds = load_polnear(root / POLNEAR, "dev", limit)
    sents: dict[tuple[str, str], dict[str, Any]] = {}
    for r in ds:
        s = sents.setdefault((r["doc_id"], r["sentence"]), {**r, "type": "unattributed"})
        if r["type"] == "attributed":
            s["type"] = "attributed"
    rows = list(sents.values())[:limit]
    gold_att = [r["type"] == "attributed" for r in rows]
    spans = {(r["doc_id"], r["sentence"]): r["spans"] for r in span_rows(polnear_spans(root / POLNEAR, "dev"))}
    gold_src = [[(a, b) for a, b, lab in spans.get((r["doc_id"], r["sentence"]), []) if lab == "SRC"] for r in rows]
    labeler = C.ClassifierLabeler(model_dir)
    preds = labeler.classifier.predict(rows)
    docs = score_documents(_sentence_docs([r["sentence"] for r in rows], "pn"), RuleLabeler())
    out: dict[str, Any] = {"n_sentences": len(rows),
                           "attribution": {"model": binary_f1(gold_att, [p["type"] == "attributed" for p in preds]),
                                           "rules": binary_f1(gold_att, [any(c.type == "attributed" for c in d.claims)
                                                                         for d in docs])}}
    rule_src = [sorted({(c.source.start, c.source.end) for c in d.claims if c.source and c.source.end <= len(d.text)})
                for d in docs]
    out["source_spans"] = {"rules": span_overlap_f1(gold_src, rule_src)}
    if labeler.classifier.meta.get("span_head"):
        clf = labeler.classifier
        tagged = C.tag_spans(clf.model, clf.tokenizer, [r["sentence"] for r in rows], clf.meta["max_length"],
                             o_bias=clf.temperatures.get("span_o_bias", 0.0))
        out["source_spans"]["model"] = span_overlap_f1(gold_src, [[(a, b) for lab, a, b in t if lab == "SRC"]
                                                                  for t in tagged])
    return out


# --- the command -----------------------------------------------------------------------------------------------

PROBES = {"shared": Path("../shared/spec/probes.jsonl"), "project": Path("tests/behaviour/probes.jsonl")}


def evaluate(model_dir: str | Path, gold_path: str | Path | None = None, *, config: str | Path = "train.yaml",
             out: str | Path | None = None, voa: bool = True, topics: bool = True, seeds: bool = True,
             corpora: bool = True, probes: bool = True, polnear_limit: int | None = 1500,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    """Fine-tuned model vs rule baseline: voa-news test (the headline) and dev, leave-one-topic-out, the seeds
    leave-one-document-out, CheckThat! dev_test, PolNeAR dev and the behavioural probes; writes the results to `out`
    (default `<model_dir>/evaluation.json`) and returns them."""
    import json

    from .config import resolve
    from .errors import ModelError
    from .train import load_config

    model_dir = Path(model_dir)
    if not (model_dir / C.TRAIN_META).exists():
        raise ModelError(f"{model_dir}: no trained model here; run `annotate train --config configs/train.yaml` first")
    cfg = load_config(config)
    if gold_path is not None:
        cfg = cfg.model_copy(update={"gold": str(Path(gold_path).resolve())})
    results: dict[str, Any] = {"model": str(model_dir)}
    root = resolve(cfg.datasets_dir)
    if voa and cfg.voa.labels and (root / cfg.voa.folder).exists():
        for split in ("test", "dev"):
            say(f"voa-news {split}")
            results[f"voa_{split}"] = evaluate_voa(model_dir, cfg, split)
        if topics:
            results["topics"] = evaluate_topics(cfg, say)
    if seeds and cfg.gold and resolve(cfg.gold).exists():
        results["seeds_loo"] = evaluate_seeds(cfg, say)
    if corpora and root is not None and (root / CHECKTHAT).exists():
        say("CheckThat! dev_test")
        results["checkthat_dev_test"] = evaluate_checkthat(model_dir, root)
    if corpora and root is not None and (root / POLNEAR).exists():
        say("PolNeAR dev")
        results["polnear_dev"] = evaluate_polnear(model_dir, root, polnear_limit)
    if probes:
        say("behavioural probes")
        results["probes"] = evaluate_probes(model_dir, {k: resolve(str(v)) for k, v in PROBES.items()})
    path = Path(out) if out else model_dir / "evaluation.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    results["written_to"] = str(path)
    return results


def _headline(name: str, j: dict[str, Any]) -> str:
    return (f"{name}: type macro-F1 {j['type']['macro_f1']:.3f}, stance macro-F1 {j['stance']['macro_f1']:.3f}, "
            f"attributed F1 {j['attributed']['f1']:.3f}, source canonical {j['source']['canonical_accuracy']:.3f} "
            f"(kind {j['source']['kind_accuracy']:.3f}), attributed without source {j['attributed_without_source']}, "
            f"ECE type {j['calibration']['type']['ece']:.3f} stance {j['calibration']['stance']['ece']:.3f}")


def format_results(results: dict[str, Any]) -> str:
    """The printed summary: voa-news test first (model and rules side by side), then the other figures."""
    lines = []
    for split in ("test", "dev"):
        v = results.get(f"voa_{split}")
        if v:
            for who in ("model", "rules"):
                lines.append(_headline(f"voa-news {split} ({v['documents']} articles), {who}", v[who]))
            if split == "test":
                for task in ("type", "stance"):
                    lines.append(format_report(f"voa-news test {task}: fine-tuned", v["model"][task]))
                    lines.append(format_report(f"voa-news test {task}: rules", v["rules"][task]))
    t = results.get("topics")
    if t:
        for who in ("model", "rules"):
            per = "  ".join(f"{g} {f[who]['stance']['macro_f1']:.3f}" for g, f in t["folds"].items())
            lines.append(f"leave-one-topic-out, {who}: mean type macro-F1 {t['mean_macro_f1'][who]['type']:.3f}, "
                         f"mean stance macro-F1 {t['mean_macro_f1'][who]['stance']:.3f} (stance per held-out group: {per})")
    loo = results.get("seeds_loo")
    if loo:
        for task in ("type", "stance"):
            lines.append(format_report(f"seeds LOO {task}: fine-tuned", loo["model"][task]))
            lines.append(format_report(f"seeds LOO {task}: rules", loo["rules"][task]))
            lines.append(format_report(f"seeds LOO {task}: fine-tuned on gold segments", loo["model_on_gold_segments"][task]))
    ct = results.get("checkthat_dev_test")
    if ct:
        for k in ("model", "model_pipeline", "rules"):
            lines.append(format_report(f"CheckThat dev_test SUBJ/OBJ: {k}", ct[k]))
    pn = results.get("polnear_dev")
    if pn:
        for who, v in pn["attribution"].items():
            lines.append(f"PolNeAR dev attribution detection ({who}): P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}")
        for who, v in pn["source_spans"].items():
            lines.append(f"PolNeAR dev source span overlap ({who}): P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}")
    for name, p in (results.get("probes") or {}).items():
        for who, r in p.items():
            lines.append(f"{name} probes, {who}: {r['passed']}/{r['total']} ({100 * r['pass_rate']:.1f}%); "
                         + "  ".join(f"{k} {v}" for k, v in r["per_category"].items()))
    return "\n\n".join(lines)
