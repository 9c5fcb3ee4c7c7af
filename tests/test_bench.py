"""The benchmark's synthetic corpus and output format (its speed figures are printed, not asserted)."""

import json
from pathlib import Path

from annotate.bench import BenchResult, as_json, synthetic_corpus

ROOT = Path(__file__).resolve().parent.parent


def test_synthetic_corpus_resamples_sample_sentences(tmp_path):
    feed = tmp_path / "bench.jsonl"
    assert synthetic_corpus(feed, 25, sentences_per_doc=6, seed=3) == 25
    rows = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == 25
    corpus_text = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "corpus").glob("*.txt"))
    for r in rows:
        paragraphs = r["text"].split("\n")
        assert len(paragraphs) == 2
        # every resampled sentence occurs verbatim in the sample corpus
        probe = paragraphs[0][:40]
        assert probe in corpus_text
    again = tmp_path / "again.jsonl"
    synthetic_corpus(again, 25, sentences_per_doc=6, seed=3)
    assert again.read_text() == feed.read_text()


def test_json_output_leads_with_the_documented_keys():
    r = BenchResult(10, 100, 2.0, 50.0, 40, 4.0, 10.0, 5.0, 900.0, "m")
    d = json.loads(as_json(r))
    assert list(d)[:4] == ["claims_per_s", "baseline_claims_per_s", "ratio", "peak_rss_mb"]
    assert d["ratio"] == 5.0 and d["documents"] == 10
