"""Reports: aggregates against the claims they summarise, escaping of hostile articles, and a real headless Chromium."""

import csv
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from annotate.annotator import Annotator, pipeline_config
from annotate.cli import main
from annotate.errors import AnnotateError, ConfigError
from annotate.report import article_pieces, load_config, write_report
from annotate.score import score_paths

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE = ("<script>window.__pwned = 1</script> Officials said that the <img src=x onerror=\"window.__pwned=2\"> "
           "depot was hit on Monday. The ministry claimed that </script><script>window.__pwned=3</script> the strike "
           "failed.")


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _score(src, out):
    cfg = pipeline_config(labeler="rules")  # verify and report as configured: true
    score_paths([src], out, Annotator(cfg), progress=False)


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "seeds"
    _score(ROOT / "corpus", out)
    return out


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    src = tmp_path_factory.mktemp("hostile-in")
    (src / "feed.jsonl").write_text(json.dumps({
        "id": "evil<script>", "text": HOSTILE, "title": "<script>window.__pwned=4</script>Title",
        "outlet": "<b onmouseover=\"window.__pwned=5\">Outlet</b>"}) + "\n", encoding="utf-8")
    out = src.parent / "hostile-run"
    _score(src, out)
    return out


def test_score_writes_the_report_files(seed_run):
    for name in ("report.html", "summary.json", "sources.csv", "outlets.csv", "documents.csv", "clusters.csv"):
        assert (seed_run / name).stat().st_size > 0, name
    assert not list(seed_run.glob("*.tmp"))


