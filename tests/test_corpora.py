"""Public-corpus loaders: exact examples from hand-written fixtures in each format, bad lines skipped and
reported, and (when ../shared/datasets is present) the real corpora's counts and span texts."""

import logging
import re
from collections import defaultdict
from pathlib import Path

import pytest

from annotate import corpora as C
from annotate.errors import InputError
from annotate.examples import FEATURES

FIX = Path(__file__).resolve().parent / "fixtures" / "corpora"
NYT = "nyt_2016-01-05_senators-clash-over-budget-plan"
BB = "breitbart_2016-02-02_rally-draws-crowd-in-ohio"


def _text(sentence, a, b):
    return sentence[a:b] if a >= 0 else None


def _view(row):
    """(type, claim, source text, cue text) of an example row, read back through its offsets."""
    s = row["sentence"]
    assert row["claim"] == s[row["claim_start"]:row["claim_end"]]
    return row["type"], row["claim"], _text(s, row["source_start"], row["source_end"]), _text(s, row["cue_start"], row["cue_end"])


@pytest.fixture(scope="module")
def polnear(tmp_path_factory):
    st = C.LoadStats("polnear")
    ds = C.load_polnear(FIX / "polnear", "dev", cache_dir=tmp_path_factory.mktemp("cache"), stats=st)
    return ds, st


# --- PolNeAR ----------------------------------------------------------------------------------------------------

def test_polnear_examples_per_sentence(polnear):
    ds, _ = polnear
    assert ds.features == FEATURES
    rows = [r for r in ds if r["doc_id"] == NYT]
    assert [_view(r) for r in rows] == [
        ("unattributed", "The Senate passed the budget on Tuesday.", None, None),
        ("attributed", "the plan would cut taxes for families", "Senator Jane Doe", "said"),
        # content interrupted by its cue: the longer piece is the claim
        ("attributed", '"and we will keep going."', "she", "added"),
        # content running over a line break: each sentence gets its piece, source and cue only where they are
        ("attributed", "the program failed in three states", "the agency memo", "According to"),
        ("attributed", "and the costs doubled within two years", None, None),
        ("attributed", "the bill reckless", "Critics", "called"),
        ("unattributed", "The vote was 52 to 48.", None, None),
        # Attribution-no-source: the trigger is the cue
        ("attributed", "to pass the House next week", None, "is expected"),
    ]
    assert [r["claim_id"] for r in rows] == [f"{NYT}:{i}" for i in range(8)]
    assert {r["stance"] for r in rows} == {None} and {r["corpus"] for r in rows} == {"polnear"}
    third = rows[2]
    assert (third["claim_start"], third["claim_end"], third["source_start"], third["cue_start"]) == (31, 56, 20, 24)
    assert third["before"] == "Senator Jane Doe said the plan would cut taxes for families."
    assert third["after"] == "According to the agency memo, the program failed in three states"
    # the headline and the Discard span ("Read more here.") give no example
    assert not any("Budget Plan" in r["sentence"] or "Read more" in r["sentence"] for r in rows)


def test_polnear_uses_the_first_annotator(polnear):
    # c3d4 marked only the first attribution; a1b2 (alphabetically first) marked five
    ds, _ = polnear
    assert sum(r["type"] == "attributed" for r in ds if r["doc_id"] == NYT) == 6
    arts = C.polnear_articles(FIX / "polnear", "dev", C.LoadStats("polnear"))
    assert {d: ann.name for d, _, ann in arts}[NYT] == f"{NYT}_a1b2.ann"


def test_polnear_bad_lines_are_reported_and_skipped(polnear):
    ds, st = polnear
    assert st.records == 2 and st.skipped == 7 and st.examples == len(ds) == 10
    ann = f"{BB}_e5f6.ann"
    expect = {f"{ann}:6": "outside the text", f"{ann}:7": "unknown span label 'Opinion'", f"{ann}:8": "not a brat",
              f"{ann}:9": "unknown or skipped span T99", f"{ann}:10": "does not match the article",
              f"{ann}:11": "unknown role 'Speaker'", "article-without-annotations.txt": "no .ann file"}
    for where, reason in expect.items():
        assert sum(where + ": " in p and reason in p for p in st.problems) == 1, (where, st.problems)
    # the valid attribution of the same file is kept
    assert [_view(r) for r in ds if r["doc_id"] == BB] == [
        ("unattributed", "Thousands attended the rally in Ohio.", None, None),
        ("attributed", "that jobs would return", "Trump", "told")]
    assert st.labels == {"attributed": 7, "unattributed": 3}
    assert st.dropped == {"headline": 2, "discard/discuss": 1}


