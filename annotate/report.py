"""Reports of a run: `report.html` (one self-contained file), `summary.json` and CSVs.

Aggregates (per source, per outlet, per document, per cluster) are computed with DuckDB over the run's Parquet
shards, so they cover the whole corpus at any size. The HTML shows the aggregates in full up to configured row
limits and the highlighted text of the first `max_articles` articles. Every field goes through Jinja2 with
autoescape; the claim data the page's script reads is embedded as escaped JSON.
"""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from .config import load
from .errors import AnnotateError
from .model import SOURCE_KINDS, STANCES, TYPES, VERIFICATIONS

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSVS = ("sources", "outlets", "documents", "clusters")


class ReportConfig(BaseModel):
    """`configs/report.yaml`."""

    model_config = ConfigDict(extra="forbid")

    title: str = "Claims, sources and stances"
    max_articles: int = 50
    max_sources: int = 60
    max_outlets: int = 40
    max_clusters: int = 100
    max_appearances: int = 25
    chart_sources: int = 20
    matrix_sources: int = 20
    matrix_articles: int = 30
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "1GB"


def load_config(path: str | Path = "report.yaml", **overrides) -> ReportConfig:
    return load(path, ReportConfig, **overrides)


@dataclass
class ReportFiles:
    html: Path
    summary: Path
    csvs: dict[str, Path] = field(default_factory=dict)


# --- aggregates (DuckDB) ---------------------------------------------------------------------------------------

def _count(cond: str, name: str) -> str:
    return f"count(*) FILTER (WHERE {cond}) AS \"{name}\""


STANCE_COLS = ", ".join(_count(f"c.stance = '{s}'", s) for s in STANCES)
VERIF_COLS = ", ".join(_count(f"c.verification = '{v}'", v) for v in VERIFICATIONS)
KIND_COLS = ", ".join(_count(f"c.source.kind = '{k}'", k) for k in SOURCE_KINDS)
TYPE_COLS = ", ".join(_count(f"c.type = '{t}'", t) for t in TYPES if t != "other")
OUTLET = "coalesce(d.outlet, 'by ' || d.author, '(no outlet)')"

QUERIES = {
    "sources": f"""
        SELECT c.source.canonical AS source, mode(c.source.kind) AS kind, count(*) AS claims,
               count(DISTINCT c.doc_id) AS documents, count(DISTINCT {OUTLET}) AS outlets, {STANCE_COLS}, {VERIF_COLS}
        FROM claims c JOIN docs d ON c.doc_id = d.id
        WHERE c.type <> 'other' AND c.source IS NOT NULL
        GROUP BY 1 ORDER BY claims DESC, source""",
    "outlets": f"""
        SELECT {OUTLET} AS outlet, count(DISTINCT d.id) AS documents, count(c.claim_id) AS claims, {TYPE_COLS},
               {STANCE_COLS}, count(DISTINCT c.source.canonical) AS sources, {KIND_COLS},
               round(count(*) FILTER (WHERE c.source.kind = 'anonymous')
                     / greatest(count(*) FILTER (WHERE c.source IS NOT NULL), 1), 4) AS anonymous_share, {VERIF_COLS}
        FROM docs d LEFT JOIN claims c ON c.doc_id = d.id AND c.type <> 'other'
        GROUP BY 1 ORDER BY documents DESC, outlet""",
    "documents": f"""
        SELECT d.id AS doc_id, d.title, d.outlet, d.author, d.date, d.n_claims AS segments, count(c.claim_id) AS claims,
               {TYPE_COLS}, {STANCE_COLS}, count(DISTINCT c.source.canonical) AS sources, {KIND_COLS},
               round(count(*) FILTER (WHERE c.source.kind = 'anonymous')
                     / greatest(count(*) FILTER (WHERE c.source IS NOT NULL), 1), 4) AS anonymous_share, {VERIF_COLS}
        FROM docs d LEFT JOIN claims c ON c.doc_id = d.id AND c.type <> 'other'
        GROUP BY ALL ORDER BY d.id""",
    "clusters": f"""
        SELECT c.cluster_id, count(*) AS size, count(DISTINCT c.doc_id) AS documents,
               count(DISTINCT {OUTLET}) AS outlets, arg_min(c.text, c.doc_id || lpad(c.start::VARCHAR, 10, '0')) AS claim,
               k.origin.source AS origin_source, k.origin.kind AS origin_kind, k.verification, {STANCE_COLS}
        FROM claims c JOIN docs d ON c.doc_id = d.id LEFT JOIN clusters k ON k.cluster_id = c.cluster_id
        WHERE c.cluster_id IS NOT NULL
        GROUP BY c.cluster_id, k.origin.source, k.origin.kind, k.verification HAVING count(*) > 1
        ORDER BY documents DESC, size DESC, c.cluster_id""",
    "matrix": """
        SELECT c.source.canonical AS source, c.doc_id, count(*) AS claims
        FROM claims c WHERE c.type <> 'other' AND c.source IS NOT NULL GROUP BY 1, 2""",
}


