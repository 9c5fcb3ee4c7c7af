"""Load articles from plain text, JSONL and HTML files into `Document`s and `datasets.Dataset`s.

Loading never stops at a bad file or record: it yields an `InputError` naming the file (and
line) in its place and goes on, so the caller can record it and score the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import yaml
from datasets import Dataset, Features, Value

from .errors import InputError
from .model import Document

SUFFIXES = {".txt": "text", ".jsonl": "jsonl", ".html": "html", ".htm": "html"}
MANIFEST = "manifest.yaml"
RECORD_FEATURES = Features({k: Value("string") for k in ("id", "text", *Document.META)})


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the article files inside named folders (sorted, recursive)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(str(p), "no such file or folder")
    return out


def _manifest(folder: Path, cache: dict[Path, dict]) -> dict:
    """Metadata per document id from `manifest.yaml` in the file's folder (empty when there is none)."""
    if folder not in cache:
        f = folder / MANIFEST
        cache[folder] = (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("documents", {}) if f.exists() else {}
    return cache[folder]


def decode(data: bytes, where: str) -> str:
    """Bytes as UTF-8 text, or an InputError saying why they are not an article."""
    if not data.strip():
        raise InputError(where, "empty file")
    if b"\x00" in data[:8192]:
        raise InputError(where, "binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not valid UTF-8 (byte {exc.start}); re-encode the file as UTF-8") from None


def _sized(doc: Document, where: str, max_chars: int) -> Document | InputError:
    """The document, or an error when it is longer than `max_chars`."""
    if len(doc.text) > max_chars:
        return InputError(where, f"article has {len(doc.text):,} characters, over the limit of {max_chars:,}; "
                                 "raise max_chars in configs/pipeline.yaml to score it")
    return doc


def load_text(path: Path, meta: dict | None = None) -> Document:
    """A `.txt` article; its text is the file decoded as UTF-8, byte for byte, so offsets match the file."""
    text = decode(path.read_bytes(), str(path))
    fields = {k: v for k, v in (meta or {}).items() if k in Document.META}
    return Document(id=path.stem, text=text, path=str(path), **{k: (str(v) if v is not None else None) for k, v in fields.items()})


def load_jsonl(path: Path) -> Iterator[Document | InputError]:
    """One article per line: `id`, `text`, optional `title`, `outlet`, `author`, `date`, `url`."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                rec = json.loads(decode(raw, where))
            except InputError as exc:
                yield exc
                continue
            except json.JSONDecodeError as exc:
                yield InputError(where, f"malformed JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(rec, dict):
                yield InputError(where, "expected a JSON object with `id` and `text`")
                continue
            missing = [k for k in ("id", "text") if not isinstance(rec.get(k), str) or not rec.get(k).strip()]
            if missing:
                yield InputError(where, f"missing or empty {', '.join(missing)}")
                continue
            meta = {k: (str(rec[k]) if rec.get(k) is not None else None) for k in Document.META if k != "path"}
            yield Document(id=rec["id"], text=rec["text"], path=where, **meta)


def load_html(path: Path, min_words: int = 5) -> Document:
    """An HTML page: the main text extracted with trafilatura becomes the document text."""
    import trafilatura

    html = decode(path.read_bytes(), str(path))
    try:
        result = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, favor_precision=True)
    except Exception as exc:  # trafilatura raises assorted parser errors on broken markup
        raise InputError(str(path), f"HTML could not be parsed ({type(exc).__name__})") from None
    text = getattr(result, "text", None) if result is not None else None
    if not text or len(text.split()) < min_words:  # navigation crumbs are not an article
        raise InputError(str(path), "no article text found in the HTML page")
    return Document(
        id=path.stem,
        text=text,
        title=getattr(result, "title", None),
        outlet=getattr(result, "sitename", None),
        author=getattr(result, "author", None),
        date=getattr(result, "date", None),
        url=getattr(result, "url", None),
        path=str(path),
    )


def iter_documents(paths: Iterable[str | Path], max_chars: int = 1_000_000, html_min_words: int = 5) -> Iterator[Document | InputError]:
    """Every article under `paths`, in order; an `InputError` stands in for each one that cannot be read."""
    manifests: dict[Path, dict] = {}
    for path in expand_paths(paths):
        kind = SUFFIXES.get(path.suffix.lower())
        try:
            if kind == "jsonl":
                for item in load_jsonl(path):
                    yield item if isinstance(item, InputError) else _sized(item, item.path or str(path), max_chars)
                continue
            if kind == "html":
                doc = load_html(path, html_min_words)
            elif kind == "text":
                doc = load_text(path, _manifest(path.parent, manifests).get(path.stem))
            else:
                raise InputError(str(path), f"unsupported file type {path.suffix!r} (use .txt, .jsonl or .html)")
            yield _sized(doc, str(path), max_chars)
        except InputError as exc:
            yield exc
        except OSError as exc:
            yield InputError(str(path), f"cannot be read ({exc.strerror or exc})")


def to_dataset(docs: Iterable[Document]) -> Dataset:
    """Documents as a `datasets.Dataset` of flat records (id, text and metadata)."""
    return Dataset.from_list([d.to_record() for d in docs], features=RECORD_FEATURES)


def iter_datasets(items: Iterable[Document | InputError], chunk_size: int, errors: list[InputError]) -> Iterator[Dataset]:
    """Stream documents as Datasets of `chunk_size` records; errors are appended to `errors` as they come."""
    chunk: list[Document] = []
    for item in items:
        if isinstance(item, InputError):
            errors.append(item)
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            yield to_dataset(chunk)
            chunk = []
    if chunk:
        yield to_dataset(chunk)


def load_corpus(paths: Iterable[str | Path], max_chars: int = 1_000_000) -> tuple[Dataset, list[InputError]]:
    """A whole corpus as one Dataset, plus the errors of the files and records that could not be read."""
    docs, errors = [], []
    for item in iter_documents(paths, max_chars):
        (errors if isinstance(item, InputError) else docs).append(item)
    return to_dataset(docs), errors
