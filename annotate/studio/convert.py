"""Label Studio's formats, and only here: claims <-> task data, predictions and annotation results.

A task is one claim shown inside a contiguous slice of its document (the claim's sentence and
`window` sentences either side), so a task-text offset plus the task's `offset` is a document
offset. Label Studio counts offsets in UTF-16 code units (JavaScript strings); the task data and
everything outside this module use Python characters, and `to_js`/`from_js` convert at the edge.
The control names below must match `labels/label_config.xml`.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from ..examples import example_from_claim
from ..model import (
    SOURCE_KINDS,
    STANCES,
    TYPES,
    Claim,
    Document,
    Sentence,
    Source,
    Span,
)
from ..rules import RuleLabeler

# Control and object names of labels/label_config.xml.
TEXT, SPANS, TYPE, STANCE, KIND, CANONICAL, TARGET = "text", "span", "type", "stance", "source_kind", "canonical", "target"
CLAIM, SOURCE, CUE = "CLAIM", "SOURCE", "CUE"
RELATION = "source_of"
# Region ids of predictions; annotations made in the UI carry random ids instead.
CLAIM_ID, SOURCE_ID, CUE_ID = "claim", "source", "cue"
FIELDS = ("claim_span", "type", "stance", "source_span", "source_kind", "canonical", "cue_span", "target")


def to_js(text: str, i: int) -> int:
    """The UTF-16 offset of Python offset `i` in `text`."""
    return i + sum(1 for c in text[:i] if ord(c) > 0xFFFF)


def from_js(text: str, j: int) -> int:
    """The Python offset of UTF-16 offset `j` in `text` (inverse of `to_js`)."""
    if text.isascii():
        return j
    units = 0
    for i, c in enumerate(text):
        if units >= j:
            return i
        units += 2 if ord(c) > 0xFFFF else 1
    return len(text) + j - units  # past the end stays past the end, so callers can reject it


def sentence_bounds(doc: Document, claims: Iterable[Claim]) -> dict[int, tuple[int, int]]:
    """Document offsets of each sentence: from `doc.sentences`, else the union of its segments' spans."""
    if doc.sentences:
        return {s.index: (s.start, s.end) for s in doc.sentences}
    bounds: dict[int, tuple[int, int]] = {}
    for c in claims:
        lo, hi = bounds.get(c.sentence_index, (c.start, c.end))
        bounds[c.sentence_index] = (min(lo, c.start), max(hi, c.end))
    return bounds


def _spans(claim: Claim) -> list[Span]:
    return [s for s in (claim, claim.source, claim.cue) if s is not None]


def task_data(doc: Document, claim: Claim, bounds: dict[int, tuple[int, int]], window: int = 1) -> dict[str, Any]:
    """The task data of one claim: its context slice of the document and where the claim sits in it."""
    i = claim.sentence_index
    sent = bounds.get(i, (claim.start, claim.end))
    near = [bounds[k] for k in range(i - window, i + window + 1) if k in bounds]
    # The source of a carried-over attribution may lie outside the window; the slice must hold it.
    start = min([b[0] for b in near] + [s.start for s in _spans(claim)])
    end = max([b[1] for b in near] + [s.end for s in _spans(claim)])
    return {
        "claim_id": claim.claim_id,
        "doc_id": doc.id,
        "text": doc.text[start:end],
        "offset": start,
        "claim": claim.text,
        "claim_start": claim.start - start,
        "claim_end": claim.end - start,
        "sentence_index": i,
        "sentence_start": max(sent[0], start) - start,
        "sentence_end": min(sent[1], end) - start,
        "title": doc.title or doc.id,
        "outlet": doc.outlet or "",
        "url": doc.url or "",
    }


def confidence(claim: Claim) -> float | None:
    """How sure the model is of the claim's labels: the lower of its top type and top stance probability."""
    tops = [max(s.values()) for s in (claim.type_scores, claim.stance_scores) if s]
    return round(float(min(tops)), 4) if tops else None


def _region(rid: str, label: str, span: Span, data: dict[str, Any]) -> dict[str, Any]:
    text, off = data["text"], data["offset"]
    s, e = span.start - off, span.end - off
    value = {"start": to_js(text, s), "end": to_js(text, e), "text": text[s:e], "labels": [label]}
    return {"id": rid, "from_name": SPANS, "to_name": TEXT, "type": "labels", "value": value}


