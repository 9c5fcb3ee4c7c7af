"""Attribution: who a claim is credited to (source), by what words (cue), and the source's canonical name and kind.

`find_frames` reads one parsed sentence and returns its reporting frames (cue, source tokens, and
the heads of the content clauses); the segmenter cuts claims from those heads, and
`attribute_document` turns the frames into `Source`/`Span` objects, resolving pronoun sources,
carrying a report over to the sentences that continue it, and normalising names with the
alias table in `configs/sources.yaml`. Lexicons come from `configs/lexicons.yaml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .config import cached_yaml
from .model import Claim, Document, Source, Span

DEMONSTRATIVES = {"this", "these", "that", "those", "which"}
DEMONSTRATIVES = {"this", "these", "that", "those", "which"}
PRONOUNS = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their"}
PERSON_PRONOUNS = {"he", "she", "him", "her", "his"}
TITLES = {"general", "gen.", "field", "marshal", "president", "vice", "minister", "foreign", "prime", "deputy",
          "secretary", "chief", "lt.", "lt", "mr.", "mr", "ms.", "dr.", "dr", "professor", "prof.", "the", "chinese",
          "pakistani", "pakistan", "us", "u.s.", "state", "army", "of", "staff", "coas"}


@dataclass
class Frame:
    """One reporting frame of a sentence: token indices (sentence-absolute, into the spaCy Doc)."""

    cue: list[int]
    source: list[int]
    contents: list[int]
    #: tokens that belong to the frame itself (cue phrase, source) and never to a claim
    frame_tokens: set[int] = field(default_factory=set)
    sentiment: str = "neutral"


@dataclass(frozen=True)
class Lexicon:
    """The lexicons of configs/lexicons.yaml in the shapes the rules need."""

    verb_stance: dict[str, str]
    clausal_only: frozenset[str]
    prep_cues: tuple[tuple[str, ...], ...]
    carryover: tuple[str, ...]
    non_sources: frozenset[str]
    raw: dict


@lru_cache(maxsize=None)
def lexicon(name: str = "lexicons.yaml") -> Lexicon:
    raw = cached_yaml(name)
    verb_stance = {v: stance for stance, verbs in raw["reporting_verbs"].items() for v in verbs}
    return Lexicon(
        verb_stance=verb_stance,
        clausal_only=frozenset(raw.get("clausal_only", [])),
        prep_cues=tuple(tuple(p) for p in raw.get("prepositional_cues", [])),
        carryover=tuple(o.lower() for o in raw.get("carryover_openers", [])),
        non_sources=frozenset(raw.get("non_sources", [])),
        raw=raw,
    )


def _subtree_range(tok) -> list[int]:
    return list(range(tok.left_edge.i, tok.right_edge.i + 1))


def _is_report_verb(tok, lex: Lexicon) -> bool:
    return tok.pos_ in ("VERB", "AUX") and tok.lemma_.lower() in lex.verb_stance


def _source_tokens(verb, hops: int = 2) -> list[int]:
    """Tokens of who does the reporting: the subject, the agent of a passive, or the subject of the verb
    a participle or conjunct hangs off ("Dar acknowledged ..., adding that")."""
    kids = list(verb.children)
    if any(c.dep_ == "nsubjpass" for c in kids):
        return [i for c in kids if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj" for i in _subtree_range(g)]
    subj = [i for c in kids if c.dep_ == "nsubj" for i in _subtree_range(c)]
    if not subj and hops and verb.dep_ in ("advcl", "conj", "xcomp") and verb.head.i != verb.i:
        return _source_tokens(verb.head, hops - 1)
    return sorted(set(subj))


def _extend_appositive(sent, src: list[int], max_len: int = 10) -> list[int]:
    """Extend a source over a following appositive name: "the media wing, the Inter-Services Public Relations (ISPR),"."""
    doc = sent.doc
    i = max(src) + 1
    if i >= sent.end or doc[i].text != ",":
        return src
    for j in range(i + 1, min(sent.end, i + 2 + max_len)):
        if doc[j].text == ",":
            stretch = doc[i + 1 : j]
            if any(t.pos_ == "PROPN" for t in stretch) and not any(t.pos_ in ("VERB", "AUX") for t in stretch):
                return list(range(min(src), j))
            break
    return src


def _relcl_content(verb) -> list:
    """The parser often reads "was assured by an official that X ..." as a relative clause on the agent."""
    return [r for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"
            for r in g.children if r.dep_ == "relcl" and any(m.dep_ == "mark" and m.lower_ == "that" for m in r.children)]


def find_frames(sent, lex: Lexicon | None = None) -> list[Frame]:
    """The reporting frames of one spaCy sentence span."""
    lex = lex or lexicon()
    frames: list[Frame] = []
    inside: set[int] = set()  # tokens in the content of a frame: a report inside a report belongs to the outer one
    for tok in sorted(sent, key=lambda t: (sum(1 for _ in t.ancestors), t.i)):
        if tok.i in inside:
            continue
        if _is_report_verb(tok, lex):
            lemma = tok.lemma_.lower()
            comps = [c for c in tok.children if c.dep_ == "ccomp"] or _relcl_content(tok)
            if not comps and lemma not in lex.clausal_only:  # "reaffirmed their commitment to ..."
                comps = [c for c in tok.children if c.dep_ == "dobj" and c.pos_ in ("NOUN", "PROPN", "PRON")]
            parenthetical = not comps and tok.dep_ in ("parataxis", "ccomp") and tok.head.i != tok.i and not _is_report_verb(tok.head, lex)
            if parenthetical:
                comps = [tok.head]
            if not comps:
                continue
            src_tokens = _source_tokens(tok)
            if not src_tokens or sent.doc[src_tokens[0]].lower_ in DEMONSTRATIVES:
                continue  # "It may be recalled that", "This shows that": the author's own voice
            head = next(sent.doc[i] for i in src_tokens if sent.doc[i].head.i not in src_tokens or sent.doc[i].head.i == i)
            if head.lemma_.lower() in lex.non_sources:
                continue  # "The discussions underscore a growing trend": events do not speak
            cue = [tok.i] + [c.i for c in tok.children if c.dep_ == "prt"]
            own = set(cue)
            for c in tok.children:
                if c.dep_ in ("nsubj", "nsubjpass", "agent"):
                    own.update(_subtree_range(c))
            frame = Frame(cue=sorted(cue), source=sorted(set(src_tokens)), contents=[c.i for c in comps],
                          frame_tokens=own, sentiment=lex.verb_stance[lemma])
            frames.append(frame)
            if not parenthetical:
                inside.update(i for c in comps for i in _subtree_range(c))
        else:
            words = [t.lower_ for t in sent.doc[tok.i : tok.i + 4]]
            for phrase in lex.prep_cues:
                if tuple(words[: len(phrase)]) == phrase and tok.i + len(phrase) <= sent.end:
                    last = sent.doc[tok.i + len(phrase) - 1]
                    objs = [c for c in last.children if c.dep_ == "pobj"] or [c for c in tok.children if c.dep_ == "pobj"]
                    src = _extend_appositive(sent, _subtree_range(objs[0])) if objs else []
                    # the phrase hangs off the verb whose clause is the content
                    head = tok.head if tok.head.i != tok.i else sent.root
                    cue = list(range(tok.i, tok.i + len(phrase)))
                    own = set(_subtree_range(tok)) | set(cue) | set(src)
                    frames.append(Frame(cue=cue, source=src, contents=[head.i], frame_tokens=own, sentiment="neutral"))
                    break
    frames.sort(key=lambda f: f.cue[0])
    return frames


# --- names -------------------------------------------------------------------------------------------------

def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'").replace("‘", "'")).strip().lower()


@lru_cache(maxsize=None)
def alias_table(name: str = "sources.yaml") -> tuple[list[tuple[str, str, str]], dict[str, list[str]]]:
    """(alias, canonical, kind) sorted longest first, and the keyword lists that classify other sources."""
    raw = cached_yaml(name)
    rows = [(_norm(a), canon, spec.get("kind", "other")) for canon, spec in (raw.get("sources") or {}).items()
            for a in [canon, *spec.get("aliases", [])]]
    rows.sort(key=lambda r: -len(r[0]))
    return rows, {k: [_norm(w) for w in v] for k, v in (raw.get("kinds") or {}).items()}


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def classify_kind(text: str, has_name: bool) -> str:
    """A source's kind from its words: anonymous when it names no one, else by the keyword lists."""
    _, kinds = alias_table()
    low = _norm(text)
    order = ["official", "expert", "media"] if has_name else ["anonymous", "expert", "official", "media"]
    for kind in order:
        if any(_contains(low, w) for w in kinds.get(kind, [])):
            return kind
    return "anonymous" if not has_name and any(_contains(low, w) for w in ("sources", "officials", "reports")) else "other"


