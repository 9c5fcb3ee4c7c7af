"""Hand labeling of articles whose text may not be copied into the project (voa-news).

A reader labels an article in a YAML working file that quotes the text, and the tool turns it into
offsets-only gold rows (`labels/voa-news.jsonl`) and back:

    - text: "the satellite failed to reach space"    # the claim, exactly as written (spaces and quote styles may vary)
      type: attributed                                # attributed | opinion | fact | other
      stance: neutral                                 # endorse | neutral | sceptical (none for other)
      source: Defense Minister Lee Sang-hee           # the source span as written (attributed only)
      canonical: Lee Sang-hee
      kind: official                                  # official | expert | media | anonymous | other
      cue: quote                                      # the reporting words, or leave it out (carried over)
      target: "launched a communications satellite"   # an earlier claim this one comments on (words of it)
      note: "..."                                     # optional

Segments are found in document order. A source or cue is the occurrence nearest the claim inside its
sentence, else the first inside the claim ("reportedly"), else the last one before it (a carried-over
source), else the first after it;
`source_occurrence` / `cue_occurrence: N` picks the N-th occurrence in the document instead.
`sentence_index` is derived: a new sentence starts after a line break or a sentence-final mark between
two segments, and every `other` segment is a sentence of its own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from .gold import SENTENCE_END, with_text
from .metrics import align
from .model import SOURCE_KINDS, STANCES, TYPES, Claim, Document

FIELDS = ("text", "type", "stance", "source", "canonical", "kind", "cue", "target", "note",
          "source_occurrence", "cue_occurrence")
QUOTE_CLASS = "[\"“”„«»]"
APOS_CLASS = "['’‘`]"
DASH_CLASS = "[-–—]"


class LabelFileError(ValueError):
    """A working file that does not compile; the message lists every problem, one per line."""


def pattern(words: str) -> re.Pattern:
    """A regex for `words` that lets whitespace runs, quote marks, apostrophes and dashes vary."""
    out = []
    for ch in words.strip():
        if ch.isspace():
            if not out or out[-1] != r"\s+":
                out.append(r"\s+")
        elif ch in "\"“”„«»":
            out.append(QUOTE_CLASS)
        elif ch in "'’‘`":
            out.append(APOS_CLASS)
        elif ch in "-–—":
            out.append(DASH_CLASS)
        else:
            out.append(re.escape(ch))
    words = words.strip()
    # whole words only: "reported" is not found inside "reportedly"
    lead = r"(?<!\w)" if words[:1].isalnum() else ""
    trail = r"(?!\w)" if words[-1:].isalnum() else ""
    return re.compile(lead + "".join(out) + trail)


def _sentence_region(text: str, start: int, end: int) -> tuple[int, int]:
    """The stretch around [start, end) up to the sentence ends (or line breaks) on either side."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before = [m.end() for m in SENTENCE_END.finditer(text, line_start, start)]
    after = SENTENCE_END.search(text, end, line_end)
    return (before[-1] if before else line_start), (after.start() + 1 if after else line_end)


def locate(text: str, words: str, start: int, end: int, occurrence: int | None = None) -> tuple[int, int] | None:
    """Offsets of `words` for a claim at [start, end): see the module docstring for which occurrence."""
    hits = [(m.start(), m.end()) for m in pattern(words).finditer(text)]
    if not hits:
        return None
    if occurrence is not None:
        return hits[occurrence - 1] if 0 < occurrence <= len(hits) else None
    lo, hi = _sentence_region(text, start, end)
    inside = [h for h in hits if h[0] >= lo and h[1] <= hi and (h[1] <= start or h[0] >= end)]
    if inside:
        return min(inside, key=lambda h: min(abs(h[1] - start), abs(h[0] - end)))
    within = [h for h in hits if h[0] >= start and h[1] <= end]  # "reportedly", "allegedly" inside the clause
    if within:
        return within[0]
    before = [h for h in hits if h[1] <= start]
    if before:
        return before[-1]
    after = [h for h in hits if h[0] >= end]
    return after[0] if after else None