def _connect(out: Path, cfg: ReportConfig):
    """A DuckDB connection with views `claims`, `docs` and `clusters` over the run's files."""
    import duckdb

    from .rundir import read_state

    if not out.is_dir():
        raise AnnotateError(f"{out}: no such run directory; run `annotate score --out {out}` first")
    shards = read_state(out).shards
    if not shards:
        raise AnnotateError(f"{out}: no scored documents to report on (see {out / 'errors.jsonl'})")
    con = duckdb.connect(config={"threads": cfg.duckdb_threads, "memory_limit": cfg.duckdb_memory_limit})

    def files(kind: str) -> str:
        return "[" + ", ".join("'" + str(out / "shards" / f"{s}.{kind}.parquet").replace("'", "''") + "'"
                               for s in shards) + "]"

    con.execute(f"CREATE VIEW claims AS SELECT * FROM read_parquet({files('claims')})")
    con.execute(f"CREATE VIEW docs AS SELECT * EXCLUDE (text) FROM read_parquet({files('docs')})")
    clusters = out / "clusters.jsonl"
    if clusters.exists() and clusters.stat().st_size:
        path = str(clusters).replace("'", "''")
        con.execute(f"""CREATE VIEW clusters AS SELECT * FROM read_json('{path}', format='newline_delimited',
                        columns={{'cluster_id': 'VARCHAR', 'verification': 'VARCHAR',
                                  'origin': 'STRUCT(source VARCHAR, kind VARCHAR, doc_id VARCHAR)'}})""")
    else:
        con.execute("CREATE VIEW clusters AS SELECT NULL::VARCHAR AS cluster_id, NULL::VARCHAR AS verification, "
                    "NULL::STRUCT(source VARCHAR, kind VARCHAR, doc_id VARCHAR) AS origin WHERE false")
    return con