def strip_titles(name: str) -> str:
    words = name.replace("’s", "").replace("'s", "").split()
    while len(words) > 1 and words[0].lower().rstrip(",") in TITLES:
        words = words[1:]
    return " ".join(words).strip(" ,")


def canonical_source(span_text: str, persons: list[str]) -> tuple[str, str]:
    """(canonical name, kind) of a source span, using the alias table and the document's person names."""
    rows, _ = alias_table()
    low = _norm(span_text)
    for alias, canon, kind in rows:
        if alias and _contains(low, alias):
            return canon, kind
    for person in sorted(persons, key=len, reverse=True):
        if any(_contains(low, w.lower()) for w in person.split() if len(w) > 2):
            for alias, canon, kind in rows:  # the resolved full name may be an alias ("Syed Asim Munir")
                if alias and _contains(_norm(person), alias):
                    return canon, kind
            return person, classify_kind(span_text, True)
    words = span_text.split()
    has_name = any(w[:1].isupper() for w in words[1:]) or (len(words) == 1 and words[0][:1].isupper())
    canon = re.sub(r"^(the|a|an)\s+", "", span_text.strip(), flags=re.I)
    return canon, classify_kind(span_text, has_name)


def person_mentions(parsed: list[tuple[int, object]]) -> list[tuple[int, str]]:
    """(document offset, full name) of each person named in a document, titles stripped and each surname
    resolved to the longest name the document gives it ("General Zhang" -> "Zhang Youxia")."""
    raw = [(off + ent.start_char, strip_titles(ent.text)) for off, sd in parsed for ent in sd.ents if ent.label_ == "PERSON"]
    names = sorted({name for _, name in raw if name}, key=len, reverse=True)

    def full(name: str) -> str:
        words = set(name.lower().split())
        return next(n for n in names if words <= set(n.lower().split()))

    return [(off, full(name)) for off, name in raw if name]


