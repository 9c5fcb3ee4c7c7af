"""`annotate score` end to end: output schema, bad input beside good, and resuming after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotate.cli import main
from annotate.model import Claim

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"doc_id", "claim_id", "sentence_index", "start", "end", "text", "type", "type_scores", "source", "cue",
        "stance", "stance_scores", "target", "model"}


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_score_writes_the_schema_and_survives_bad_files(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for f in (ROOT / "corpus").glob("00[12]*.txt"):
        (src / f.name).write_bytes(f.read_bytes())
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    (src / "bad.txt").write_bytes(b"caf\xe9 au lait")
    (src / "nav.html").write_text("<html><body><nav>Home</nav></body></html>", encoding="utf-8")
    (src / "feed.jsonl").write_text(json.dumps({"id": "j1", "text": "Officials claimed the strike hit a depot."})
                                    + "\n{broken\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["score", str(src), "--out", str(out), "--labeler", "rules", "--quiet"]) == 0
    captured = capsys.readouterr()
    for name in ("empty.txt", "binary.txt", "bad.txt", "nav.html", "feed.jsonl:2"):
        lines = [l for l in captured.err.splitlines() if name in l]
        assert len(lines) == 1 and lines[0].startswith("annotate: error:"), name
    assert "top sources" in captured.out and "ISPR" in captured.out
    rows = _rows(out / "claims.jsonl")
    assert {r["doc_id"] for r in rows} == {"001_2c9bbf579a3fe22b", "002_39c7f850962e6c01", "j1"}
    docs = {d["id"]: d["text"] for d in _rows(out / "documents.jsonl")}
    for r in rows:
        assert KEYS <= set(r) and r["model"] == "rules-0.1"
        assert docs[r["doc_id"]][r["start"]:r["end"]] == r["text"]
        assert Claim.from_row(r).to_row() == r
    assert len(_rows(out / "errors.jsonl")) == 5
    # a second run into the same folder must not mix runs
    assert main(["score", str(src), "--out", str(out), "--labeler", "rules", "--quiet"]) == 2


def test_killed_run_resumes_with_every_document_exactly_once(tmp_path):
    sentences = [s for f in sorted((ROOT / "corpus").glob("*.txt")) for s in f.read_text(encoding="utf-8").split(". ")[:6]]
    feed = tmp_path / "feed.jsonl"
    with feed.open("w", encoding="utf-8") as fh:
        for i in range(160):
            text = ". ".join(sentences[(i + k) % len(sentences)] for k in range(3)) + "."
            fh.write(json.dumps({"id": f"doc{i:04d}", "text": text}) + "\n")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "annotate.cli", "score", str(feed), "--out", str(out), "--labeler", "rules",
           "--shard-docs", "10", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = out / "manifest.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not manifest.exists() or len(manifest.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(manifest.read_text().splitlines())
    assert 3 <= done_before < 16, "the run should have been killed part-way"
    assert not (out / "claims.jsonl").exists()
    resumed = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "already done" in resumed.stdout
    ids = [r["id"] for r in _rows(out / "documents.jsonl")]
    assert sorted(ids) == [f"doc{i:04d}" for i in range(160)]
    claim_ids = [r["claim_id"] for r in _rows(out / "claims.jsonl")]
    assert len(claim_ids) == len(set(claim_ids))
    assert {c.split(":")[0] for c in claim_ids} == set(ids)


def test_ray_engine_gives_the_same_run_as_the_local_engine(tmp_path):
    pytest.importorskip("ray")
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert main(["score", str(ROOT / "corpus"), "--out", str(local), "--labeler", "rules", "--quiet"]) == 0
    assert main(["score", str(ROOT / "corpus"), "--out", str(distributed), "--labeler", "rules", "--quiet",
                 "--engine", "ray", "--shard-docs", "2"]) == 0
    assert _rows(distributed / "claims.jsonl") == _rows(local / "claims.jsonl")
    assert _rows(distributed / "documents.jsonl") == _rows(local / "documents.jsonl")
    assert len((distributed / "manifest.jsonl").read_text().splitlines()) == 3


def test_a_parse_worker_gives_the_same_claims_and_times_every_stage(tmp_path):
    """spaCy in a worker process (parse_workers) pipelines parsing with labeling; the claims are the same, and the run
    directory says where the time went."""
    from annotate.annotator import Annotator, pipeline_config
    from annotate.score import score_paths

    runs = {}
    for workers in (0, 1):
        annotator = Annotator(pipeline_config(labeler="rules", parse_workers=workers, verify=False, report=False))
        out = tmp_path / f"w{workers}"
        score_paths([ROOT / "corpus"], out, annotator, shard_docs=2, progress=False)
        annotator.close()
        runs[workers] = _rows(out / "claims.jsonl")
        stages = json.loads((out / "timings.json").read_text())
        assert {"parse_s", "attribute_s", "classify_s", "verify_s", "report_s"} <= set(stages)
        assert stages["parse_s"] > 0 and stages["attribute_s"] > 0 and stages["total_s"] >= stages["classify_s"]
    assert runs[1] == runs[0] and len(runs[0]) > 100