def test_polnear_warnings_name_file_and_line(caplog, tmp_path):
    with caplog.at_level(logging.WARNING, logger="annotate.corpora"):
        C.load_polnear(FIX / "polnear", "dev", cache_dir=tmp_path)
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 7
    assert any(m.endswith(f"{BB}_e5f6.ann:8: not a brat T/E line; skipped") for m in msgs)


def test_polnear_spans_relative_to_sentence(tmp_path):
    ds = C.polnear_spans(FIX / "polnear", "dev", cache_dir=tmp_path)
    by = {r["sentence"]: r for r in ds}
    assert len(ds) == 10
    quote = by['"It is a good day," she added, "and we will keep going."']
    s = quote["sentence"]
    assert [s[a:b] for a, b in quote["content_spans"]] == ['"It is a good day,"', '"and we will keep going."']
    assert [s[a:b] for a, b in quote["source_spans"]] == ["she"]
    assert [s[a:b] for a, b in quote["cue_spans"]] == ["added"]
    tail = by["and the costs doubled within two years."]
    assert tail["content_spans"] == [[0, 38]] and tail["source_spans"] == tail["cue_spans"] == []
    assert by["The vote was 52 to 48."]["content_spans"] == []


def test_polnear_sentence_cache_is_reused(tmp_path):
    first = C.load_polnear(FIX / "polnear", "dev", cache_dir=tmp_path).to_list()
    [pkl] = tmp_path.glob("polnear-sentences-senter-*.pkl")
    cache = C.SentenceCache("senter", tmp_path)
    assert len(cache.data) == 2  # the two annotated articles
    # a poisoned cache entry shows the loader reads boundaries from the cache, not from spaCy
    for key in cache.data:
        cache.data[key] = cache.data[key][:1] + cache.data[key][2:]
    cache.dirty = True
    cache.save()
    again = C.load_polnear(FIX / "polnear", "dev", cache_dir=tmp_path).to_list()
    assert len(again) < len(first)
    assert C.load_polnear(FIX / "polnear", "dev", cache_dir=None).to_list() == first


def test_polnear_limit_and_splits(tmp_path):
    assert len(C.load_polnear(FIX / "polnear", "dev", limit=3, cache_dir=tmp_path)) == 3
    with pytest.raises(InputError, match="unknown PolNeAR split 'test'"):
        C.load_polnear(FIX / "polnear", "test", cache_dir=tmp_path)
    with pytest.raises(InputError, match="no attributions/ folder"):
        C.load_polnear(FIX / "polnear", "train", cache_dir=tmp_path)


# --- CheckThat! ---------------------------------------------------------------------------------------------------

def test_checkthat_labels_and_bad_lines():
    st = C.LoadStats("checkthat")
    ds = C.load_checkthat(FIX / "checkthat2024-subjectivity-en", "train", stats=st)
    assert [(r["doc_id"], r["claim"], r["type"]) for r in ds] == [
        ("0b1e-aa01", "The ministry published the figures on Monday.", "objective"),
        ("0b1e-aa02", "This is, frankly, a disastrous policy.", "opinion"),
        ("0b1e-aa03", 'The minister said "we will act" after the vote.', "objective"),
        ("0b1e-aa04", "Only a fool would believe these numbers.", "opinion")]
    r = ds[2]
    assert r["sentence"] == r["claim"] and (r["claim_start"], r["claim_end"]) == (0, len(r["claim"]))
    assert r["before"] == r["after"] == "" and r["source_start"] == r["cue_start"] == -1
    assert st.records == 7 and st.skipped == 3
    assert [p.split("train_en.tsv:")[1] for p in st.problems] == [
        "6: 3 fields, expected 4; skipped", "7: unknown label 'NEUTRAL'; skipped",
        "8: empty sentence_id or sentence; skipped"]


def test_checkthat_three_column_split_and_fact_option():
    ds = C.load_checkthat(FIX / "checkthat2024-subjectivity-en", "dev_test", objective="fact")
    assert [(r["claim"], r["type"]) for r in ds] == [("Parliament will sit again in March.", "fact"),
                                                    ("It is a shameful betrayal of voters.", "opinion")]
    with pytest.raises(InputError, match="dev_en.tsv"):
        C.load_checkthat(FIX / "checkthat2024-subjectivity-en", "dev")  # no such fixture file
    with pytest.raises(InputError, match="objective"):
        C.load_checkthat(FIX / "checkthat2024-subjectivity-en", "train", objective="attributed")


