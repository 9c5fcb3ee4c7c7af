"""`annotate bench`: end-to-end scoring speed against a naive one-claim-at-a-time baseline, in one run.

The synthetic corpus resamples body sentences of the sample corpus into documents. The scorer runs
as a subprocess (`annotate score`), so its peak memory is its own. The baseline is what a first
attempt would do: a `transformers` `pipeline("text-classification")` over the same encoder weights,
called once per claim on the same claims and the same model inputs; its head is a plain linear layer,
so its cost per claim is the encoder's, as in the scorer.

`claims_per_s` is the scorer's rate over its run (reading, parsing, attributing, classifying, writing, linking
and the report: `timings.json`'s `total_s`), as the baseline's is over its calls: neither counts loading the
model. `end_to_end_claims_per_s` counts the whole process, start-up included.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ModelError


@dataclass
class BenchResult:
    documents: int
    claims: int
    seconds: float  # the scorer's run (timings.json total_s)
    claims_per_s: float
    baseline_claims: int
    baseline_seconds: float
    baseline_claims_per_s: float
    ratio: float
    peak_rss_mb: float
    labeler: str
    end_to_end_seconds: float = 0.0  # the whole `annotate score` process, start-up included
    end_to_end_claims_per_s: float = 0.0
    cpu: str = ""  # what torch's kernels use on this CPU (AVX2, AVX512, ...): int8 and bf16 speed depend on it
    parse_s: float = 0.0  # seconds per stage inside the scorer (its timings.json); the rest is start-up and I/O
    attribute_s: float = 0.0
    classify_s: float = 0.0
    verify_s: float = 0.0
    report_s: float = 0.0


def synthetic_corpus(path: Path, n_docs: int, sentences_per_doc: int = 12, seed: int = 0, corpus: Path | None = None) -> int:
    """Write `n_docs` JSONL articles of sentences resampled from the sample corpus; returns the count."""
    from .annotator import load_nlp, pipeline_config
    from .corpus import iter_documents
    from .segment import regions

    cfg = pipeline_config()
    corpus = corpus or Path(__file__).resolve().parent.parent / "corpus"
    nlp = load_nlp(cfg.spacy_model, cfg.spacy_max_length)
    pool: list[str] = []
    for doc in iter_documents([corpus]):
        for r in regions(doc.text, cfg):
            if r.body:
                pool += [s.text.strip() for s in nlp(doc.text[r.start : r.end]).sents if len(s.text.split()) > 4]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n_docs):
            paras = [" ".join(rng.choice(pool) for _ in range(3)) for _ in range(max(1, sentences_per_doc // 3))]
            fh.write(json.dumps({"id": f"bench{i:06d}", "text": "\n".join(paras), "outlet": f"outlet{i % 7}"}) + "\n")
    return n_docs


def baseline_pipeline(model_dir: Path):
    """A text-classification pipeline whose encoder carries the fine-tuned model's weights."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertForSequenceClassification, pipeline

    model = BertForSequenceClassification.from_pretrained(str(model_dir), num_labels=3, ignore_mismatched_sizes=True)
    enc = {k.removeprefix("encoder."): v for k, v in load_file(str(model_dir / "model.safetensors")).items()
           if k.startswith("encoder.")}
    model.bert.load_state_dict(enc, strict=False)
    return pipeline("text-classification", model=model.eval(), tokenizer=AutoTokenizer.from_pretrained(str(model_dir)),
                    device=-1)


def baseline_inputs(feed: Path, max_claims: int, context_words: int) -> list[dict]:
    """The model inputs of the first `max_claims` claims of a JSONL corpus, as the classifier would see them."""
    from .annotator import score_documents
    from .classify import context_text, mark_sentence
    from .corpus import iter_documents
    from .examples import example_from_claim
    from .rules import RuleLabeler

    inputs: list[dict] = []
    for doc in iter_documents([feed]):
        for c in score_documents([doc], RuleLabeler())[0].claims:
            if c.type != "other" and len(inputs) < max_claims:
                row = example_from_claim(doc, c, labels=False)
                inputs.append({"text": mark_sentence(row), "text_pair": context_text(row, context_words)})
        if len(inputs) >= max_claims:
            break
    return inputs


def run_baseline(model_dir: Path, feed: Path, max_claims: int) -> tuple[int, float]:
    """Classify up to `max_claims` claims one at a time with the naive pipeline; (claims, seconds)."""
    import torch

    from .classify import load

    meta = load(model_dir)[2]
    clf = baseline_pipeline(model_dir)
    inputs = baseline_inputs(feed, max_claims, meta["context_words"])
    with torch.inference_mode():
        t0 = time.perf_counter()
        for item in inputs:
            clf(item, truncation=True, max_length=meta["max_length"])
        return len(inputs), time.perf_counter() - t0


def bench(n_docs: int, model_dir: Path, baseline_claims: int = 400, workdir: Path | None = None) -> BenchResult:
    """Score a synthetic corpus end to end and run the naive baseline on its claims."""
    if not (model_dir / "model.safetensors").exists():
        raise ModelError(f"{model_dir}: no trained model to benchmark; run `annotate train --config configs/train.yaml` first")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        feed = tmp / "bench.jsonl"
        synthetic_corpus(feed, n_docs)
        out = tmp / "run"
        cmd = [sys.executable, "-m", "annotate.cli", "score", str(feed), "--out", str(out), "--labeler", "model",
               "--model", str(model_dir), "--quiet"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise ModelError(f"benchmark scoring failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        claims = sum(1 for line in (out / "claims.jsonl").open() if '"type": "other"' not in line)
        stages = json.loads((out / "timings.json").read_text())
        n_base, base_s = run_baseline(model_dir, feed, baseline_claims)
    run_s = stages["total_s"]
    cps, bps = claims / run_s, n_base / base_s
    import torch

    return BenchResult(n_docs, claims, round(run_s, 2), round(cps, 1), n_base, round(base_s, 2), round(bps, 1),
                       round(cps / bps, 2), round(peak_mb, 1), stages.get("labeler", model_dir.name), round(seconds, 2),
                       round(claims / seconds, 1), torch.backends.cpu.get_cpu_capability(),
                       **{k: stages.get(k, 0.0) for k in ("parse_s", "attribute_s", "classify_s", "verify_s", "report_s")})


def as_json(result: BenchResult) -> str:
    """The figures as one JSON object with the documented keys first."""
    d = asdict(result)
    keys = ["claims_per_s", "baseline_claims_per_s", "ratio", "peak_rss_mb", "parse_s", "attribute_s", "classify_s",
            "verify_s", "report_s"]
    return json.dumps({**{k: d[k] for k in keys}, **{k: v for k, v in d.items() if k not in keys}})
