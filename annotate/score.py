"""Batch scoring: load -> segment, attribute and label (an `Annotator`) -> Parquet shards of a run directory.

Documents stream in shards (`--shard-docs`); only one shard is held in memory. An interrupted run resumes from the
run directory's manifest (`annotate.rundir`), and every document ends up scored exactly once. At the end the claims
are linked across articles (`verify.py`) and the report is written (`report.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .annotator import Annotator
from .corpus import iter_documents
from .errors import AnnotateError, InputError
from .model import Document
from .rundir import (
    RunState,
    append_errors,
    read_state,
    write_jsonl,
    write_shard,
    write_timings,
)


@dataclass
class ScoreReport:
    documents: int = 0
    claims: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    model: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage of this run (local engine)


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


def local_shards(shards: Iterable[list[Document]], annotator: Annotator
                 ) -> Iterator[tuple[list[Document], list[Document], list[InputError]]]:
    """(input shard, scored documents, errors) for each shard, scored in this process."""
    size = annotator.cfg.batch_size
    for shard in shards:
        scored, errors = [], []
        for _, ok, bad in annotator.stream(shard[i : i + size] for i in range(0, len(shard), size)):
            scored += ok
            errors += bad
        yield shard, scored, errors


def score_paths(paths: Iterable[str | Path], out: str | Path, annotator: Annotator, resume: bool = False,
                shard_docs: int = 256, progress: bool = True, engine: str = "local") -> ScoreReport:
    """Score every article under `paths` into the run directory `out` (`annotate.rundir`), then link claims across
    articles and write the report when the pipeline config asks for them.

    `engine` is "local" (this process) or "ray" (Ray Data actors: a local Ray, or the cluster at RAY_ADDRESS).
    """
    from tqdm import tqdm

    cfg = annotator.cfg
    out = Path(out)
    if out.exists() and (out / "manifest.jsonl").exists() and not resume:
        raise AnnotateError(f"{out}: already holds a run; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    state = read_state(out) if resume else RunState()
    report = ScoreReport(model=annotator.name)
    errors: list[InputError] = []
    t0 = time.perf_counter()
    bar = tqdm(desc="scoring", unit="doc", disable=not progress, dynamic_ncols=True)
    shard_no = len(state.shards)
    shards = _batches(iter_documents(paths, cfg.max_chars, cfg.html_min_words), shard_docs, state.done, errors, report)
    if engine == "ray":
        from .ray_engine import ray_shards

        scored_shards = ray_shards(shards, annotator)
    elif engine == "local":
        scored_shards = local_shards(shards, annotator)
    else:
        raise AnnotateError(f"unknown engine {engine!r}; use local or ray")
    for shard, scored, errs in scored_shards:
        errors += errs
        if scored:
            write_shard(out, f"part-{shard_no:05d}", scored)
            shard_no += 1
            report.documents += len(scored)
            report.claims += sum(len(d.claims) for d in scored)
        append_errors(out, errors[len(report.errors):])
        report.errors = [str(e) for e in errors]
        bar.update(len(shard))
        elapsed = max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix(docs_per_s=f"{report.documents / elapsed:.1f}", claims_per_s=f"{report.claims / elapsed:.0f}")
    append_errors(out, errors[len(report.errors):])
    report.errors = [str(e) for e in errors]
    bar.close()
    stages = {f"{k}_s": round(v, 3) for k, v in annotator.timings.items()}
    t1 = time.perf_counter()
    if cfg.verify:
        from .verify import verify_run

        verify_run(out, jsonl=False)
    stages["verify_s"] = round(time.perf_counter() - t1, 3)
    write_jsonl(out)
    t2 = time.perf_counter()
    if cfg.report:
        from .report import write_report

        write_report(out)
    stages["report_s"] = round(time.perf_counter() - t2, 3)
    report.seconds = time.perf_counter() - t0
    report.stages = stages
    write_timings(out, {**stages, "total_s": round(report.seconds, 3), "engine": engine, "labeler": annotator.name})
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
