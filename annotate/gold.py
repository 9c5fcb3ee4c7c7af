"""The project's hand labels: reading gold files into `Document`s with their gold claims.

Two kinds of gold file share the output schema (`Claim.to_row`, `model = "gold"`):
- `labels/gold.jsonl` over the seed articles in `corpus/`, rows with their `text`;
- `labels/voa-news.jsonl` over `../shared/datasets/voa-news/` (texts that may not be copied into the project):
  rows hold offsets only, and the text of each span is read from the article when the file is loaded.

Both are read by `gold_documents`; training (`train.py`) and evaluation (`evaluate.py`) build on it.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .errors import InputError
from .examples import example_from_claim
from .model import Claim, Document, Sentence

# A full stop, question or exclamation mark with closing quotes or brackets, then space: a sentence ends there,
# unless the full stop ends an initial or an abbreviation ("U.S.", "Harsh V. Pant", "Gen.", "Jan.").
SENTENCE_END = re.compile(r"(?<!\b[A-Z])(?<!\b(?:Mr|Ms|Dr|Lt|St|Sr|Jr|No|Co|vs))(?<!\b(?:Mrs|Gen|Col|Maj|Sgt|Adm|"
                          r"Rep|Sen|Gov|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Inc|Ltd|etc))(?<!\bCapt|\bSept)"
                          r"[.!?][\"”’)\]]*\s+")


def read_rows(path: Path) -> tuple[dict[str, list[dict]], list[InputError]]:
    """Gold rows grouped by document, in file order; bad lines become errors naming the line."""
    by_doc: dict[str, list[dict]] = {}
    errors: list[InputError] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            by_doc.setdefault(row["doc_id"], []).append(row)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            errors.append(InputError(f"{path}:{n}", f"not a gold row ({exc})"))
    return by_doc, errors


def with_text(row: dict, text: str) -> dict:
    """An offsets-only gold row with the `text` of the claim, source and cue filled in from the document."""
    row = {**row, "text": text[row["start"] : row["end"]]}
    for key in ("source", "cue"):
        if row.get(key):
            row[key] = {**row[key], "text": text[row[key]["start"] : row[key]["end"]]}
    return row


def rebuild_sentences(doc: Document) -> None:
    """`doc.sentences` from the gold claims' `sentence_index`.

    Gold claim spans leave attribution frames out ("X claimed that"), so a sentence also takes the text after the
    previous sentence's end (a line break, else a final full stop), and its cue and source stay inside it.
    """
    bounds: dict[int, tuple[int, int]] = {}
    for c in doc.claims:
        lo, hi = bounds.get(c.sentence_index, (c.start, c.end))
        bounds[c.sentence_index] = (min(lo, c.start), max(hi, c.end))
    prev = 0
    for i in sorted(bounds):
        lo, hi = bounds[i]
        gap = doc.text[prev:lo]  # a line break wins over a full stop, which may end an abbreviation ("V. Pant")
        cuts = [m.end() for m in re.finditer(r"\n\s*", gap)] or [m.end() for m in SENTENCE_END.finditer(gap)]
        bounds[i] = (prev + cuts[-1] if cuts else lo, hi)
        prev = hi
    n = max(bounds, default=-1) + 1
    doc.sentences = [Sentence(i, *bounds.get(i, (0, 0)), doc.text[slice(*bounds.get(i, (0, 0)))]) for i in range(n)]


def gold_documents(gold: Path, texts: Path | Iterable[Document], subset: bool = False
                   ) -> tuple[list[Document], list[InputError]]:
    """The labeled documents with their gold claims and sentences.

    `texts` is the folder of the articles (`corpus/`, or `voa-news/`) or the documents themselves; with `subset`,
    labels of other documents are passed over, else they are errors. Rows without `text` (offsets-only files) take
    it from the article; rows with it must match the article at their offsets.
    """
    from .corpus import iter_documents

    by_doc, errors = read_rows(gold)
    if isinstance(texts, Path):
        where = str(texts)
        texts = [d for d in iter_documents([texts]) if isinstance(d, Document)]
    else:
        where = "the given documents"
    by_id = {d.id: d for d in texts}
    docs = []
    for doc_id, rows in by_doc.items():
        if doc_id not in by_id:
            if not subset:
                errors.append(InputError(f"{gold}", f"document {doc_id!r} is not in {where}"))
            continue
        doc = Document.from_record(by_id[doc_id].to_record())
        claims = []
        for row in rows:
            full = with_text(row, doc.text) if "text" not in row else row
            c = Claim.from_row(full)
            if doc.text[c.start : c.end] != c.text or c.end > len(doc.text):
                errors.append(InputError(f"{gold}: {c.claim_id}", "text does not match the document at start:end"))
                continue
            claims.append(c)
        doc.claims = claims
        rebuild_sentences(doc)
        docs.append(doc)
    return docs, errors


def gold_examples(docs: Iterable[Document], weight: float = 1.0, exclude: Iterable[str] = (), chunk: int = 0
                  ) -> list[dict[str, Any]]:
    """Example rows of every gold claim that is not `other`, outside the excluded documents, with the rules'
    scores of the same segments (gold segmentation and attribution) as priors."""
    from .rules import RuleLabeler

    rows, skip = [], set(exclude)
    for d in docs:
        if d.id in skip:
            continue
        ruled = RuleLabeler().label_document(copy.deepcopy(d))
        rows += [example_from_claim(d, c, corpus="gold", weight=weight, rules=r, chunk=chunk)
                 for c, r in zip(d.claims, ruled.claims) if c.type != "other"]
    return rows


def pipeline_examples(docs: Iterable[Document], weight: float = 1.0, exclude: Iterable[str] = (), chunk: int = 0
                      ) -> list[dict[str, Any]]:
    """Rows of the claims the pipeline (segmenter, attributor, rules) finds in the gold documents, each labelled
    with the gold segment it overlaps most: the inputs, markers and priors the model sees when scoring."""
    from .annotator import score_documents
    from .metrics import align
    from .rules import RuleLabeler

    skip = set(exclude)
    gold = {d.id: d for d in docs if d.id not in skip}
    found = score_documents([Document.from_record(d.to_record()) for d in gold.values()], RuleLabeler())
    rows = []
    for doc in found:
        for c, g in zip(doc.claims, align(doc.claims, gold[doc.id].claims)):
            if c.type == "other" or g is None or g.type == "other":
                continue
            row = example_from_claim(doc, c, corpus="gold", weight=weight, labels=False, rules=c, chunk=chunk)
            rows.append({**row, "type": g.type, "stance": g.stance})
    return rows


def voa_documents(labels: Path | None, folder: Path, splits: Iterable[str] | None = None,
                  exclude_groups: Iterable[str] = ()) -> list[Document]:
    """The labeled voa-news articles of `splits` (all when None) outside the excluded topic groups, with their gold
    claims; none when the labels or the article folder are absent."""
    from .corpora import load_voa_news
    from .errors import ConfigError

    if labels is None or not labels.exists() or not folder.exists():
        return []
    wanted = None if splits is None else list(dict.fromkeys(splits))
    held_out = set(exclude_groups)
    texts = [d for s in (wanted or [None]) for d in load_voa_news(folder, s) if d.id[:2] not in held_out]
    docs, errors = gold_documents(labels, texts, subset=True)
    if errors:
        raise ConfigError(f"{labels}: {errors[0]}")
    return docs
