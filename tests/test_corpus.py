"""Loading articles: text kept byte for byte, metadata, and one-line errors for bad input."""

import json
from pathlib import Path

import pytest

from annotate.corpus import iter_documents, load_corpus
from annotate.errors import InputError

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _split(items):
    docs = [i for i in items if not isinstance(i, InputError)]
    errs = [i for i in items if isinstance(i, InputError)]
    return docs, errs


def test_text_files_keep_their_exact_text_and_manifest_metadata():
    docs, errs = _split(list(iter_documents([CORPUS])))
    assert not errs
    assert [d.id for d in docs] == sorted(p.stem for p in CORPUS.glob("*.txt"))
    for d in docs:
        assert d.text == (CORPUS / f"{d.id}.txt").read_bytes().decode("utf-8")
    by_id = {d.id: d for d in docs}
    assert by_id["004_35cbb02fa61e4a36"].outlet == "World Politics Review"
    assert by_id["002_39c7f850962e6c01"].title.startswith("Pakistan and China Deepen Defense Ties")


def test_corpus_as_dataset():
    ds, errs = load_corpus([CORPUS])
    assert not errs and ds.num_rows == 5
    assert set(ds.column_names) >= {"id", "text", "title", "outlet", "author", "date", "url", "path"}


def test_jsonl_records_and_malformed_lines(tmp_path):
    f = tmp_path / "batch.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "The army said it met.", "outlet": "X", "date": "2024-01-01"}),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "c", "text": "Officials claimed victory."}),
    ]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs, errs = _split(list(iter_documents([f])))
    assert [d.id for d in docs] == ["a", "c"]
    assert docs[0].outlet == "X" and docs[0].date == "2024-01-01"
    assert [e.where for e in errs] == [f"{f}:2", f"{f}:3", f"{f}:4"]
    assert "malformed JSON" in errs[0].reason and "missing or empty text" in errs[1].reason


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \n\n", "empty file"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        ("latin1.txt", "Pakistan’s army said".encode("utf-8")[:9] + "café".encode("latin-1"), "not valid UTF-8"),
        ("page.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    good = tmp_path / "good.txt"
    good.write_text("China supplied 81% of Pakistan's imported weapons.", encoding="utf-8")
    items = list(iter_documents([tmp_path / name, good]))
    docs, errs = _split(items)
    assert [d.id for d in docs] == ["good"]
    assert len(errs) == 1 and errs[0].where == str(tmp_path / name) and reason in errs[0].reason
    assert "\n" not in str(errs[0])


def test_html_article_text_is_extracted_and_empty_page_is_an_error(tmp_path):
    body = " ".join(["Pakistan's military said the talks in Beijing covered counter-terrorism cooperation."] * 6)
    page = f"""<html><head><title>Talks in Beijing</title></head><body>
    <nav><a href="/">Home</a> <a href="/world">World</a></nav>
    <article><h1>Talks in Beijing</h1><p>{body}</p><p>Analysts said the visit was largely ceremonial.</p></article>
    <footer>Subscribe now. Copyright 2025.</footer></body></html>"""
    (tmp_path / "article.html").write_text(page, encoding="utf-8")
    (tmp_path / "empty.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    docs, errs = _split(list(iter_documents([tmp_path])))
    assert [d.id for d in docs] == ["article"]
    assert "counter-terrorism cooperation" in docs[0].text and "Home" not in docs[0].text
    assert docs[0].title == "Talks in Beijing"
    assert len(errs) == 1 and errs[0].where.endswith("empty.html") and "no article text" in errs[0].reason


def test_oversized_article_is_refused_with_the_limit_named(tmp_path):
    big = tmp_path / "huge.txt"
    big.write_text("The army said the talks went well. " * 150_000, encoding="utf-8")  # ~5 MB
    assert big.stat().st_size > 5_000_000
    (tmp_path / "ok.txt").write_text("The army said the talks went well.", encoding="utf-8")
    docs, errs = _split(list(iter_documents([tmp_path], max_chars=1_000_000)))
    assert [d.id for d in docs] == ["ok"]
    assert "over the limit" in errs[0].reason and "max_chars" in errs[0].reason


def test_missing_path_is_an_error():
    with pytest.raises(InputError, match="no such file"):
        list(iter_documents(["/nonexistent/folder"]))