def new_sentence(text: str, prev: dict | None, seg_type: str, start: int) -> bool:
    """Whether a segment starting at `start` opens a new sentence after the segment `prev`."""
    if prev is None or prev["type"] == "other" or seg_type == "other":
        return True
    gap = text[prev["end"] : start]
    return "\n" in gap or SENTENCE_END.search(gap) is not None


def compile_segments(items: list[dict], doc: Document) -> list[dict]:
    """Offsets-only gold rows for the labeled segments of `doc`; raises LabelFileError listing every problem."""
    text, problems, rows, pos = doc.text, [], [], 0
    for n, item in enumerate(items):
        where = f"segment {n} ({str(item.get('text', ''))[:40]!r})"
        unknown = set(item) - set(FIELDS)
        if unknown:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        words = str(item.get("text") or "")
        m = pattern(words).search(text, pos) if words.strip() else None
        if m is None:
            problems.append(f"{where}: text not found after offset {pos} (segments must be exact and in order)")
            continue
        start, end = m.start(), m.end()
        pos = end
        seg_type, stance = item.get("type"), item.get("stance")
        if seg_type not in TYPES:
            problems.append(f"{where}: type {seg_type!r} is not one of {TYPES}")
            continue
        if seg_type == "other":
            if stance or item.get("source") or item.get("cue") or item.get("target"):
                problems.append(f"{where}: an `other` segment has no stance, source, cue or target")
        elif stance not in STANCES:
            problems.append(f"{where}: stance {stance!r} is not one of {STANCES}")
        row: dict[str, Any] = {"doc_id": doc.id, "claim_id": f"{doc.id}:{len(rows)}", "sentence_index": 0,
                               "start": start, "end": end, "type": seg_type, "source": None, "cue": None,
                               "stance": stance if seg_type != "other" else None, "target": None, "model": "gold"}
        prev = rows[-1] if rows else None
        row["sentence_index"] = (prev["sentence_index"] if prev else -1) + new_sentence(text, prev, seg_type, start)
        if item.get("source"):
            if seg_type != "attributed":
                problems.append(f"{where}: only `attributed` segments have a source")
            span = locate(text, str(item["source"]), start, end, item.get("source_occurrence"))
            canonical, kind = item.get("canonical"), item.get("kind")
            if span is None:
                problems.append(f"{where}: source {item['source']!r} not found")
            elif not canonical or kind not in SOURCE_KINDS:
                problems.append(f"{where}: a source needs `canonical` and a `kind` of {SOURCE_KINDS}")
            else:
                row["source"] = {"start": span[0], "end": span[1], "canonical": str(canonical), "kind": kind}
        elif seg_type == "attributed":
            problems.append(f"{where}: an `attributed` segment needs its source span (labels/GUIDE.md)")
        if item.get("cue"):
            span = locate(text, str(item["cue"]), start, end, item.get("cue_occurrence"))
            if span is None:
                problems.append(f"{where}: cue {item['cue']!r} not found")
            else:
                row["cue"] = {"start": span[0], "end": span[1]}
        if item.get("target") not in (None, ""):
            row["target"] = item["target"]  # resolved below, once every segment has its id
        if item.get("note"):
            row["note"] = str(item["note"])
        rows.append(row)
    for row in rows:
        if row["target"] is not None:
            tid = _resolve_target(row, rows, text)
            if tid is None:
                problems.append(f"{row['claim_id']}: target {row['target']!r} matches no other segment")
            row["target"] = tid
    for a, b in zip(rows, rows[1:]):
        if b["start"] < a["end"]:
            problems.append(f"{a['claim_id']} and {b['claim_id']} overlap")
    problems += [f"line {ln} is not covered by any segment: {text[s:e][:60]!r}" for ln, s, e in uncovered(text, rows)]
    if problems:
        raise LabelFileError(f"{doc.id}: " + "\n  ".join([f"{len(problems)} problem(s)"] + problems))
    return rows


