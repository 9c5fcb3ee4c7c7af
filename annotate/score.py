"""Batch scoring: load -> segment and attribute -> label, streamed in batches into Parquet shards.

A run directory holds `shards/part-NNNNN.{claims,docs}.parquet`, `manifest.jsonl` (one line per
finished shard, written after its files), `errors.jsonl` (documents that could not be scored and
why), and at the end `claims.jsonl` and `documents.jsonl` in the output schema. An interrupted
run resumes from the manifest: finished shards are kept, unfinished shard files are removed, and
every document ends up scored exactly once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .config import CONFIG_DIR, load
from .corpus import iter_documents
from .errors import AnnotateError, InputError, ModelError
from .labeler import Labeler
from .model import STANCES, TYPES, Claim, Document
from .rules import RuleLabeler
from .segment import PipelineConfig, segment_documents

_SPAN = [("text", pa.string()), ("start", pa.int32()), ("end", pa.int32())]
CLAIM_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()), ("claim_id", pa.string()), ("sentence_index", pa.int32()),
        ("start", pa.int32()), ("end", pa.int32()), ("text", pa.string()), ("type", pa.string()),
        ("type_scores", pa.struct([(t, pa.float64()) for t in TYPES])),
        ("source", pa.struct(_SPAN + [("canonical", pa.string()), ("kind", pa.string())])),
        ("cue", pa.struct(_SPAN)), ("stance", pa.string()),
        ("stance_scores", pa.struct([(s, pa.float64()) for s in STANCES])),
        ("target", pa.string()), ("model", pa.string()), ("rules", pa.list_(pa.string())),
        ("verification", pa.string()), ("cluster_id", pa.string()),
    ]
)
DOC_SCHEMA = pa.schema([(k, pa.string()) for k in ("id", "text", *Document.META)] + [("n_claims", pa.int32())])


def pipeline_config(path: str | Path = "pipeline.yaml", **overrides) -> PipelineConfig:
    """The pipeline config; a relative `model_dir` from the file is taken relative to the project, not the shell."""
    cfg = load(path, PipelineConfig, **overrides)
    if overrides.get("model_dir") is None and not Path(cfg.model_dir).is_absolute():
        cfg.model_dir = str(CONFIG_DIR.parent / cfg.model_dir)
    return cfg


@lru_cache(maxsize=2)
def load_nlp(name: str, max_length: int):
    """The spaCy pipeline, loaded once per process; NER is kept because person names resolve sources."""
    import spacy

    nlp = spacy.load(name)
    nlp.max_length = max_length
    return nlp


def load_labeler(cfg: PipelineConfig, say: Callable[[str], None] = lambda m: None) -> Labeler:
    """The configured labeler: the fine-tuned model when asked for or present, else the rules (and it says so)."""
    model_dir = Path(cfg.model_dir)
    has_model = (model_dir / "config.json").exists() and any(model_dir.glob("*.safetensors"))
    if cfg.labeler == "rules":
        return RuleLabeler()
    if cfg.labeler == "model" and not has_model:
        raise ModelError(f"{model_dir}: no trained model here; run `annotate train --config configs/train.yaml` first")
    if has_model:
        from .classify import ClassifierLabeler

        import torch

        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
        labeler = ClassifierLabeler(model_dir, batch_size=cfg.batch_size)
        if cfg.quantize:
            quantize(labeler)
        return labeler
    say(f"no fine-tuned model in {model_dir}: falling back to the rule labeler ({RuleLabeler.name})")
    return RuleLabeler()


def quantize(labeler) -> None:
    """Dynamic int8 quantization of the classifier's linear layers (CPU inference), marked in the model name."""
    import torch
    from torch import nn

    clf = labeler.classifier
    clf.model = torch.ao.quantization.quantize_dynamic(clf.model, {nn.Linear}, dtype=torch.qint8)
    labeler.name = clf.name = f"{clf.name}-int8"