def test_aggregates_agree_with_the_claims(seed_run):
    rows = [r for r in _rows(seed_run / "claims.jsonl") if r["type"] != "other"]
    summary = json.loads((seed_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["documents"] == 5 and summary["claims"] == len(rows)
    assert summary["stances"] == dict(Counter(r["stance"] for r in rows))
    assert summary["verification"] == dict(Counter(r["verification"] for r in rows))
    attributed = [r for r in rows if r["source"]]
    anon = sum(r["source"]["kind"] == "anonymous" for r in attributed)
    assert summary["anonymous_share"] == pytest.approx(anon / len(attributed), abs=1e-4)
    sources = {s["source"]: s for s in _csv(seed_run / "sources.csv")}
    by_source = Counter((r["source"]["canonical"], r["stance"]) for r in attributed)
    assert set(sources) == {r["source"]["canonical"] for r in attributed}
    for (name, stance), n in by_source.items():
        assert int(sources[name][stance]) == n, (name, stance)
    assert int(sources["ISPR"]["documents"]) == len({r["doc_id"] for r in attributed if r["source"]["canonical"] == "ISPR"})
    docs = {d["doc_id"]: d for d in _csv(seed_run / "documents.csv")}
    per_doc = Counter(r["doc_id"] for r in rows)
    assert {k: int(v["claims"]) for k, v in docs.items()} == dict(per_doc)
    outlets = {o["outlet"]: o for o in _csv(seed_run / "outlets.csv")}
    assert int(outlets["Firstpost"]["claims"]) == per_doc["001_2c9bbf579a3fe22b"]
    assert int(outlets["(no outlet)"]["documents"]) == 2  # 002 and 003 name neither outlet nor author
    sizes = Counter(r["cluster_id"] for r in rows)
    clusters = _csv(seed_run / "clusters.csv")
    assert clusters and all(int(c["size"]) == sizes[c["cluster_id"]] > 1 for c in clusters)
    assert {c["cluster_id"] for c in clusters} == {k for k, n in sizes.items() if n > 1}


def test_article_pieces_cover_the_text_and_each_claim():
    text = "Officials said that the depot was hit. It burned."
    claims = [
        {"claim_id": "d:0", "type": "attributed", "start": 20, "end": 37, "source": {"start": 0, "end": 9}, "cue": {"start": 10, "end": 14}},
        {"claim_id": "d:1", "type": "fact", "start": 39, "end": 48, "source": None, "cue": None},
    ]
    pieces = article_pieces(text, claims)
    assert "".join(p["text"] for p in pieces) == text
    assert "".join(p["text"] for p in pieces if p["claim"] == "d:0") == "the depot was hit"
    assert [p["text"] for p in pieces if p["source_of"] == "d:0"] == ["Officials"]
    assert [p["text"] for p in pieces if p["cue_of"] == "d:0"] == ["said"]


def test_hostile_article_is_escaped(hostile_run):
    html = (hostile_run / "report.html").read_text(encoding="utf-8")
    # exactly the report's own two script elements (the JSON data and the code), none from the article
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "<img" not in html and "<b onmouseover" not in html
    assert "window.__pwned = 1&lt;/script&gt;" in html and "the &lt;img src=x onerror=" in html
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=3" in html


def test_article_cap_keeps_aggregates_complete(seed_run, tmp_path):
    run = tmp_path / "capped"
    shutil.copytree(seed_run, run)
    write_report(run, load_config(max_articles=2))
    html = (run / "report.html").read_text(encoding="utf-8")
    assert html.count('<article class="doc"') == 2
    assert "The first 2 of 5 articles" in html
    assert json.loads((run / "summary.json").read_text())["documents"] == 5
    assert len(_csv(run / "documents.csv")) == 5


def test_report_cli_and_bad_inputs(seed_run, tmp_path, capsys):
    run = tmp_path / "cli"
    shutil.copytree(seed_run, run)
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").exists() and "report.html" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "missing: no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotateError, match="no scored documents"):
        write_report(tmp_path / "empty")
    bad = tmp_path / "report.yaml"
    bad.write_text("max_articles: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="report.yaml: max_articles"):
        load_config(bad)


# --- in a real browser -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = f"{CHROMIUM} or {CHROMEDRIVER} missing (Debian packages chromium, chromium-driver: `make browser`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="annotate-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1440,1000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.browser
def test_seed_report_in_chromium(browser, seed_run):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get((seed_run / "report.html").as_uri())
    assert _severe(browser) == []
    rows = [r for r in _rows(seed_run / "claims.jsonl") if r["type"] != "other"]
    for doc_id, n in Counter(r["doc_id"] for r in rows).items():
        shown = browser.find_elements(By.CSS_SELECTOR, f'[id="doc-{doc_id}"] .claim[data-claim]')
        assert len(shown) == n, doc_id
    ispr = next(r for r in rows if r["doc_id"].startswith("002") and "comprehensive exchanges" in r["text"])
    node = browser.find_element(By.ID, f"c-{ispr['claim_id']}")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", node)
    ActionChains(browser).move_to_element(node).perform()
    panel = browser.find_element(By.ID, "panel")
    assert "ISPR" in browser.find_element(By.ID, "p-source").text
    assert browser.find_element(By.ID, "p-cue").text == "“According to”"
    assert "Firstpost" in browser.find_element(By.ID, "p-others").text  # 001 carries the same statement
    # the claim's source span in the text is lit up with it
    assert browser.find_elements(By.CSS_SELECTOR, ".src.hl") and "ISPR" in browser.find_element(By.CSS_SELECTOR, ".src.hl").text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-seeds.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    flagged = next(r for r in rows if r["doc_id"].startswith("001") and "lauded" in r["text"])
    node = browser.find_element(By.ID, f"c-{flagged['claim_id']}")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", node)
    node.click()
    assert browser.find_element(By.ID, "p-ver").text == "flagged"
    assert "pinned" in panel.text
    ActionChains(browser).move_to_element(browser.find_element(By.ID, f"c-{ispr['claim_id']}")).perform()
    assert browser.find_element(By.ID, "p-ver").text == "flagged"  # pinned: hovering elsewhere keeps it
    assert _severe(browser) == []


@pytest.mark.browser
def test_hostile_report_runs_no_article_script(browser, hostile_run):
    from selenium.webdriver.common.by import By

    browser.get((hostile_run / "report.html").as_uri())
    time.sleep(0.2)
    assert browser.execute_script("return window.__pwned === undefined")
    assert "<script>window.__pwned = 1</script>" in browser.find_element(By.CSS_SELECTOR, "article .text").text
    for node in browser.find_elements(By.CSS_SELECTOR, ".claim[data-claim]"):
        node.click()
        node.click()
    assert browser.execute_script("return window.__pwned === undefined")
    assert _severe(browser) == []
