"""The run directory of `annotate score`: Parquet shards, manifest, errors, and the JSONL consolidated from them.

A run directory holds `shards/part-NNNNN.{claims,docs}.parquet`, `manifest.jsonl` (one line per finished shard,
written after its files), `errors.jsonl` (documents that could not be scored and why), and at the end
`claims.jsonl` and `documents.jsonl` in the output schema. The manifest is the truth: a shard it does not list
was left by an interrupted run and is removed, so every document ends up scored exactly once. The scorer, the Ray
engine, verification and the report all read and write runs through this module.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .model import STANCES, TYPES, Claim, Document

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


def write_shard(out: Path, name: str, docs: list[Document]) -> None:
    """Write one shard's claims and documents, then record it in the manifest."""
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


def append_errors(out: Path, errors: list[InputError]) -> None:
    """Add errors to `errors.jsonl`, one line each."""
    if not errors:
        return
    with (out / "errors.jsonl").open("a", encoding="utf-8") as fh:
        for e in errors:
            fh.write(json.dumps({"where": e.where, "reason": e.reason}, ensure_ascii=False) + "\n")


def write_timings(out: Path, stages: dict) -> None:
    """`timings.json`: the seconds each stage of the run took (parse, attribute, classify, verify, report)."""
    (out / "timings.json").write_text(json.dumps(stages, indent=2) + "\n", encoding="utf-8")
