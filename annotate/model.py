"""The one data model: documents, sentences, claims and the spans inside them.

Every stage reads and writes these objects; `Claim.to_row` / `Claim.from_row` are the only
code that knows the JSONL output schema. Offsets are character offsets into `Document.text`
(start inclusive, end exclusive), so `doc.text[span.start:span.end] == span.text` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

TYPES = ("attributed", "opinion", "fact", "other")
STANCES = ("endorse", "neutral", "sceptical")
SOURCE_KINDS = ("official", "expert", "media", "anonymous", "other")
VERIFICATIONS = ("flagged", "single-source", "corroborated", "disputed")


@dataclass
class Span:
    """A stretch of document text."""

    start: int
    end: int
    text: str

    @classmethod
    def of(cls, text: str, start: int, end: int) -> "Span":
        return cls(start, end, text[start:end])

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass
class Source(Span):
    """Who a claim is credited to: the span as written, its canonical name and kind."""

    canonical: str = ""
    kind: str = "other"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "canonical": self.canonical, "kind": self.kind}


@dataclass
class Sentence:
    """A sentence (or a boilerplate block) of a document; `kind` is "body" or "other"."""

    index: int
    start: int
    end: int
    text: str
    kind: str = "body"


@dataclass
class Claim:
    """One segment of a document: a claim, or a non-claim segment of type `other`."""

    doc_id: str
    index: int
    sentence_index: int
    start: int
    end: int
    text: str
    type: str = "other"
    type_scores: dict[str, float] | None = None
    source: Source | None = None
    cue: Span | None = None
    stance: str | None = None
    stance_scores: dict[str, float] | None = None
    target: str | None = None
    model: str = ""
    rules: list[str] = field(default_factory=list)
    verification: str | None = None
    cluster_id: str | None = None

    @property
    def claim_id(self) -> str:
        return f"{self.doc_id}:{self.index}"

    def to_row(self) -> dict[str, Any]:
        """The claim as one JSON object of the output schema."""
        return {
            "doc_id": self.doc_id,
            "claim_id": self.claim_id,
            "sentence_index": self.sentence_index,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "type": self.type,
            "type_scores": self.type_scores,
            "source": self.source.to_dict() if self.source else None,
            "cue": self.cue.to_dict() if self.cue else None,
            "stance": self.stance,
            "stance_scores": self.stance_scores,
            "target": self.target,
            "model": self.model,
            "rules": list(self.rules),
            "verification": self.verification,
            "cluster_id": self.cluster_id,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Claim":
        """Inverse of `to_row`; tolerates rows without the optional fields (and offsets-only spans)."""
        doc_id = row["doc_id"]
        index = int(str(row.get("claim_id", f"{doc_id}:0")).rsplit(":", 1)[1])
        src = row.get("source")
        cue = row.get("cue")
        return cls(
            doc_id=doc_id,
            index=index,
            sentence_index=int(row.get("sentence_index", 0)),
            start=int(row["start"]),
            end=int(row["end"]),
            text=row["text"],
            type=row.get("type", "other"),
            type_scores=row.get("type_scores"),
            source=Source(src["start"], src["end"], src.get("text", ""), src.get("canonical", ""), src.get("kind", "other"))
            if src
            else None,
            cue=Span(cue["start"], cue["end"], cue.get("text", "")) if cue else None,
            stance=row.get("stance"),
            stance_scores=row.get("stance_scores"),
            target=row.get("target"),
            model=row.get("model", ""),
            rules=list(row.get("rules") or []),
            verification=row.get("verification"),
            cluster_id=row.get("cluster_id"),
        )


@dataclass
class Document:
    """An article: its text exactly as loaded, its metadata, and (after segmenting) its parts."""

    id: str
    text: str
    title: str | None = None
    outlet: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    path: str | None = None
    sentences: list[Sentence] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)

    META = ("title", "outlet", "author", "date", "url", "path")

    def meta(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.META}

    def to_record(self) -> dict[str, Any]:
        """The document without its parts, as a flat record (one row of a corpus Dataset)."""
        return {"id": self.id, "text": self.text, **self.meta()}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> "Document":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in rec.items() if k in names and k not in ("sentences", "claims")})

    def to_rows(self) -> list[dict[str, Any]]:
        """The document's segments as output-schema rows (`Claim.to_row`), as `annotate score` writes them."""
        return [c.to_row() for c in self.claims]

    def context(self, claim: Claim, window: int = 1, chunk: int = 0) -> tuple[str, str, str]:
        """The text before the claim's sentence, the sentence, and the text after: `window` sentences each way, or
        with `chunk` the rest of the claim's chunk of the document (`chunk` body sentences in a row, with one more
        either side), which every claim of the chunk shares, so that one encoding serves them all."""
        i = claim.sentence_index
        sents = self.sentences
        if chunk and i < len(sents):
            body = [s.index for s in sents if s.kind == "body"]
            at = body.index(i) if i in body else None
            if at is not None:
                lo, hi = max(0, at // chunk * chunk - 1), min(len(body), at // chunk * chunk + chunk + 1)
                before = " ".join(sents[k].text for k in body[lo:at])
                after = " ".join(sents[k].text for k in body[at + 1 : hi])
                return before, sents[i].text, after
        before = " ".join(s.text for s in sents[max(0, i - window) : i])
        after = " ".join(s.text for s in sents[i + 1 : i + 1 + window])
        return before, sents[i].text if i < len(sents) else claim.text, after