def score_documents(docs: list[Document], labeler: Labeler, cfg: PipelineConfig | None = None) -> list[Document]:
    """Segment, attribute and label a batch of documents in memory."""
    cfg = cfg or pipeline_config()
    nlp = load_nlp(cfg.spacy_model, cfg.spacy_max_length)
    return labeler.label(segment_documents(docs, nlp, cfg, batch_size=cfg.batch_size))


# --- run directory ---------------------------------------------------------------------------------------------

def claim_record(c: Claim) -> dict:
    row = c.to_row()
    for key, labels in (("type_scores", TYPES), ("stance_scores", STANCES)):
        if row[key] is not None:
            row[key] = {k: row[key].get(k) for k in labels}
    return row


def row_from_record(rec: dict) -> dict:
    """A Parquet claim record as an output-schema row (score maps without the labels a labeler did not score)."""
    for key in ("type_scores", "stance_scores"):
        if rec.get(key) is not None:
            rec[key] = {k: v for k, v in rec[key].items() if v is not None}
    return rec


@dataclass
class RunState:
    """What a run directory says is done."""

    done: set[str] = field(default_factory=set)
    shards: list[str] = field(default_factory=list)


def read_state(out: Path) -> RunState:
    """Finished shards and documents from the manifest; shard files the manifest does not list are removed."""
    state = RunState()
    manifest = out / "manifest.jsonl"
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                state.shards.append(rec["shard"])
                state.done.update(rec["doc_ids"])
    shard_dir = out / "shards"
    if shard_dir.exists():
        for f in shard_dir.iterdir():
            if f.name.split(".")[0] not in state.shards:
                f.unlink()  # left by an interrupted run: its documents will be scored again
    return state


def _write_shard(out: Path, name: str, docs: list[Document]) -> None:
    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    claims = pa.Table.from_pylist([claim_record(c) for d in docs for c in d.claims], schema=CLAIM_SCHEMA)
    metas = pa.Table.from_pylist([{**d.to_record(), "n_claims": len(d.claims)} for d in docs], schema=DOC_SCHEMA)
    for suffix, table in (("claims", claims), ("docs", metas)):
        tmp = shard_dir / f"{name}.{suffix}.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, shard_dir / f"{name}.{suffix}.parquet")
    with (out / "manifest.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"shard": name, "doc_ids": [d.id for d in docs], "claims": claims.num_rows}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def iter_claim_rows(out: Path) -> Iterator[dict]:
    """Every claim of a run, in shard and document order, as output-schema rows."""
    for name in read_state(out).shards:
        for batch in pq.ParquetFile(out / "shards" / f"{name}.claims.parquet").iter_batches():
            for rec in batch.to_pylist():
                yield row_from_record(rec)


def iter_doc_records(out: Path) -> Iterator[dict]:
    for name in read_state(out).shards:
        for batch in pq.ParquetFile(out / "shards" / f"{name}.docs.parquet").iter_batches():
            yield from batch.to_pylist()


def write_jsonl(out: Path) -> None:
    """Consolidate the shards into `claims.jsonl` and `documents.jsonl` (written atomically)."""
    for fname, rows in (("claims.jsonl", iter_claim_rows(out)), ("documents.jsonl", iter_doc_records(out))):
        tmp = out / f"{fname}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, out / fname)


@dataclass
class ScoreReport:
    documents: int = 0
    claims: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    model: str = ""


def _batches(items: Iterable[Document | InputError], size: int, done: set[str], errors: list[InputError],
             report: ScoreReport) -> Iterator[list[Document]]:
    batch: list[Document] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, InputError):
            errors.append(item)
            continue
        if item.id in done:
            report.skipped += 1
            continue
        if item.id in seen:
            errors.append(InputError(item.path or item.id, f"duplicate document id {item.id!r}; ids must be unique"))
            continue
        seen.add(item.id)
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_batch(docs: list[Document], labeler: Labeler, cfg: PipelineConfig) -> tuple[list[Document], list[InputError]]:
    """Score a batch; when it fails, retry document by document so a bad document fails alone."""
    try:
        return score_documents(docs, labeler, cfg), []
    except Exception:
        scored, errors = [], []
        for doc in docs:
            try:
                scored.extend(score_documents([doc], labeler, cfg))
            except Exception as exc:
                errors.append(InputError(doc.path or doc.id, f"could not be scored ({type(exc).__name__}: {exc})"))
        return scored, errors