# --- BABE ---------------------------------------------------------------------------------------------------------

def test_babe_labels_quoting_and_bad_rows():
    st = C.LoadStats("babe")
    ds = C.load_babe(FIX / "babe", stats=st)
    assert [(r["claim"], r["type"], r["weight"]) for r in ds] == [
        ('"Budget Day" arrives; lawmakers vote on the plan at noon.', "objective", 1.0),
        ("The senator's reckless plan will ruin the economy.", "opinion", 1.0),
        ("A quoted text\nthat spans two lines, as CSV allows.", "objective", 1.0)]
    assert ds[0]["doc_id"] == "https://example.org/news/budget-day"
    assert "label_bias" not in ds.column_names
    assert st.records == 7 and st.skipped == 2
    assert st.dropped == {"no agreement": 1, "somewhat factual but also opinionated": 1}
    assert [p.split("final_labels_SG2.csv:")[1] for p in st.problems] == [
        "6: unknown label_opinion 'Mostly factual'; skipped", "7: fewer fields than the 8 of the header; skipped"]


def test_babe_somewhat_opinionated_kept_with_low_weight():
    ds = C.load_babe(FIX / "babe", somewhat_weight=0.3, objective="fact")
    got = {r["claim"]: (r["type"], round(r["weight"], 3)) for r in ds}
    assert got["The bill, which critics call cruel, passed 52 to 48."] == ("opinion", 0.3)
    assert got["A quoted text\nthat spans two lines, as CSV allows."] == ("fact", 1.0)


def test_corpus_available():
    for name in ("polnear", "checkthat", "babe", "checkthat2024-subjectivity-en"):
        assert C.corpus_available(FIX, name)
    assert not C.corpus_available(FIX, "hedging")
    assert not C.corpus_available(FIX / "nowhere", "babe")


# --- the real corpora (skipped when ../shared/datasets is absent) ------------------------------------------------

ROOT = C.default_root()


@C.requires_dataset("checkthat")
def test_real_checkthat_counts():
    got = {}
    for split in ("train", "dev", "dev_test"):
        st = C.LoadStats("checkthat")
        C.load_checkthat(ROOT / C.FOLDERS["checkthat"], split, stats=st)
        assert st.skipped == 0
        got[split] = (st.examples, st.labels["opinion"], st.labels["objective"])
    assert got == {"train": (830, 298, 532), "dev": (219, 113, 106), "dev_test": (243, 127, 116)}


@C.requires_dataset("babe")
def test_real_babe_counts():
    st = C.LoadStats("babe")
    ds = C.load_babe(ROOT / C.FOLDERS["babe"], stats=st)
    assert st.records == 3674 and st.skipped == 0
    assert st.labels == {"objective": 1600, "opinion": 858} and len(ds) == 2458
    assert st.dropped == {"somewhat factual but also opinionated": 1000, "no agreement": 216}


def _brat_texts(folder: Path, doc_id: str) -> dict[str, set[str]]:
    """Written span texts per label of an article's .ann files, read independently of the loader."""
    out = defaultdict(set)
    for ann in folder.glob(f"{doc_id}_*.ann"):
        for m in re.finditer(r"^T\d+\t(\S+) [\d; ]+\t(.*)$", ann.read_text(encoding="utf-8"), re.M):
            out[m.group(1)].add(m.group(2))
    return out


@C.requires_dataset("polnear")
def test_real_polnear_dev_spans_match_the_annotations():
    st = C.LoadStats("polnear")
    ds = C.load_polnear(ROOT / "polnear", "dev", stats=st)
    assert st.records == 84 and st.skipped == 0
    assert st.labels["attributed"] > 2000 and st.labels["unattributed"] > 500
    folder = ROOT / "polnear" / "dev" / "attributions"
    texts = {}
    bad = []
    for r in ds:
        brat = texts.setdefault(r["doc_id"], _brat_texts(folder, r["doc_id"]))
        t, claim, src, cue = _view(r)
        if t != "attributed":
            continue
        if not any(claim in c for c in brat["Content"]):
            bad.append(("content", claim))
        if src is not None and not any(src in s for s in brat["Source"]):
            bad.append(("source", src))
        if cue is not None and not any(cue in c for c in brat["Cue"] | brat["Attribution-no-source"]):
            bad.append(("cue", cue))
    assert not bad, bad[:5]