def _resolve_target(row: dict, rows: list[dict], text: str) -> str | None:
    """The claim id a `target` names: an index into the segments, or words of the nearest segment holding them."""
    t = row["target"]
    if isinstance(t, int):
        return rows[t]["claim_id"] if 0 <= t < len(rows) and rows[t] is not row else None
    pat = pattern(str(t))
    holding = [r for r in rows if r is not row and pat.search(text[r["start"] : r["end"]])]
    earlier = [r for r in holding if r["start"] < row["start"]]
    best = earlier[-1] if earlier else (holding[0] if holding else None)
    return best["claim_id"] if best else None


def uncovered(text: str, rows: list[dict]) -> list[tuple[int, int, int]]:
    """(line number, start, end) of the non-blank lines no segment overlaps: nothing may be silently dropped."""
    out, pos = [], 0
    for n, line in enumerate(text.split("\n"), 1):
        s, e = pos, pos + len(line)
        pos = e + 1
        if line.strip() and not any(r["start"] < e and r["end"] > s for r in rows):
            out.append((n, s, e))
    return out


def load_items(source: str, where: str) -> list[dict]:
    """The segment list of a YAML working file."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise LabelFileError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise LabelFileError(f"{where}: expected `segments:` with a list of mappings")
    return items


def doc_id_of(source: str) -> str | None:
    data = yaml.safe_load(source)
    return data.get("doc") if isinstance(data, dict) else None


# --- writing working files -------------------------------------------------------------------------------------

def _dump(doc: Document, items: list[dict], header: str) -> str:
    body = yaml.safe_dump({"doc": doc.id, "segments": items}, sort_keys=False, allow_unicode=True, width=1000)
    return header + body


def header(doc: Document, extra: str = "") -> str:
    lines = [f"# {doc.id}: {doc.title or '(no title)'}", f"# text: {doc.path}",
             "# Label every segment by reading it in context (labels/GUIDE.md). Split, merge or trim segments as the",
             "# guide says; `annotate gold check` on this file compiles it and shows the result."]
    return "\n".join(lines + ([f"# {extra}"] if extra else [])) + "\n"


def scaffold(doc: Document, segmented: Document) -> str:
    """A working file with the pipeline's segments of `doc` as a starting point and no labels."""
    items = [{"text": c.text, "type": None, "stance": None} for c in segmented.claims]
    return _dump(doc, items, header(doc, "segments from the pipeline's segmenter; labels: none yet"))


def decompile(rows: list[dict], doc: Document) -> str:
    """The working file of `doc`'s gold rows (the inverse of `compile_segments`, up to occurrence choices)."""
    ids = {r["claim_id"]: k for k, r in enumerate(rows)}
    items = []
    for r in rows:
        full = with_text(r, doc.text)
        item: dict[str, Any] = {"text": full["text"], "type": r["type"]}
        if r["type"] != "other":
            item["stance"] = r["stance"]
        if r.get("source"):
            s = full["source"]
            item.update(source=s["text"], canonical=s["canonical"], kind=s["kind"])
            if locate(doc.text, s["text"], r["start"], r["end"]) != (s["start"], s["end"]):
                item["source_occurrence"] = _occurrence(doc.text, s)
        if r.get("cue"):
            item["cue"] = full["cue"]["text"]
            if locate(doc.text, item["cue"], r["start"], r["end"]) != (r["cue"]["start"], r["cue"]["end"]):
                item["cue_occurrence"] = _occurrence(doc.text, full["cue"])
        if r.get("target") in ids:
            item["target"] = ids[r["target"]]
        if r.get("note"):
            item["note"] = r["note"]
        items.append(item)
    return _dump(doc, items, header(doc, "from the compiled labels; `target` is a segment number (0-based)"))


def _occurrence(text: str, span: dict) -> int:
    hits = [m.start() for m in pattern(span["text"]).finditer(text)]
    return hits.index(span["start"]) + 1


def render(rows: list[dict], doc: Document) -> str:
    """The compiled labels as a reader checks them: each segment with its labels, source and cue in context."""
    ids = {r["claim_id"]: k for k, r in enumerate(rows)}
    out = []
    for k, r in enumerate(rows):
        full = with_text(r, doc.text)
        line = f"[{k}] s{r['sentence_index']} {r['type']}"
        if r["type"] != "other":
            line += f"/{r['stance']}"
        if r.get("source"):
            s = full["source"]
            line += f"  source={s['text']!r}@{s['start']} -> {s['canonical']} ({s['kind']})"
        if r.get("cue"):
            line += f"  cue={full['cue']['text']!r}@{r['cue']['start']}"
        if r.get("target"):
            line += f"  target=[{ids.get(r['target'])}]"
        out.append(line + f"\n     {full['text']!r}")
    return "\n".join(out)


