"""The one way to score text: an `Annotator` segments, attributes and labels documents, in the manner of spaCy.

    import annotate
    ann = annotate.load()                                   # default settings and model (else the rules)
    doc = ann("Officials claimed the strike hit a depot. This seems far-fetched.", id="a", outlet="X")
    for c in doc.claims:
        c.type, c.stance, c.stance_scores, c.source, c.cue, c.target
    docs = ann.pipe(texts_or_records, batch_size=64)        # a generator, batched like the scorer

The CLI, the batch scorer (`score.py`), the Ray engine and the Label Studio backend all score through it.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .config import load as load_config_file
from .config import model_dir as find_model_dir
from .errors import InputError, ModelError
from .labeler import Labeler
from .model import Document
from .rules import RuleLabeler
from .segment import (
    PipelineConfig,
    body_texts,
    build_documents,
    pair_parses,
    parse_documents,
)


def pipeline_config(path: str | Path = "pipeline.yaml", **overrides) -> PipelineConfig:
    """The pipeline config, with `model_dir` resolved (`--model`, `ANNOTATE_MODEL_DIR`, the checkout's or the user's
    models folder)."""
    explicit = overrides.pop("model_dir", None)
    cfg = load_config_file(path, PipelineConfig, **overrides)
    configured = Path(cfg.model_dir)
    cfg.model_dir = str(find_model_dir(explicit or (configured if configured.is_absolute() else None),
                                       name=configured.name))
    return cfg


@lru_cache(maxsize=2)
def load_nlp(name: str, max_length: int):
    """The spaCy pipeline, loaded once per process; NER is kept because person names resolve sources."""
    import spacy

    nlp = spacy.load(name)
    nlp.max_length = max_length
    return nlp


def has_model(model_dir: str | Path) -> bool:
    d = Path(model_dir)
    return (d / "config.json").exists() and any(d.glob("*.safetensors"))


def load_labeler(cfg: PipelineConfig, say: Callable[[str], None] = lambda m: None) -> Labeler:
    """The configured labeler: the fine-tuned model when asked for or present, else the rules (and it says so)."""
    model_dir = Path(cfg.model_dir)
    if cfg.labeler == "rules":
        return RuleLabeler()
    if cfg.labeler == "model" and not has_model(model_dir):
        raise ModelError(f"{model_dir}: no trained model here; run `annotate train` first (or pass --model)")
    if has_model(model_dir):
        import torch

        from .classify import ClassifierLabeler

        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
        labeler = ClassifierLabeler(model_dir, batch_size=cfg.batch_size)
        labeler.fast_math(cfg.fast_math, say)
        return labeler
    say(f"no fine-tuned model in {model_dir}: falling back to the rule labeler ({RuleLabeler.name})")
    return RuleLabeler()


class Annotator:
    """A loaded pipeline: spaCy, the attributor and a labeler, with the settings they run with.

    `timings` adds up the seconds each stage has taken: `parse` (spaCy), `attribute` (segmenting claims, their
    sources and cues) and `classify` (the labeler)."""

    def __init__(self, cfg: PipelineConfig | None = None, labeler: Labeler | None = None,
                 say: Callable[[str], None] = lambda m: None):
        self.cfg = cfg or pipeline_config()
        self.labeler = labeler if labeler is not None else load_labeler(self.cfg, say)
        self.timings = {"parse": 0.0, "attribute": 0.0, "classify": 0.0}
        self._pool = None

    @property
    def name(self) -> str:
        """The labeler's name and version, as written into each claim's `model`."""
        return self.labeler.name

    @property
    def nlp(self):
        return load_nlp(self.cfg.spacy_model, self.cfg.spacy_max_length)

    def score(self, docs: list[Document]) -> list[Document]:
        """Segment, attribute and label a batch of documents in memory (in place; returns them)."""
        t0 = time.perf_counter()
        parses = parse_documents(docs, self.nlp, self.cfg, batch_size=self.cfg.batch_size)
        self.timings["parse"] += time.perf_counter() - t0
        return self._attribute_and_label(docs, parses)

    def _attribute_and_label(self, docs: list[Document], parses: list[list]) -> list[Document]:
        """Claims, sources and cues from the parses, then labels (timed as `attribute` and `classify`)."""
        t0 = time.perf_counter()
        build_documents(docs, parses)
        t1 = time.perf_counter()
        self.labeler.label(docs)
        self.timings["attribute"] += t1 - t0
        self.timings["classify"] += time.perf_counter() - t1
        return docs

    def score_safely(self, docs: list[Document]) -> tuple[list[Document], list[InputError]]:
        """`score`, retried document by document when the batch fails, so a bad document fails alone."""
        try:
            return self.score(docs), []
        except Exception:
            scored, errors = [], []
            for doc in docs:
                try:
                    scored.extend(self.score([doc]))
                except Exception as exc:
                    errors.append(InputError(doc.path or doc.id, f"could not be scored ({type(exc).__name__}: {exc})"))
            return scored, errors

    def stream(self, batches: Iterable[list[Document]]) -> Iterator[tuple[list[Document], list[Document],
                                                                           list[InputError]]]:
        """(batch, scored documents, errors) for each batch, in order. With `parse_workers` set, spaCy parses the
        next batch in a worker process while this one is attributed and labeled here (two stages on two cores);
        a batch that fails there is scored again here, document by document."""
        if self.cfg.parse_workers <= 0:
            for batch in batches:
                yield (batch, *self.score_safely(batch))
            return
        from collections import deque

        pending: deque = deque()
        for batch in batches:
            regs, bodies = body_texts(batch, self.cfg)
            try:
                future = self._parse_pool().submit(_parse_texts, bodies, self.cfg.batch_size)
            except Exception:  # a broken pool: parse here from now on
                self.close()
                self.cfg.parse_workers = 0
                future = None
            pending.append((batch, regs, future))
            if len(pending) > self.cfg.parse_workers:
                yield self._finish(*pending.popleft())
        while pending:
            yield self._finish(*pending.popleft())

    def _parse_pool(self):
        """The parse workers, started once. Forked: they run spaCy alone and never touch the labeler's torch."""
        if self._pool is None:
            import atexit
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.cfg.parse_workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_init_parser,
                                             initargs=(self.cfg.spacy_model, self.cfg.spacy_max_length))
            atexit.register(self.close)
        return self._pool

    def close(self) -> None:
        """Stop the parse workers, if any."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _finish(self, batch: list[Document], regs: list, future) -> tuple[list[Document], list[Document],
                                                                          list[InputError]]:
        from spacy.tokens import Doc

        try:
            if future is None:
                raise RuntimeError("no parse worker")
            blobs, seconds = future.result()
            parsed = [Doc(self.nlp.vocab).from_bytes(b) for b in blobs]
            self.timings["parse"] += seconds
            return batch, self._attribute_and_label(batch, pair_parses(regs, parsed)), []
        except Exception:
            fresh = [Document.from_record(d.to_record()) for d in batch]
            return (batch, *self.score_safely(fresh))

    def __call__(self, text: str, id: str = "doc", **meta: Any) -> Document:
        """One article as a scored `Document`; `meta` fills title, outlet, author, date, url."""
        return self.score([self._document(text, id, meta)])[0]

    def pipe(self, items: Iterable[str | dict | Document], batch_size: int | None = None) -> Iterator[Document]:
        """Scored `Document`s for texts, records ({"id", "text", ...}) or documents, in order, `batch_size` at a time."""
        size = batch_size or self.cfg.batch_size
        batch: list[Document] = []
        for n, item in enumerate(items):
            batch.append(self._coerce(item, n))
            if len(batch) >= size:
                yield from self.score(batch)
                batch = []
        if batch:
            yield from self.score(batch)

    def _coerce(self, item: str | dict | Document, n: int) -> Document:
        if isinstance(item, Document):
            return Document.from_record(item.to_record())
        if isinstance(item, str):
            return self._document(item, f"doc-{n}", {})
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            return self._document(item["text"], str(item.get("id") or f"doc-{n}"),
                                  {k: v for k, v in item.items() if k not in ("id", "text")})
        raise InputError(f"item {n}", "not a text, a record with a `text` field, or a Document")

    def _document(self, text: str, doc_id: str, meta: dict[str, Any]) -> Document:
        if len(text) > self.cfg.max_chars:
            raise InputError(doc_id, f"{len(text)} characters, more than max_chars ({self.cfg.max_chars})")
        return Document.from_record({"id": doc_id, "text": text, **meta})


def load(model: str | Path | None = None, config_dir: str | Path | None = None, labeler: str = "auto",
         say: Callable[[str], None] = lambda m: None) -> Annotator:
    """An `Annotator` with the default settings (overridden by `config_dir`, file by file) and the fine-tuned model
    (`model`, else the one `annotate train` wrote), falling back to the rules when there is none."""
    if config_dir is not None:
        from .config import set_config_dir

        set_config_dir(config_dir)
    return Annotator(pipeline_config(labeler=labeler, model_dir=model), say=say)


_PARSER = None


def _init_parser(name: str, max_length: int) -> None:
    """A parse worker's spaCy pipeline."""
    global _PARSER
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _PARSER = load_nlp(name, max_length)


def _parse_texts(texts: list[str], batch_size: int) -> tuple[list[bytes], float]:
    """In a parse worker: the texts parsed, as `Doc` bytes, and the seconds it took."""
    t0 = time.perf_counter()
    blobs = [d.to_bytes(exclude=["tensor", "user_data"]) for d in _PARSER.pipe(texts, batch_size=batch_size)]
    return blobs, time.perf_counter() - t0


def score_documents(docs: list[Document], labeler: Labeler, cfg: PipelineConfig | None = None) -> list[Document]:
    """Segment, attribute and label a batch of documents with `labeler` (an `Annotator` made for the call)."""
    return Annotator(cfg, labeler).score(docs)