def _choice(name: str, value: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": TEXT, "type": "choices", "value": {"choices": [value]}}


def _textarea(name: str, value: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": TEXT, "type": "textarea", "value": {"text": [value]}}


def claim_result(claim: Claim, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The claim's labels as a Label Studio result list for the task `data` was built for."""
    result = [_region(CLAIM_ID, CLAIM, claim, data), _choice(TYPE, claim.type)]
    if claim.stance:
        result.append(_choice(STANCE, claim.stance))
    if claim.source:
        result.append(_region(SOURCE_ID, SOURCE, claim.source, data))
        result.append({"type": "relation", "from_id": SOURCE_ID, "to_id": CLAIM_ID, "direction": "right", "labels": [RELATION]})
        result.append(_choice(KIND, claim.source.kind))
        if claim.source.canonical:
            result.append(_textarea(CANONICAL, claim.source.canonical))
    if claim.cue:
        result.append(_region(CUE_ID, CUE, claim.cue, data))
    if claim.target:
        result.append(_textarea(TARGET, claim.target))
    return result


def prediction(claim: Claim, data: dict[str, Any], model_version: str | None = None) -> dict[str, Any]:
    """A Label Studio prediction (pre-annotation) for the task `data` was built for."""
    pred: dict[str, Any] = {"model_version": model_version or claim.model or "unknown", "result": claim_result(claim, data)}
    score = confidence(claim)
    if score is not None:
        pred["score"] = score
    return pred


def task(doc: Document, claim: Claim, bounds: dict[int, tuple[int, int]], window: int = 1) -> dict[str, Any]:
    """A task to import: the claim's data with the model's prediction attached."""
    data = task_data(doc, claim, bounds, window)
    return {"data": data, "predictions": [prediction(claim, data)]}


def _span_in(data: dict[str, Any], value: dict[str, Any]) -> Span:
    text, off = data["text"], int(data["offset"])
    s, e = from_js(text, int(value["start"])), from_js(text, int(value["end"]))
    if not 0 <= s <= e <= len(text):
        raise ValueError(f"span {value['start']}-{value['end']} lies outside the task text")
    return Span(s + off, e + off, text[s:e])


def result_claim(data: dict[str, Any], result: list[dict[str, Any]], model: str = "") -> Claim:
    """A claim from a Label Studio result list (prediction or annotation), with document offsets.

    When several SOURCE regions are marked, the one related to the claim wins; a missing CLAIM
    region keeps the task's claim span. Raises ValueError on a result this config cannot produce.
    """
    regions: dict[str, list[tuple[str, Span]]] = {CLAIM: [], SOURCE: [], CUE: []}
    values: dict[str, str] = {}
    related: set[str] = set()
    for r in result:
        kind, value = r.get("type"), r.get("value") or {}
        if kind == "relation":
            related.add(str(r.get("from_id")))
        elif kind == "labels" and r.get("from_name") == SPANS:
            for label in value.get("labels", []):
                if label not in regions:
                    raise ValueError(f"unknown span label {label!r}")
                regions[label].append((str(r.get("id")), _span_in(data, value)))
        elif kind == "choices" and value.get("choices"):
            values[r["from_name"]] = value["choices"][0]
        elif kind == "textarea" and value.get("text"):
            values[r["from_name"]] = " ".join(value["text"]).strip()
    for name, allowed in ((TYPE, TYPES), (STANCE, STANCES), (KIND, SOURCE_KINDS)):
        if name in values and values[name] not in allowed:
            raise ValueError(f"{name} {values[name]!r} is not one of {', '.join(allowed)}")

    def pick(label: str) -> Span | None:
        found = regions[label]
        return next((s for rid, s in found if rid in related), found[0][1] if found else None)

    off = int(data["offset"])
    span = pick(CLAIM) or Span(off + int(data["claim_start"]), off + int(data["claim_end"]), data["claim"])
    src = pick(SOURCE)
    source = Source(src.start, src.end, src.text, values.get(CANONICAL) or src.text, values.get(KIND, "other")) if src else None
    doc_id, index = str(data["claim_id"]).rsplit(":", 1)
    return Claim(
        doc_id=doc_id,
        index=int(index),
        sentence_index=int(data.get("sentence_index", 0)),
        start=span.start,
        end=span.end,
        text=span.text,
        type=values.get(TYPE, "other"),
        source=source,
        cue=pick(CUE),
        stance=values.get(STANCE),
        target=values.get(TARGET) or None,
        model=model,
    )


def _key(span: Span | None) -> tuple[int, int] | None:
    return (span.start, span.end) if span else None


def field_values(claim: Claim) -> dict[str, Any]:
    """The labels a human can change, as comparable values keyed by `FIELDS`."""
    src = claim.source
    return {
        "claim_span": (claim.start, claim.end),
        "type": claim.type,
        "stance": claim.stance,
        "source_span": _key(src),
        "source_kind": src.kind if src else None,
        "canonical": src.canonical if src else None,
        "cue_span": _key(claim.cue),
        "target": claim.target,
    }


def agreement(pairs: Iterable[tuple[Claim, Claim]]) -> dict[str, float | int]:
    """Share of (annotation, prediction) pairs that agree, per field and on all fields at once."""
    pairs = list(pairs)
    out: dict[str, float | int] = {"n": len(pairs)}
    if not pairs:
        return out
    rows = [(field_values(h), field_values(p)) for h, p in pairs]
    for f in FIELDS:
        out[f] = round(sum(h[f] == p[f] for h, p in rows) / len(rows), 4)
    out["all"] = round(sum(h == p for h, p in rows) / len(rows), 4)
    return out


def task_example(data: dict[str, Any], claim: Claim, corpus: str = "studio", weight: float = 1.0) -> dict[str, Any]:
    """A training example (`annotate.examples.FEATURES`) from a task and its labelled claim."""
    text, off = data["text"], int(data["offset"])
    ss, se = int(data["sentence_start"]), int(data["sentence_end"])
    # The task text stands in for the document: before / sentence / after are its three parts.
    doc = Document(
        id=claim.doc_id,
        text=text,
        sentences=[Sentence(0, 0, ss, text[:ss]), Sentence(1, ss, se, text[ss:se]), Sentence(2, se, len(text), text[se:])],
    )

    def shift(span):
        return None if span is None else type(span)(**{**span.__dict__, "start": span.start - off, "end": span.end - off})

    local = Claim(**{**claim.__dict__, "start": claim.start - off, "end": claim.end - off, "sentence_index": 1,
                     "source": shift(claim.source), "cue": shift(claim.cue)})
    # The rules' scores of the same claim are the model's priors, as when scoring.
    ruled = RuleLabeler().label_document(Document(id=doc.id, text=text, sentences=doc.sentences,
                                                  claims=[copy.deepcopy(local)]))
    row = example_from_claim(doc, local, corpus=corpus, weight=weight, rules=ruled.claims[0])
    row["before"], row["after"] = row["before"].strip(), row["after"].strip()
    return row