# --- agreement between two readers ------------------------------------------------------------------------------

def normal_name(name: str | None) -> str:
    """A source name compared loosely: case, leading articles, possessives and punctuation do not count, and a
    state's names, capitals and adjectives are the state ("US military" = "United States military")."""
    from .attribute import name_tables

    s = (name or "").replace("’", "'")
    for alias, state, case in name_tables().states:
        s = re.sub(rf"(?<!\w){re.escape(alias)}(?!\w)", state, s, flags=0 if case else re.I)
    s = re.sub(r"'s\b", "", s.lower())
    s = re.sub(r"[^\w\s]", "", s)
    s = re.sub(r"^(the|a|an)\s+", "", s.strip())
    return " ".join(s.split())


@dataclass
class Agreement:
    documents: int = 0
    segments: int = 0
    same_boundaries: int = 0
    type_pairs: list[tuple[str, str]] = field(default_factory=list)
    stance_pairs: list[tuple[str, str]] = field(default_factory=list)
    source_pairs: list[tuple[dict | None, dict | None]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        from sklearn.metrics import cohen_kappa_score

        def kappa(pairs):
            return round(float(cohen_kappa_score(*zip(*pairs))), 3) if len(set(pairs)) > 1 else 1.0

        both = [(a, b) for a, b in self.source_pairs if a and b]
        return {
            "documents": self.documents, "segments": self.segments,
            "same_boundaries": round(self.same_boundaries / max(1, self.segments), 3),
            "type_kappa": kappa(self.type_pairs),
            "type_agreement": round(sum(a == b for a, b in self.type_pairs) / max(1, len(self.type_pairs)), 3),
            "stance_kappa": kappa(self.stance_pairs), "stance_n": len(self.stance_pairs),
            "stance_agreement": round(sum(a == b for a, b in self.stance_pairs) / max(1, len(self.stance_pairs)), 3),
            "attributed_both": len(both),
            "source_canonical_agreement": round(sum(normal_name(a["canonical"]) == normal_name(b["canonical"])
                                                    for a, b in both) / max(1, len(both)), 3),
            "source_span_overlap": round(sum(a["start"] < b["end"] and b["start"] < a["end"] for a, b in both)
                                         / max(1, len(both)), 3),
            "source_kind_agreement": round(sum(a["kind"] == b["kind"] for a, b in both) / max(1, len(both)), 3),
            "type_confusions": Counter(f"{a}->{b}" for a, b in self.type_pairs if a != b).most_common(8),
            "stance_confusions": Counter(f"{a}->{b}" for a, b in self.stance_pairs if a != b).most_common(8),
        }


def agreement(first: dict[str, list[dict]], second: dict[str, list[dict]]) -> Agreement:
    """Agreement of two readers on the documents both labeled: each of the first reader's segments is paired with
    the second reader's segment overlapping it most (as evaluation aligns predictions to gold)."""
    ag = Agreement()
    for doc_id in sorted(set(first) & set(second)):
        a = [Claim.from_row({**r, "text": ""}) for r in first[doc_id]]
        b = [Claim.from_row({**r, "text": ""}) for r in second[doc_id]]
        ag.documents += 1
        for x, y in zip(a, align(a, b)):
            ag.segments += 1
            ag.same_boundaries += y is not None and abs(x.start - y.start) <= 2 and abs(x.end - y.end) <= 2
            ag.type_pairs.append((x.type, y.type if y else "other"))
            if x.type != "other" and y is not None and y.type != "other":
                ag.stance_pairs.append((x.stance, y.stance))
            if x.type == "attributed" and y is not None and y.type == "attributed":
                ag.source_pairs.append((x.source.to_dict() if x.source else None,
                                        y.source.to_dict() if y.source else None))
    return ag


def write_rows(path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