def _records(con, sql: str, limit: int | None = None) -> list[dict]:
    cur = con.execute(sql if limit is None else f"SELECT * FROM ({sql}) LIMIT {int(limit)}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def summarize_run(con) -> dict[str, Any]:
    """Whole-run totals: documents, segments, types, stances, verification, source kinds, clusters."""
    def counts(col: str, where: str = "true") -> dict[str, int]:
        return {k: n for k, n in con.execute(f"SELECT {col}, count(*) FROM claims c WHERE {where} AND {col} IS NOT NULL "
                                             f"GROUP BY 1 ORDER BY 1").fetchall()}

    docs = con.execute("SELECT count(*) FROM docs").fetchone()[0]
    kinds = counts("c.source.kind", "c.type <> 'other'")
    attributed = sum(kinds.values())
    linked = con.execute("""SELECT count(*), count(*) FILTER (WHERE n_docs > 1) FROM (SELECT count(DISTINCT doc_id) AS n_docs
                            FROM claims WHERE cluster_id IS NOT NULL GROUP BY cluster_id HAVING count(*) > 1)""").fetchone()
    return {
        "documents": docs,
        "segments": con.execute("SELECT count(*) FROM claims").fetchone()[0],
        "claims": con.execute("SELECT count(*) FROM claims WHERE type <> 'other'").fetchone()[0],
        "types": counts("c.type"), "stances": counts("c.stance", "c.type <> 'other'"),
        "verification": counts("c.verification"),
        "sources": con.execute("SELECT count(DISTINCT source.canonical) FROM claims WHERE type <> 'other'").fetchone()[0],
        "source_kinds": kinds, "anonymous_share": round(kinds.get("anonymous", 0) / attributed, 4) if attributed else 0.0,
        "linked_clusters": linked[0], "cross_document_clusters": linked[1],
        "models": [r[0] for r in con.execute("SELECT DISTINCT model FROM claims ORDER BY 1").fetchall()],
    }


# --- articles --------------------------------------------------------------------------------------------------

def article_pieces(text: str, claims: list[dict]) -> list[dict]:
    """The text cut at every claim, source and cue boundary; each piece says which claim holds it and whose
    source or cue it is. Pieces cover the text exactly, in order."""
    bounds = {0, len(text)}
    for c in claims:
        for span in (c, c.get("source"), c.get("cue")):
            if span:
                bounds.update((span["start"], span["end"]))
    cuts = sorted(b for b in bounds if 0 <= b <= len(text))
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        holder = next((c for c in claims if c["type"] != "other" and c["start"] <= a and b <= c["end"]), None)
        src = [c["claim_id"] for c in claims if c.get("source") and c["source"]["start"] <= a and b <= c["source"]["end"]]
        cue = [c["claim_id"] for c in claims if c.get("cue") and c["cue"]["start"] <= a and b <= c["cue"]["end"]]
        pieces.append({"text": text[a:b], "claim": holder["claim_id"] if holder else None,
                       "source_of": " ".join(src), "cue_of": " ".join(cue)})
    return pieces


def _runs(pieces: list[dict]) -> list[dict]:
    """Consecutive pieces of one claim grouped, so each claim is one highlighted element."""
    runs: list[dict] = []
    for p in pieces:
        if runs and runs[-1]["claim"] == p["claim"]:
            runs[-1]["pieces"].append(p)
        else:
            runs.append({"claim": p["claim"], "pieces": [p]})
    return runs


def _articles(out: Path, limit: int) -> list[dict]:
    from .rundir import read_state, row_from_record

    articles: list[dict] = []
    for name in read_state(out).shards:
        docs = pq.read_table(out / "shards" / f"{name}.docs.parquet").to_pylist()[: limit - len(articles)]
        wanted = {d["id"] for d in docs}
        by_doc: dict[str, list[dict]] = {d: [] for d in wanted}
        for rec in pq.read_table(out / "shards" / f"{name}.claims.parquet").to_pylist():
            if rec["doc_id"] in wanted:
                by_doc[rec["doc_id"]].append(row_from_record(rec))
        for d in docs:
            claims = sorted(by_doc[d["id"]], key=lambda c: c["start"])
            by_id = {c["claim_id"]: c for c in claims}
            runs = _runs(article_pieces(d["text"], claims))
            for r in runs:
                r["claim"] = by_id.get(r["claim"])
            articles.append({"doc": d, "claims": claims, "runs": runs})
        if len(articles) >= limit:
            break
    return articles


def _clusters(out: Path, wanted: set[str], top: int) -> tuple[dict[str, dict], list[dict]]:
    """Linked clusters of the shown claims (for the panel) and the `top` most widely repeated (for the section)."""
    path = out / "clusters.jsonl"
    found: dict[str, dict] = {}
    heap: list[tuple] = []
    if not path.exists():
        return found, []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            rec = json.loads(line)
            if rec["size"] < 2:
                continue
            if rec["cluster_id"] in wanted:
                found[rec["cluster_id"]] = rec
            item = (len(rec["documents"]), rec["size"], -i, rec)
            if len(heap) < top:
                heapq.heappush(heap, item)
            elif item[:3] > heap[0][:3]:
                heapq.heapreplace(heap, item)
    return found, [h[3] for h in sorted(heap, key=lambda h: h[:3], reverse=True)]


def _matrix(con, cfg: ReportConfig, sources: list[dict]) -> dict:
    """Claims per (source, article) for the most quoted sources and the articles with the most claims."""
    top_sources = [s["source"] for s in sources[: cfg.matrix_sources]]
    top_docs = [r["doc_id"] for r in _records(con, f"SELECT doc_id FROM ({QUERIES['documents']}) "
                                                   f"ORDER BY claims DESC, doc_id LIMIT {int(cfg.matrix_articles)}")]
    cells = {(s, d): n for s, d, n in con.execute(QUERIES["matrix"]).fetchall() if s in top_sources and d in top_docs}
    return {"sources": top_sources, "docs": top_docs, "cells": {f"{s}\t{d}": n for (s, d), n in cells.items()},
            "max": max(cells.values(), default=1)}


def _panel_data(articles: list[dict], clusters: dict[str, dict], cap: int) -> dict:
    """What the claim panel reads: the shown claims, and their linked clusters once each (`cap` appearances)."""
    claims = {c["claim_id"]: {k: c.get(k) for k in ("claim_id", "doc_id", "text", "type", "type_scores", "source", "cue",
                                                   "stance", "stance_scores", "target", "model", "rules", "verification",
                                                   "cluster_id")}
              for a in articles for c in a["claims"] if c["type"] != "other"}
    fields = ("claim_id", "doc_id", "outlet", "source", "stance", "verification", "text")
    linked = {cid: {"size": k["size"], "appearances": [{f: x.get(f) for f in fields} for x in k["appearances"][:cap]]}
              for cid, k in clusters.items()}
    return {"claims": claims, "clusters": linked}


# --- the report ------------------------------------------------------------------------------------------------

def write_report(out_dir: str | Path, cfg: ReportConfig | None = None) -> ReportFiles:
    """Write `report.html`, `summary.json` and `sources.csv`/`outlets.csv`/`documents.csv`/`clusters.csv` into the run."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    cfg = cfg or load_config()
    out = Path(out_dir)
    con = _connect(out, cfg)
    articles = _articles(out, cfg.max_articles)
    meta = {a["doc"]["id"]: a["doc"] for a in articles}
    try:
        files = ReportFiles(out / "report.html", out / "summary.json")
        for name in CSVS:
            files.csvs[name] = out / f"{name}.csv"
            tmp = str(files.csvs[name]) + ".tmp"
            con.execute(f"COPY ({QUERIES[name]}) TO '{tmp.replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')")
            os.replace(tmp, files.csvs[name])
        summary = summarize_run(con)
        sources = _records(con, QUERIES["sources"], max(cfg.max_sources, cfg.matrix_sources, cfg.chart_sources, 25))
        outlets = _records(con, QUERIES["outlets"], cfg.max_outlets)
        shown = ", ".join("'" + d.replace("'", "''") + "'" for d in meta) or "NULL"
        documents = _records(con, f"SELECT * FROM ({QUERIES['documents']}) WHERE doc_id IN ({shown})")
        summary.update(top_sources=sources[:25], outlets=outlets,
                       files={"html": files.html.name, **{k: v.name for k, v in files.csvs.items()}})
        matrix = _matrix(con, cfg, sources)
    finally:
        con.close()
    wanted = {c["cluster_id"] for a in articles for c in a["claims"] if c.get("cluster_id")}
    panel_clusters, top_clusters = _clusters(out, wanted, cfg.max_clusters)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.get_template("report.html.j2").render(
        cfg=cfg, run=out.name, summary=summary, sources=sources[: cfg.max_sources], n_sources=summary["sources"],
        outlets=outlets, documents={d["doc_id"]: d for d in documents}, articles=articles,
        clusters=top_clusters, n_clusters=summary["linked_clusters"], matrix=matrix, shown=meta,
        panel=_panel_data(articles, panel_clusters, cfg.max_appearances), STANCES=STANCES, KINDS=SOURCE_KINDS, VERIFICATIONS=VERIFICATIONS,
        chart_sources=sources[: cfg.chart_sources])
    for path, text in ((files.html, html), (files.summary, json.dumps(summary, indent=2, ensure_ascii=False, default=str))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return files