def local_shards(shards: Iterable[list[Document]], labeler: Labeler, cfg: PipelineConfig
                 ) -> Iterator[tuple[list[Document], list[Document], list[InputError]]]:
    """(input shard, scored documents, errors) for each shard, scored in this process."""
    for shard in shards:
        scored, errors = [], []
        for i in range(0, len(shard), cfg.batch_size):
            ok, bad = score_batch(shard[i : i + cfg.batch_size], labeler, cfg)
            scored += ok
            errors += bad
        yield shard, scored, errors


def score_paths(paths: Iterable[str | Path], out: str | Path, labeler: Labeler, cfg: PipelineConfig | None = None,
                resume: bool = False, shard_docs: int = 256, progress: bool = True, engine: str = "local") -> ScoreReport:
    """Score every article under `paths` into the run directory `out` (see the module docstring).

    `engine` is "local" (this process) or "ray" (Ray Data actors: a local Ray, or the cluster at RAY_ADDRESS).
    """
    from tqdm import tqdm

    cfg = cfg or pipeline_config()
    out = Path(out)
    if out.exists() and (out / "manifest.jsonl").exists() and not resume:
        raise AnnotateError(f"{out}: already holds a run; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out) if resume else RunState()
    report = ScoreReport(model=labeler.name)
    errors: list[InputError] = []
    t0 = time.perf_counter()
    bar = tqdm(desc="scoring", unit="doc", disable=not progress, dynamic_ncols=True)
    shard_no = len(state.shards)
    shards = _batches(iter_documents(paths, cfg.max_chars, cfg.html_min_words), shard_docs, state.done, errors, report)
    if engine == "ray":
        from .ray_engine import ray_shards

        scored_shards = ray_shards(shards, cfg, labeler)
    elif engine == "local":
        scored_shards = local_shards(shards, labeler, cfg)
    else:
        raise AnnotateError(f"unknown engine {engine!r}; use local or ray")
    for shard, scored, errs in scored_shards:
        errors += errs
        if scored:
            _write_shard(out, f"part-{shard_no:05d}", scored)
            shard_no += 1
            report.documents += len(scored)
            report.claims += sum(len(d.claims) for d in scored)
        _append_errors(out, errors[len(report.errors):])
        report.errors = [str(e) for e in errors]
        bar.update(len(shard))
        elapsed = max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix(docs_per_s=f"{report.documents / elapsed:.1f}", claims_per_s=f"{report.claims / elapsed:.0f}")
    _append_errors(out, errors[len(report.errors):])
    report.errors = [str(e) for e in errors]
    bar.close()
    if cfg.verify:
        from .verify import verify_run

        verify_run(out, jsonl=False)
    write_jsonl(out)
    if cfg.report:
        from .report import write_report

        write_report(out)
    report.seconds = time.perf_counter() - t0
    return report


def summarize(rows: Iterable[dict], top: int = 8) -> dict:
    """Counts of a run's segments by type and stance, and its most quoted sources."""
    from collections import Counter

    types, stances, sources, docs = Counter(), Counter(), Counter(), set()
    for r in rows:
        docs.add(r["doc_id"])
        types[r["type"]] += 1
        if r.get("stance"):
            stances[r["stance"]] += 1
        if r.get("source"):
            sources[(r["source"]["canonical"], r["source"]["kind"])] += 1
    return {"documents": len(docs), "segments": sum(types.values()), "types": dict(types), "stances": dict(stances),
            "top_sources": [{"source": s, "kind": k, "claims": n} for (s, k), n in sources.most_common(top)]}


def _append_errors(out: Path, errors: list[InputError]) -> None:
    if not errors:
        return
    with (out / "errors.jsonl").open("a", encoding="utf-8") as fh:
        for e in errors:
            fh.write(json.dumps({"where": e.where, "reason": e.reason}, ensure_ascii=False) + "\n")
