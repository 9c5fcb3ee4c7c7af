"""The hand-labeled seed gold (labels/gold.jsonl): offsets, label sets, coverage, sources and the guide's examples."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from annotate.model import SOURCE_KINDS, STANCES, TYPES, Claim

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "labels" / "gold.jsonl"
GUIDE = ROOT / "labels" / "GUIDE.md"
CORPUS = ROOT / "corpus"
PRONOUNS = {"he", "she", "it", "they", "him", "her", "them"}
FINAL_PUNCT = ".,;:!?"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {p.stem: p.read_bytes().decode("utf-8") for p in sorted(CORPUS.glob("*.txt"))}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def by_doc(rows) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["doc_id"], []).append(r)
    return out


@pytest.fixture(scope="module")
def aliases() -> dict[str, tuple[str, str]]:
    """Lower-cased alias -> (canonical, kind) from configs/sources.yaml."""
    raw = yaml.safe_load((ROOT / "configs" / "sources.yaml").read_text(encoding="utf-8"))
    out = {}
    for canon, entry in raw["sources"].items():
        for a in [canon, *entry.get("aliases", [])]:
            out[a.lower()] = (canon, entry["kind"])
    return out


def one(rows: list[dict], doc_prefix: str, snippet: str) -> dict:
    hits = [r for r in rows if r["doc_id"].startswith(doc_prefix) and snippet in r["text"]]
    assert len(hits) == 1, f"{len(hits)} gold rows of {doc_prefix} contain {snippet!r}"
    return hits[0]


def test_rows_parse_and_every_document_is_labeled(rows, texts):
    claims = [Claim.from_row(r) for r in rows]
    assert [c.claim_id for c in claims] == [r["claim_id"] for r in rows]
    assert all(r["model"] == "gold" for r in rows)
    assert sorted({r["doc_id"] for r in rows}) == sorted(texts)
    # documents appear in file order, one block each
    order = [r["doc_id"] for r in rows]
    assert order == sorted(order)


def test_spans_equal_document_slices(rows, texts):
    for r in rows:
        text = texts[r["doc_id"]]
        where = r["claim_id"]
        assert text[r["start"] : r["end"]] == r["text"], where
        for key in ("source", "cue"):
            span = r[key]
            if span:
                assert text[span["start"] : span["end"]] == span["text"], f"{where} {key}"
                # source and cue lie outside the claim's own span
                assert span["end"] <= r["start"] or span["start"] >= r["end"], f"{where} {key} inside claim"


def test_labels_are_in_the_allowed_sets(rows):
    for r in rows:
        where = r["claim_id"]
        assert r["type"] in TYPES, where
        if r["type"] == "other":
            assert r["stance"] is None and r["source"] is None and r["cue"] is None and r["target"] is None, where
            continue
        assert r["stance"] in STANCES, where
        if r["type"] == "attributed":
            assert r["source"] and r["source"]["kind"] in SOURCE_KINDS and r["source"]["canonical"], where
        else:
            assert r["source"] is None and r["cue"] is None, where


def test_claim_ids_unique_in_order_and_segments_disjoint(by_doc):
    for doc_id, rs in by_doc.items():
        assert [r["claim_id"] for r in rs] == [f"{doc_id}:{n}" for n in range(len(rs))]
        assert [r["sentence_index"] for r in rs] == sorted(r["sentence_index"] for r in rs)
        for a, b in zip(rs, rs[1:]):
            assert a["end"] <= b["start"], f"{a['claim_id']} overlaps or precedes {b['claim_id']}"


def test_claim_spans_are_trimmed_clauses(rows):
    for r in rows:
        assert r["text"] == r["text"].strip() and r["text"], r["claim_id"]
        if r["type"] != "other":
            assert r["text"][-1] not in FINAL_PUNCT, f"{r['claim_id']} keeps final punctuation"


def test_no_line_of_a_document_is_left_uncovered(by_doc, texts):
    for doc_id, text in texts.items():
        spans = [(r["start"], r["end"]) for r in by_doc[doc_id]]
        pos = 0
        for line in text.splitlines(keepends=True):
            start, end = pos, pos + len(line.rstrip("\r\n"))
            pos += len(line)
            if text[start:end].strip():
                assert any(s < end and e > start for s, e in spans), f"{doc_id}: uncovered line {text[start:end][:50]!r}"


def test_targets_point_at_other_claims_of_the_same_document(rows):
    ids = {r["claim_id"]: r for r in rows}
    targeted = [r for r in rows if r["target"]]
    assert targeted
    for r in targeted:
        t = ids.get(r["target"])
        assert t is not None and t["doc_id"] == r["doc_id"] and t is not r, r["claim_id"]
        assert t["type"] != "other", r["claim_id"]


def test_sources_are_configured_or_anonymous(rows, aliases):
    """Named canonical sources are in configs/sources.yaml (as a named source or a state) with their kind, and
    the longest alias inside a source span gives the gold canonical."""
    cfg = yaml.safe_load((ROOT / "configs" / "sources.yaml").read_text(encoding="utf-8"))
    states, bodies = cfg["states"], cfg["bodies"]
    canon_kind = {c: k for c, k in aliases.values()} | {st: "official" for st in states} | \
        {f"{st} {b}": "official" for st in states for b in bodies}
    names = {a: c for a, (c, _) in aliases.items()} | {n.lower(): st for st, ns in states.items() for n in [st, *ns]}
    names |= {f"{n} {w}".lower(): f"{st} {b}" for st, ns in states.items() for n in [st, *ns]
              for b, ws in bodies.items() for w in [b, *ws]}
    for r in rows:
        src = r["source"]
        if not src or src["kind"] == "anonymous":
            continue
        where = r["claim_id"]
        assert src["canonical"] in canon_kind, f"{where}: {src['canonical']!r} not in configs/sources.yaml"
        assert canon_kind[src["canonical"]] == src["kind"], where
        if src["text"].lower() in PRONOUNS:
            continue
        found = [a for a in names if re.search(rf"(?<!\w){re.escape(a)}(?!\w)", src["text"], re.IGNORECASE)]
        assert found, f"{where}: no alias in {src['text']!r}"
        assert names[max(found, key=len)] == src["canonical"], f"{where}: {src['text']!r}"


def test_gold_covers_the_phenomena_the_rules_are_tested_on(by_doc, rows):
    labeled = [r for r in rows if r["type"] != "other"]
    attributed = [r for r in labeled if r["type"] == "attributed"]
    carried = [r for r in attributed if r["cue"] is None]
    pronoun = [r for r in attributed if r["source"]["text"].lower() in PRONOUNS]
    anonymous = [r for r in attributed if r["source"]["kind"] == "anonymous"]
    scare = [r for r in labeled if r["stance"] == "sceptical" and "“" in r["text"]]
    coordinated = [k for k, n in Counter((r["doc_id"], r["sentence_index"]) for r in labeled).items() if n > 1]
    assert len(labeled) >= 30
    assert min(len(carried), len(pronoun), len(anonymous), len(scare), len(coordinated)) >= 2
    assert sum(r["type"] == "other" for r in rows) >= 10
    assert {r["stance"] for r in labeled} == set(STANCES)


def test_guide_counts_match_the_file(rows):
    guide = GUIDE.read_text(encoding="utf-8")
    counts = Counter(r["type"] for r in rows) + Counter(f"stance {r['stance']}" for r in rows if r["stance"])
    for name in [*TYPES, *(f"stance {s}" for s in STANCES)]:
        m = re.search(rf"^\| {re.escape(name)} \| (\d+) \|", guide, re.MULTILINE)
        assert m, f"GUIDE.md has no count row for {name}"
        assert int(m.group(1)) == counts[name], name
    m = re.search(r"^\| segments \| (\d+) \|", guide, re.MULTILINE)
    assert m and int(m.group(1)) == len(rows)


# --- the worked examples of the annotation guide, section 6 (and section 1) --------------------------------


def test_example_military_statement_claimed(rows):
    r = one(rows, "001", "the Chinese military leadership reiterated full confidence")
    assert r["type"] == "attributed" and r["stance"] == "sceptical"
    assert r["source"]["text"] == "A military statement emanating from Pakistan"
    assert (r["source"]["canonical"], r["source"]["kind"]) == ("ISPR", "official")
    assert r["cue"]["text"] == "claimed"
    assert "“regional peace”" in r["text"]


def test_example_far_fetched_targets_preceding_attributed_claim(rows):
    r = one(rows, "001", "This seems far-fetched")
    assert (r["type"], r["stance"]) == ("opinion", "sceptical")
    doc = [q for q in rows if q["doc_id"] == r["doc_id"]]
    before = [q for q in doc[: doc.index(r)] if q["type"] == "attributed"]
    assert r["target"] == before[-1]["claim_id"]


def test_example_according_to_ispr(rows):
    r = one(rows, "002", "the engagements featured")
    assert (r["type"], r["stance"]) == ("attributed", "neutral")
    assert "ISPR" in r["source"]["text"] and (r["source"]["canonical"], r["source"]["kind"]) == ("ISPR", "official")
    assert r["cue"]["text"] == "According to"


def test_example_not_independently_verified(rows):
    r = one(rows, "002", "these claims have not been independently verified")
    assert (r["type"], r["stance"]) == ("fact", "sceptical")
    target = next(q for q in rows if q["claim_id"] == r["target"])
    assert target["sentence_index"] == r["sentence_index"] - 1 and target["type"] == "attributed"
    first = min((q for q in rows if q["doc_id"] == r["doc_id"] and q["sentence_index"] == target["sentence_index"]),
                key=lambda q: q["start"])
    assert target is first


def test_example_pakistan_claimed_success_is_three_claims(rows):
    parts = [one(rows, "002", s) for s in ("success in the conflict", "shot down six Indian fighter jets",
                                         "targeted Indian military installations")]
    assert all(p["type"] == "attributed" for p in parts)
    assert len({(p["source"]["canonical"], p["sentence_index"]) for p in parts}) == 1


def test_example_general_zhang_direct_quote(rows):
    r = one(rows, "000", "The Chinese military is willing to cooperate")
    assert (r["type"], r["stance"]) == ("attributed", "endorse")
    assert r["source"]["text"] == "General Zhang"
    assert (r["source"]["canonical"], r["source"]["kind"]) == ("Zhang Youxia", "official")
    assert r["cue"]["text"] == "continued"
    assert r["text"][0] not in "“\"" and r["text"][-1] not in "”\""


def test_example_reliable_sources(rows):
    r = one(rows, "001", "Munir was under severe pressure")
    assert (r["type"], r["stance"]) == ("attributed", "endorse")
    assert r["source"]["text"] == "reliable sources" and r["source"]["kind"] == "anonymous"
    assert r["cue"]["text"] == "indicate"


def test_example_paywall_is_other(rows):
    assert one(rows, "004", "Keep reading for free!")["type"] == "other"
    subscription = [r for r in rows if r["doc_id"].startswith("004") and "subscri" in r["text"].lower()]
    assert len(subscription) >= 3 and all(r["type"] == "other" for r in subscription)