# --- the document pass ---------------------------------------------------------------------------------------

def _span(doc: Document, tokens, offset: int, indices: list[int]) -> Span | None:
    if not indices:
        return None
    start = offset + tokens[min(indices)].idx
    last = tokens[max(indices)]
    return Span.of(doc.text, start, offset + last.idx + len(last.text))


def resolve_pronoun(pronoun: str, at: int, last: Source | None, mentions: list[tuple[int, str]], persons: list[str]) -> tuple[str, str]:
    """(canonical, kind) of a pronoun source: he/she is the person last named before it, it/they the last source."""
    if pronoun in PERSON_PRONOUNS:
        before = [name for off, name in mentions if off < at]
        if before:
            return canonical_source(before[-1], persons)
    if last is not None:
        return last.canonical, last.kind
    return pronoun, "other"


def person_kind(name: str, text: str, window: int = 90) -> str:
    """A named person's kind from how the article first describes them ("Harsh V. Pant, lecturer in ...")."""
    at = text.find(name)
    if at < 0:
        return "other"
    return classify_kind(text[at + len(name) : at + len(name) + window], True)


def attribute_document(doc: Document, claim_frames: list[tuple[Claim, object, Frame | None, int]],
                       mentions: list[tuple[int, str]], speakers: dict[int, tuple[int, int]] | None = None) -> None:
    """Fill `source` and `cue` on the claims of one document.

    `claim_frames` holds, per claim in document order, the claim, the spaCy Doc its sentence was
    parsed in, its frame (or None) and the character offset of that spaCy Doc in the document.
    `speakers` maps claim indexes inside an interview answer to the span of the speaker's label.
    """
    speakers = speakers or {}
    lex = lexicon()
    persons = sorted({name for _, name in mentions})
    last: tuple[Source, Span | None] | None = None
    last_sentence = -1
    for claim, sdoc, frame, offset in claim_frames:
        if claim.type == "other":
            continue
        if frame is not None and frame.source:
            src = _span(doc, sdoc, offset, frame.source)
            cue = _span(doc, sdoc, offset, frame.cue)
            first = sdoc[min(frame.source)].lower_
            if len(frame.source) <= 2 and first in PRONOUNS and (last is not None or first in PERSON_PRONOUNS):
                canon, kind = resolve_pronoun(first, src.start, last[0] if last else None, mentions, persons)
                rule = "pronoun_source"
            else:
                canon, kind = canonical_source(src.text, persons)
                if kind == "other" and canon in persons:
                    kind = person_kind(canon, doc.text)
                rule = "reporting_frame"
            claim.source = Source(src.start, src.end, src.text, canon, kind)
            claim.cue = cue
            claim.rules.append(rule)
            last, last_sentence = (claim.source, cue), claim.sentence_index
        elif claim.index in speakers:  # an interview answer: the speaker label is the source, there is no cue
            src = Span.of(doc.text, *speakers[claim.index])
            canon, kind = canonical_source(src.text, persons)
            if kind == "other":
                kind = person_kind(canon, doc.text)
            claim.source = Source(src.start, src.end, src.text, canon, kind)
            claim.rules.append("speaker_turn")
        elif frame is not None:  # "according to" / passive frame without a recoverable source: cue only
            claim.cue = _span(doc, sdoc, offset, frame.cue)
            claim.rules.append("sourceless_frame")
        elif last is not None:
            sentence = doc.sentences[claim.sentence_index].text.lower()
            if claim.sentence_index - last_sentence <= 2 and sentence.startswith(lex.carryover):
                claim.source = Source(last[0].start, last[0].end, last[0].text, last[0].canonical, last[0].kind)
                claim.rules.append("carried_over")
                last_sentence = claim.sentence_index
