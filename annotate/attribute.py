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

from .config import cached, cached_yaml
from .model import Claim, Document, Source, Span

DEMONSTRATIVES = {"this", "these", "that", "those", "which"}
PRONOUNS = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their"}
FIRST_PERSON = {"i", "we", "me", "us", "my", "our"}
PERSON_PRONOUNS = {"he", "she", "him", "her", "his"}
TITLES = {"general", "gen.", "field", "marshal", "president", "vice", "minister", "foreign", "prime", "deputy",
          "secretary", "chief", "lt.", "lt", "mr.", "mr", "ms.", "mrs.", "dr.", "dr", "professor", "prof.", "the",
          "chinese", "pakistani", "pakistan", "us", "u.s.", "state", "army", "of", "staff", "coas", "major", "maj.",
          "lieutenant", "colonel", "col.", "brigadier", "admiral", "adm.", "captain", "capt.", "sergeant", "sgt.",
          "spokesman", "spokeswoman", "spokesperson", "ambassador", "envoy", "commander", "governor", "senator", "sen.",
          "rep.", "representative", "defense", "defence", "interior", "sheikh", "king", "queen", "prince", "director",
          "mayor", "premier", "chancellor", "gov.", "ayatollah", "imam", "judge", "justice"}


@dataclass
class Frame:
    """One reporting frame of a sentence: token indices (sentence-absolute, into the spaCy Doc)."""

    cue: list[int]
    source: list[int]
    contents: list[int]
    #: tokens that belong to the frame itself (cue phrase, source) and never to a claim
    frame_tokens: set[int] = field(default_factory=set)
    sentiment: str = "neutral"
    #: more heads whose words join the first content's claim ("accused [Iran] [of violating ...]")
    joins: list[int] = field(default_factory=list)
    #: the cue lies inside the claim ("reportedly", "are reported to have ..."): no named source
    unnamed: bool = False


@dataclass(frozen=True)
class Lexicon:
    """The lexicons of configs/lexicons.yaml in the shapes the rules need."""

    verb_stance: dict[str, str]
    clausal_only: frozenset[str]
    infinitive_content: frozenset[str]
    prep_cues: tuple[tuple[str, ...], ...]
    report_adverbs: dict[str, str]
    report_participles: dict[str, str]
    report_nouns: frozenset[str]
    view_nouns: frozenset[str]
    view_adjectives: frozenset[str]
    nesting: frozenset[str]
    clause_verbs: frozenset[str]
    factive_clause: frozenset[str]
    unnamed_passive: frozenset[str]
    carryover: tuple[str, ...]
    non_sources: frozenset[str]
    neutral_claim_objects: frozenset[str]
    raw: dict


@cached
def lexicon(name: str = "lexicons.yaml") -> Lexicon:
    raw = cached_yaml(name)
    verb_stance = {v: stance for stance, verbs in raw["reporting_verbs"].items() for v in verbs}
    return Lexicon(
        verb_stance=verb_stance,
        clausal_only=frozenset(raw.get("clausal_only", [])),
        infinitive_content=frozenset(raw.get("infinitive_content", [])),
        prep_cues=tuple(tuple(p) for p in raw.get("prepositional_cues", [])),
        report_adverbs={a: stance for stance, advs in (raw.get("report_adverbs") or {}).items() for a in advs},
        report_participles={a: stance for stance, ws in (raw.get("report_participles") or {}).items() for a in ws},
        report_nouns=frozenset(raw.get("report_nouns", [])),
        view_nouns=frozenset(raw.get("view_nouns", [])),
        view_adjectives=frozenset(raw.get("view_adjectives", [])),
        nesting=frozenset(raw.get("nesting_verbs", [])),
        clause_verbs=frozenset(raw.get("clause_verbs", [])),
        factive_clause=frozenset(raw.get("factive_with_clause", [])),
        unnamed_passive=frozenset(raw.get("unnamed_passive", [])),
        carryover=tuple(o.lower() for o in raw.get("carryover_openers", [])),
        non_sources=frozenset(raw.get("non_sources", [])),
        neutral_claim_objects=frozenset(raw.get("neutral_claim_objects", [])),
        raw=raw,
    )


def _subtree_range(tok) -> list[int]:
    return list(range(tok.left_edge.i, tok.right_edge.i + 1))


def cue_lemma(word: str) -> str:
    """A cheap lemma for reporting words, enough to look cues up in the lexicon."""
    w = word.lower().split()[0] if word.strip() else ""
    known = lexicon().verb_stance
    for suffix, repl in (("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("d", "")):
        if w.endswith(suffix):
            stem = w[: -len(suffix)] + repl
            # "admitted" -> admit, "stated" -> state
            for cand in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem):
                if cand in known:
                    return cand
    return w


def verb_lemma(tok, lex: Lexicon | None = None) -> str:
    """A verb's lemma, mended where spaCy's lemmatizer slips on a reporting verb ("hoped" -> "hop")."""
    lemma = tok.lemma_.lower()
    return lemma if lemma in (lex or lexicon()).verb_stance else cue_lemma(tok.text)


def _is_report_verb(tok, lex: Lexicon) -> bool:
    return tok.pos_ in ("VERB", "AUX") and verb_lemma(tok, lex) in lex.verb_stance


SUBJECTS = ("nsubj", "nsubjpass", "csubj", "expl")
CONCESSIVE = {"while", "although", "though", "whereas"}
RELATIVE = {"who", "which", "that", "whom"}
# Complements of a stated position whose content is a noun phrase or an infinitive ("accused Iran of ...").
NP_CONTENT = ("dobj", "dative", "xcomp", "attr", "oprd")
CUE_PREPS = {"of", "for", "on", "over", "about", "against", "to"}
JOIN_PREPS = CUE_PREPS | {"as", "with"}
CONTENT_PREPS = {"of", "for", "about", "against", "over"}  # a cue's preposition whose object is what is reported
QUOTING = {"quote", "cite"}  # "quoted / cited X as saying": X speaks  # "described the drills [as ...]", "charged him [with ...]"


def _name_tokens(tok) -> list[int]:
    """A noun with its compounds, names and modifiers to its left (no relative clause): "Major General Bajwa"."""
    left = [c for c in tok.lefts if c.dep_ in ("compound", "amod", "det", "poss", "nmod", "case", "nummod")]
    start = min([tok.i] + [c.left_edge.i for c in left])
    return list(range(start, tok.i + 1))


def _np_tokens(head) -> list[int]:
    """A source's noun phrase without the clauses hung on it: "Kim Jong Un[, who succeeded his father ...,]",
    "the militants[, led by Hamas,]"; joint sources ("Mr. Bush and Mr. Roh") and short appositives stay."""
    keep = [head]
    for c in head.children:
        sub = list(c.subtree)
        if c.dep_ in ("relcl", "acl", "advcl", "punct", "parataxis"):
            continue
        if c.dep_ == "appos" and (len(sub) > 7 or c.pos_ != "PROPN" or
                                  any(t.pos_ in ("VERB", "AUX") and t.dep_ != "amod" for t in sub)):
            continue  # a description ("a think tank in Stockholm"), not a name
        keep.append(c)
    lo = min(t.left_edge.i if t is not head else t.i for t in keep)
    hi = max(t.right_edge.i if t is not head else t.i for t in keep)
    doc = head.doc
    while lo < hi and doc[lo].pos_ == "PUNCT":
        lo += 1
    while hi > lo and doc[hi].pos_ == "PUNCT":
        hi -= 1
    return list(range(lo, hi + 1))


def _source_tokens(verb, hops: int = 2) -> list[int]:
    """Tokens of who does the reporting: the subject, the agent of a passive, the antecedent of a relative pronoun
    ("Bajwa, who said ..."), or the subject of the verb a participle or conjunct hangs off ("Dar acknowledged ...,
    adding that")."""
    kids = list(verb.children)
    if any(c.dep_ == "nsubjpass" for c in kids):
        return [i for c in kids if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj" for i in _np_tokens(g)]
    subj = [c for c in kids if c.dep_ == "nsubj"]
    if len(subj) > 1 and any(c.i > verb.i for c in subj):  # "Part of it, says President Bush, is ...": the inverted
        subj = [min((c for c in subj if c.i > verb.i), key=lambda c: c.i)]  # subject speaks, the fronted one is content
    if len(subj) == 1 and subj[0].lower_ in RELATIVE and verb.dep_ == "relcl":
        return _name_tokens(verb.head)
    if not subj and verb.dep_ == "acl" and verb.head.i != verb.i:  # "issued a statement saying", "officials saying"
        noun = verb.head
        if noun.lemma_.lower() in lexicon().report_nouns and noun.dep_ in ("dobj", "pobj") and hops:
            owner = noun.head.head if noun.dep_ == "pobj" else noun.head
            issuer = [i for c in owner.children if c.dep_ == "nsubj" for i in _subtree_range(c)]
            return issuer or _name_tokens(noun)
        return _name_tokens(noun)
    if not subj and verb.dep_ == "pcomp" and verb.head.lower_ == "as" and verb.head.head.lemma_.lower() in QUOTING:
        quote = verb.head.head  # "quote X as saying", "X was quoted as saying"
        said = [c for c in quote.children if c.dep_ in ("dobj", "nsubjpass")]
        if said:
            return _subtree_range(said[0])
    if not subj and hops and verb.dep_ in ("advcl", "conj", "xcomp", "relcl") and verb.head.i != verb.i:
        if verb.dep_ == "relcl":  # "a statement saying ..." / "officials who said"
            return _name_tokens(verb.head)
        return _source_tokens(verb.head, hops - 1)
    if not subj:  # "Speaking to reporters, General Dan McNeill, the NATO commander, said": the parser hung the
        for c in kids:  # speaker on the fronted phrase as an appositive that ends right before the verb
            if c.i < verb.i and c.dep_ in ("prep", "advcl"):
                named = [t for t in c.subtree if t.dep_ == "appos" and t.pos_ == "PROPN" and
                         all(x.is_punct for x in verb.doc[t.right_edge.i + 1 : verb.i])]
                if named:
                    return _subtree_range(named[0])
    return sorted({i for c in subj for i in _np_tokens(c)})


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
    """The parser often reads "was assured by an official that X ...", "said at a news briefing that X" as a
    relative clause on the agent or the adjunct."""
    return [r for c in verb.children if c.dep_ in ("agent", "prep") and c.i > verb.i for g in c.children
            if g.dep_ == "pobj" for r in g.children
            if r.dep_ in ("relcl", "acl", "ccomp") and any(m.dep_ == "mark" and m.lower_ == "that" for m in r.children)]


def _cue_tokens(tok) -> list[int]:
    """The reporting verb with its particle ("called on") or a preposition right after it ("warned of")."""
    cue = [tok.i] + [c.i for c in tok.children if c.dep_ == "prt"]
    if tok.dep_ == "pcomp" and tok.head.lower_ == "as":  # "quoted ... as saying"
        cue = [tok.head.i] + cue
    nxt = tok.doc[max(cue) + 1] if max(cue) + 1 < len(tok.doc) else None
    if nxt is not None and nxt.dep_ == "prep" and nxt.head.i == tok.i and nxt.lower_ in CUE_PREPS and \
            not any(c.dep_ in ("ccomp", "dobj") for c in tok.children):
        cue.append(nxt.i)
    return sorted(cue)


def _unsaid(verb) -> bool:
    """A report the text says was not made ("did not say whether", "no group has claimed", "declined to say"): what
    follows is the author's account of a silence, not the source's claim."""
    if any(c.dep_ == "neg" for c in verb.children):
        return True
    if any(c.dep_ in ("nsubj", "nsubjpass", "dobj") and any(d.dep_ == "det" and d.lower_ in ("no", "neither")
                                                            for d in c.children) for c in verb.children):
        return True  # "no group has claimed", "expressed no objections"
    return verb.dep_ == "xcomp" and verb.head.lemma_.lower() in ("decline", "refuse")


def says_nothing(tokens, lex: Lexicon | None = None) -> bool:
    """Whether a stretch of tokens holds a report the text says was not made ("declined to comment", "did not say")."""
    lex = lex or lexicon()
    return any(_is_report_verb(t, lex) and _unsaid(t) for t in tokens)


def _verb_frame(tok, sent, lex: Lexicon) -> Frame | None:
    """The frame of a reporting verb: "X said (that) Y", "Y, X said", "X is reported to Y", "X condemned Y"."""
    lemma = verb_lemma(tok, lex)
    kids = list(tok.children)
    passive = any(c.dep_ == "nsubjpass" for c in kids) or any(c.dep_ == "auxpass" for c in kids)
    agent = any(c.dep_ == "agent" for c in kids)
    if passive and not agent:
        # "Warplanes are reported to have bombed ...", "It is believed that ...": reports without a named source.
        comps = [c for c in kids if c.dep_ in ("ccomp", "xcomp")]
        modal = any(c.dep_ == "aux" and c.tag_ == "MD" for c in kids)  # "it may be recalled that": the author's
        if not comps or modal or lemma not in lex.unnamed_passive:
            return None
        expl = any(c.dep_ in ("nsubjpass", "expl") and c.lower_ == "it" for c in kids)
        contents = [c.i for c in comps] if expl else [tok.i]
        own = {tok.i} | ({i for c in kids if c.dep_ in ("nsubjpass", "auxpass", "expl") for i in _subtree_range(c)}
                         if expl else set())
        return Frame(cue=[tok.i], source=[tok.i], contents=contents, frame_tokens=own,
                     sentiment=lex.verb_stance[lemma], unnamed=True)
    if _unsaid(tok):
        return None
    comps = [c for c in kids if c.dep_ == "ccomp"] or _relcl_content(tok)
    joins: list[int] = []
    if not comps and lemma in lex.infinitive_content:  # "claimed to have launched", "urged Vietnam to stop"
        comps = [c for c in kids if c.dep_ == "xcomp" or (c.dep_ == "advcl" and c.i > tok.i and any(
            m.dep_ in ("mark", "aux") and m.lower_ in ("for", "to") for m in c.children))]
        joins = [c.i for c in kids if c.dep_ in ("dobj", "dative") and comps and c.i < comps[0].i]
    cue = _cue_tokens(tok)
    cue_prep = tok.doc[cue[-1]]
    if not comps and cue_prep.i > tok.i and cue_prep.dep_ == "prep" and cue_prep.lower_ in CONTENT_PREPS and \
            lemma not in lex.clause_verbs:
        # "warned of [severe consequences]", "called for [calm]"; not "called on [the president]" (a visit)
        comps = [c for c in cue_prep.children if c.dep_ in ("pobj", "pcomp") and c.ent_type_ not in ("DATE", "TIME")]
    if not comps and lemma in lex.clause_verbs:  # "officials say a frigate directed radar ...": a clause misread
        comps = [c for c in kids if c.dep_ == "dobj" and c.i > tok.i and (c.right_edge.i - c.left_edge.i >= 4 or
                 c.right_edge.i - c.left_edge.i >= 3 and any(t.pos_ == "VERB" for t in c.subtree))]
    if not comps and lemma not in lex.clausal_only:  # "reaffirmed their commitment to ...", "accused Iran of ..."
        right = [c for c in kids if c.i > tok.i and (c.dep_ in NP_CONTENT or (c.dep_ == "prep" and c.lower_ in JOIN_PREPS))]
        cue_end = max(cue)
        right = [c for c in right if c.i > cue_end]
        objs = [c for c in right if c.dep_ in NP_CONTENT and c.pos_ in ("NOUN", "PROPN", "PRON", "VERB", "NUM")]
        if objs:
            comps, joins = [right[0]], [c.i for c in right[1:]]
        elif right and any(c.dep_ == "prep" for c in right) and cue_end > tok.i:
            comps, joins = [right[0]], [c.i for c in right[1:]]  # "warned of [a strong response]"
    if not comps:  # "Rebel leader wounded in air strike, officials say": the content comes first, unlinked
        comps = [c for c in kids if c.i < tok.i and c.dep_ not in ("nsubj", "nsubjpass", "punct", "cc", "aux", "mark",
                                                                   "advmod", "neg", "prep", "npadvmod" if c.pos_ != "NOUN" else "")
                 and c.pos_ in ("NOUN", "PROPN", "VERB") and any(t.text == "," for t in sent.doc[c.right_edge.i : tok.i])
                 and not any(m.dep_ == "mark" for m in c.children)]  # "As Kerry arrived, ..." sets the scene
    lo, hi = sorted((tok.head.i, tok.i))
    parenthetical = not comps and tok.dep_ in ("parataxis", "ccomp", "advcl") and tok.head.i != tok.i and \
        not _is_report_verb(tok.head, lex) and any(t.text == "," for t in sent.doc[lo:hi])
    if parenthetical:
        comps = [tok.head]
    if not comps:
        return None
    # a condition after the content hung on the reporting verb is part of what is reported
    # ("warned of severe consequences if the United States goes ahead")
    joins += [c.i for c in kids if c.dep_ == "advcl" and c.i > max(k.i for k in comps) and
              any(m.dep_ == "mark" and m.lower_ in ("if", "unless") for m in c.children)]
    src_tokens = _source_tokens(tok)
    if not src_tokens or sent.doc[src_tokens[0]].lower_ in DEMONSTRATIVES and len(src_tokens) == 1:
        return None  # "It may be recalled that", "This shows that": the author's own voice
    if sent.doc[src_tokens[0]].lower_ in ("this", "these", "that", "those") and len(src_tokens) <= 2:
        return None
    head = next(sent.doc[i] for i in src_tokens if sent.doc[i].head.i not in src_tokens or sent.doc[i].head.i == i)
    if head.lemma_.lower() in lex.non_sources:
        owner = tok.head.head if tok.head.dep_ == "acl" else tok.head
        if not (tok.dep_ == "advcl" and owner.i < tok.i and owner.lemma_.lower() in lex.report_nouns):
            return None  # "The discussions underscore a growing trend": events do not speak
        # "A statement issued after the talks said ...": the parser took "the talks" for the speaker
        src_tokens = _np_tokens(owner)
    inside_content = {i for c in comps for i in _subtree_range(c)}
    own = set(cue) | set(src_tokens)
    for c in kids:
        if c.dep_ in ("nsubj", "nsubjpass", "agent"):
            own.update(i for i in _subtree_range(c) if i not in inside_content)
    if tok.dep_ == "pcomp" and tok.head.lower_ == "as":  # "[X was quoted] as saying": the quoting is frame too
        quote = tok.head.head
        own.update([quote.i, *(i for c in quote.children if c.dep_ in ("nsubj", "nsubjpass", "auxpass", "aux", "dobj")
                               for i in _subtree_range(c))])
    sentiment = lex.verb_stance[lemma]
    claimed = [c for c in comps if c.dep_ == "dobj"] + ([tok.head] if tok.dep_ == "relcl" else [])
    if lemma == "claim" and any(c.lemma_.lower() in lex.neutral_claim_objects for c in claimed):
        sentiment = "neutral"  # a position held ("claims sovereignty over"), not a report the author distances from
    if lemma in lex.factive_clause and all(c.dep_ == "ccomp" for c in comps):
        sentiment = "endorse"  # "acknowledged that its soldiers fired": an admission; "acknowledged the efforts": praise
    return Frame(cue=cue, source=sorted(set(src_tokens)), contents=[c.i for c in comps], frame_tokens=own,
                 sentiment=sentiment, joins=joins)


def _prep_frame(tok, sent, lex: Lexicon) -> Frame | None:
    """"According to X, Y" and its like."""
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
            return Frame(cue=cue, source=src, contents=[head.i], frame_tokens=own, sentiment="neutral")
    return None


def _adverb_frame(tok, lex: Lexicon) -> Frame | None:
    """"The militants reportedly attacked ...", "The reported cost was ...": a report without a named source, inside
    the claim."""
    stance = lex.report_participles.get(tok.lower_)
    noun = tok.head
    if stance is not None and tok.dep_ == "amod" and noun.dep_ in ("nsubj", "nsubjpass", "attr") and noun.head.i != noun.i:
        # "The reported cost would be $4.2 billion": the clause whose subject it describes
        return Frame(cue=[tok.i], source=[tok.i], contents=[noun.head.i], sentiment=stance, unnamed=True)
    stance = lex.report_adverbs.get(tok.lower_)
    if stance is None or tok.dep_ != "advmod" or tok.head.i == tok.i:
        return None
    return Frame(cue=[tok.i], source=[tok.i], contents=[tok.head.i], sentiment=stance, unnamed=True)


def _noun_frame(tok, lex: Lexicon) -> Frame | None:
    """"India's claim that X", "reports that X": X credited to the owner of the claim, or to unnamed reports."""
    lemma = tok.lemma_.lower()
    if tok.pos_ != "NOUN" or lemma not in lex.report_nouns | lex.view_nouns:
        return None
    comps = [c for c in tok.children if c.dep_ in ("acl", "ccomp", "appos") and c.pos_ in ("VERB", "AUX")
             and any(m.dep_ == "mark" and m.lower_ == "that" for m in c.children)]
    if not comps:
        return None
    owner = [c for c in tok.children if c.dep_ == "poss"] or \
        [g for c in tok.children if c.dep_ == "prep" and c.lower_ == "among" for g in c.children if g.dep_ == "pobj"]
    if lemma in lex.view_nouns and not owner:
        return None  # "the fear that X" without whose: no report
    src = _subtree_range(owner[0]) if owner else [tok.i]
    own = {tok.i, *src, *(c.i for c in tok.children if c.dep_ in ("prep", "amod") and c.i < comps[0].i)}
    if tok.dep_ == "attr" and any(c.dep_ == "expl" for c in tok.head.children):  # "There is growing concern ..."
        own |= {tok.head.i, *(c.i for c in tok.head.children if c.dep_ == "expl")}
    return Frame(cue=[tok.i], source=src, contents=[c.i for c in comps], frame_tokens=own,
                 sentiment=lex.verb_stance.get(lemma, "neutral"), unnamed=not owner)


def _adjective_frame(tok, lex: Lexicon) -> Frame | None:
    """"Many are optimistic (that) the strategy is working": a view the subject holds."""
    if tok.dep_ != "acomp" or tok.lemma_.lower() not in lex.view_adjectives:
        return None
    comps = [c for c in tok.children if c.dep_ == "ccomp"] or [c for c in tok.head.children if c.dep_ == "ccomp"]
    subj = [c for c in tok.head.children if c.dep_ == "nsubj"]
    if not comps or not subj or subj[0].lower_ in DEMONSTRATIVES:
        return None
    src = _np_tokens(subj[0])
    cue = sorted({tok.head.i, tok.i})
    return Frame(cue=cue, source=src, contents=[c.i for c in comps], frame_tokens={*cue, *src}, sentiment="neutral")


def concessive(tok) -> bool:
    """A clause of its own opened by a concessive mark ("while Ukraine reported ...", "though there was ...")."""
    return tok.dep_ == "advcl" and any(c.dep_ in SUBJECTS for c in tok.children) and \
        any(c.dep_ == "mark" and c.lower_ in CONCESSIVE for c in tok.children)


def content_tokens(sent, head: int) -> set[int]:
    """The tokens of a report's content clause, without a concessive clause after its head: that one is an aside
    of the author's or of another source ("killed 25, while Ukraine reported nine troops killed")."""
    aside = {i for k in sent.doc[head].subtree if k.i > head and concessive(k) for i in _subtree_range(k)}
    return set(_subtree_range(sent.doc[head])) - aside


def find_frames(sent, lex: Lexicon | None = None) -> list[Frame]:
    """The reporting frames of one spaCy sentence span.

    A report inside the content of another keeps its own frame when it takes a clause ("the paper said officials
    claimed that X": X is the officials'); a stated position inside a report ("the statement said both sides
    reaffirmed their commitment") belongs to the outer report.
    """
    lex = lex or lexicon()
    frames: list[Frame] = []
    inside: set[int] = set()
    for tok in sorted(sent, key=lambda t: (sum(1 for _ in t.ancestors), t.i)):
        frame = None
        if _is_report_verb(tok, lex):
            frame = _verb_frame(tok, sent, lex)
            clausal = frame is not None and verb_lemma(tok, lex) in lex.nesting and \
                all(sent.doc[c].dep_ in ("ccomp", "xcomp") for c in frame.contents)
            if frame is not None and tok.i in inside and not clausal:
                frame = None
        if frame is None and tok.i not in inside:
            frame = _prep_frame(tok, sent, lex) or _noun_frame(tok, lex) or _adjective_frame(tok, lex)
        if frame is None:
            frame = _adverb_frame(tok, lex)
        if frame is None:
            continue
        # a participle with no subject of its own inside a report speaks for that report's source
        # ("The spokesman said 13 people died, claiming that a mosque was hit")
        if tok.i in inside and not any(c.dep_ in SUBJECTS for c in tok.children) and tok.tag_ == "VBG":
            outer = next((f for f in reversed(frames) if tok.i in f.frame_tokens or
                          any(tok.i in _subtree_range(sent.doc[c]) for c in f.contents)), None)
            if outer is not None and outer.source:
                # the subject it had borrowed from the verb it hangs on is the content's, not this frame's
                frame.frame_tokens = set(frame.frame_tokens) - (set(frame.source) - set(frame.cue))
                frame.source = list(outer.source)
        frames.append(frame)
        if not frame.unnamed:
            inside.update(i for c in frame.contents for i in content_tokens(sent, c))
    # a report inside another's subject keeps its content ("The government, which accuses Russia of arming the
    # rebels, called ...": "Russia of arming the rebels" is no frame word of "called")
    contents = [set() if g.unnamed else {i for c in [*g.contents, *g.joins] for i in content_tokens(sent, c)}
                for g in frames]
    for k, f in enumerate(frames):
        held = set().union(*(held for j, held in enumerate(contents) if j != k))
        f.frame_tokens = set(f.frame_tokens) - (held - set(f.cue) - set(f.source))
    frames.sort(key=lambda f: f.cue[0])
    return frames


def house_voice(frame: Frame, sdoc, outlet: str | None) -> bool:
    """Whether a frame's source is the publishing outlet or its staff ("VOA's Benjamin Sand reports that ..." in a
    VOA article): the outlet's own reporters speak with the author's voice, so theirs is no report."""
    if not outlet or not frame.source or frame.unnamed:
        return False
    return word_re(outlet).search(" ".join(sdoc[i].text for i in frame.source)) is not None


# --- names -------------------------------------------------------------------------------------------------
#
# One convention for canonical names (labels/GUIDE.md, "Sources"): a person is their full name; a named organisation
# its name in `sources`; a state (or its capital, or "the X government") the state's short name; an unnamed body of
# a state "<state> <body>" ("Pakistan military"); an unnamed office holder the office, or the person the article
# names in that office; unnamed people the phrase without its article.

def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'").replace("‘", "'")).strip().lower()


@dataclass(frozen=True)
class NameTables:
    """The tables of configs/sources.yaml, normalised and sorted longest first."""

    aliases: list[tuple[str, str, str]]  # (alias, canonical, kind) of named sources
    states: list[tuple[str, str, bool]]  # (name, capital or adjective; state; all capitals: match case)
    bodies: list[tuple[str, str]]  # (words, body): "armed forces" -> "military"
    offices: tuple[str, ...]
    office_modifiers: frozenset[str]  # words that narrow an office before it ("deputy", "interior")
    administrations: dict[str, str]  # leader's surname -> state ("obama" -> United States)
    state_words: tuple[str, ...]  # words that make "<state> <word>" the state itself ("government")
    kinds: dict[str, list[str]]


@cached
def name_tables(name: str = "sources.yaml") -> NameTables:
    raw = cached_yaml(name)
    # all-capital aliases ("UN", "AP") match only in capitals: "Kim Jong Un" is not the UN
    rows = [(a if a.replace(".", "").isupper() and len(a) <= 5 else _norm(a), canon, spec.get("kind", "other"))
            for canon, spec in (raw.get("sources") or {}).items() for a in [canon, *spec.get("aliases", [])]]
    states = [(a if a.isupper() else _norm(a), st, a.isupper()) for st, names in (raw.get("states") or {}).items()
              for a in [st, *names]]
    bodies = [(_norm(w), body) for body, words in (raw.get("bodies") or {}).items() for w in [body, *words]]
    return NameTables(
        aliases=sorted(rows, key=lambda r: -len(r[0])),
        states=sorted(states, key=lambda r: -len(r[0])),
        bodies=sorted(bodies, key=lambda r: -len(r[0])),
        offices=tuple(_norm(o) for o in raw.get("offices") or []),
        office_modifiers=frozenset(_norm(o) for o in raw.get("office_modifiers") or []),
        administrations={_norm(n): st for st, names in (raw.get("administrations") or {}).items() for n in names},
        state_words=tuple(_norm(w) for w in raw.get("state_words") or []),
        kinds={k: [_norm(w) for w in v] for k, v in (raw.get("kinds") or {}).items()},
    )


def alias_table(name: str = "sources.yaml") -> tuple[list[tuple[str, str, str]], dict[str, list[str]]]:
    """(alias, canonical, kind) of named sources, longest first, and the keyword lists that classify the rest."""
    t = name_tables(name)
    return t.aliases, t.kinds


@lru_cache(maxsize=None)
def word_re(phrase: str) -> re.Pattern:
    """The compiled whole-word pattern of a phrase (compiled once: the tables hold hundreds of them)."""
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


def _contains(text: str, phrase: str) -> bool:
    return word_re(phrase).search(text) is not None


def _find(text: str, phrase: str) -> int:
    m = word_re(phrase).search(text)
    return m.start() if m else -1


def classify_kind(text: str, has_name: bool) -> str:
    """A source's kind from its words: anonymous when it names no one, else by the keyword lists."""
    kinds = name_tables().kinds
    low = _norm(text)
    if not has_name and any(" " in w and _contains(low, w) for w in kinds.get("anonymous", [])):
        return "anonymous"  # "one analyst", "a defense official": an unnamed individual
    order = ["official", "expert", "media"] if has_name else ["expert", "media", "anonymous", "official"]
    for multiword in (True, False):  # "news agency" is media before "agency" is official
        for kind in order:
            if any((" " in w) == multiword and _contains(low, w) for w in kinds.get(kind, [])):
                return kind
    return "anonymous" if not has_name and any(_contains(low, w) for w in ("sources", "officials", "reports")) else "other"


def non_state(before: str, after: str) -> bool:
    """Whether the phrase of a named person (the words before the name in its clause, an appositive after it) ties
    them to an armed group that is no state ("Rebel commander Eduard Basurin", "Tun Myat Lin, a Kokang rebel
    commander"): such a person is `other`, whatever office the phrase gives."""
    own = re.split(r"[.;:!?,\n]", before)[-1]
    appositive = after[2:].split(",")[0] if after.startswith(", ") else ""
    return any(_contains(_norm(f"{own} {appositive}"), w) for w in name_tables().kinds.get("non_state", []))


def strip_titles(name: str) -> str:
    words = name.replace("’s", "").replace("'s", "").split()
    while len(words) > 1 and words[0].lower().rstrip(",") in TITLES:
        words = words[1:]
    return " ".join(words).strip(" ,")


@cached
def _state_patterns() -> tuple[re.Pattern, re.Pattern, dict[str, str]]:
    """One alternation over the states' lower-case names and one over their all-capital ones, longest first."""
    table = name_tables().states
    alt = lambda names: re.compile("(?<!\\w)(" + "|".join(re.escape(a) for a in sorted(names, key=len, reverse=True))  # noqa: E731
                                   + ")(?!\\w)")
    return (alt([a for a, _, case in table if not case]), alt([a for a, _, case in table if case]),
            {a: st for a, st, _ in table})


def _state_hits(text: str) -> list[tuple[int, int, str]]:
    """(start, end, state) of every state name, capital or adjective in a text."""
    lower, upper, states = _state_patterns()
    return sorted([(m.start(), m.end(), states[m.group(1)]) for m in lower.finditer(_norm(text))] +
                  [(m.start(), m.end(), states[m.group(1)]) for m in upper.finditer(text)])


def state_of(text: str) -> tuple[str, int, int] | None:
    """The state a phrase names (by name, capital or adjective) and where (start, end), the first in the phrase."""
    hits = _state_hits(text)
    if not hits:
        return None
    at, end, st = min(hits, key=lambda h: (h[0], -(h[1] - h[0])))
    return st, at, end


def _body_of(low: str) -> str | None:
    """The body of a state a phrase names: a listed one ("armed forces" -> military), or any "<x> ministry" /
    "ministry of <x>" ("Unification Ministry" -> "unification ministry")."""
    found = next((body for words, body in name_tables().bodies if _contains(low, words)), None)
    if found is None:
        m = re.search(r"\b([a-z]+) ministry\b", low) or re.search(r"\bministry of (?:the )?([a-z]+)\b", low)
        if m and m.group(1) not in ("the", "a", "its", "their", "his", "her", "'s"):
            found = f"{m.group(1)} ministry"
    return found


def _office_of(low: str) -> str | None:
    # the last office named, and of those ending there the longest ("foreign secretary", not "secretary")
    found = [(_find(low, o) + len(o), len(o), o) for o in name_tables().offices if _contains(low, o)]
    return max(found)[2] if found else None


def _office_phrase(low: str, office: str) -> str:
    """The office with the words that narrow it before it: "deputy interior minister", not "minister"."""
    words = low[: _find(low, office)].split()
    mods = []
    while words and words[-1] in name_tables().office_modifiers:
        mods.insert(0, words.pop())
    return " ".join([*mods, office])


class People:
    """The persons a document names, for resolving surnames, pronouns and offices to one full name each."""

    OFFICE_WINDOW = 40  # characters before a name, or after it past a comma, where the article gives its office

    def __init__(self, mentions: list[tuple[int, str]], text: str = ""):
        self.text = text
        self.mentions = sorted((off, name) for off, name in mentions if name)
        names = {name for _, name in self.mentions}
        self.full_names = sorted(names, key=lambda n: (-len(n.split()), -len(n)))
        self.offices: list[tuple[int, str, str]] = []  # (offset, office word, full name)
        for off, name in self.mentions:
            # "<office> [titles] Name" or "Name, the <office>" (nothing but names and titles in between)
            before = _norm(text[max(0, off - self.OFFICE_WINDOW) : off])
            after = _norm(text[off + len(name) : off + len(name) + self.OFFICE_WINDOW])
            for office in name_tables().offices:
                pre = re.search(rf"(?<!\w){re.escape(office)}((?:\s+[\w.'-]+){{0,4}})\s*$", before)
                if pre and all(w.rstrip(".") in TITLES or w.rstrip(".") in office for w in pre.group(1).split()) or \
                        re.match(rf"^,\s+(?:the\s+|a\s+)?(?:[\w'-]+\s+){{0,3}}?{re.escape(office)}\b", after):
                    self.offices.append((off, office, self.full(name, off)))

    @staticmethod
    def _part_of(name: str, full: str) -> bool:
        """Whether `name` names the person `full`: its words are among theirs and it ends or starts like them
        ("Sharif" is Nawaz Sharif, not Ahmed Sharif Chaudhry; "Zhang" is Zhang Youxia)."""
        w, f = name.lower().split(), full.lower().split()
        return set(w) <= set(f) and (w[-1] == f[-1] or w[0] == f[0])

    def full(self, name: str, at: int | None = None) -> str:
        """The full name `name` stands for: of the names containing it, the one last mentioned before `at`."""
        cands = [n for n in self.full_names if self._part_of(name, n)]
        if not cands:
            return name
        if at is not None:
            before = [(off, n) for off, n in self.mentions if off <= at and n in cands and len(n) >= len(name)]
            longest = max(len(n.split()) for n in cands)
            before = [(off, n) for off, n in before if len(n.split()) == longest] or before
            if before:
                return max(before)[1] if len(max(before)[1].split()) >= len(name.split()) else cands[0]
        return cands[0]

    @property
    def names(self) -> list[str]:
        return [n for n in self.full_names if not any(n != m and self._part_of(n, m) for m in self.full_names)]

    def named_in(self, span_text: str, at: int | None = None) -> str | None:
        """The full name of a person the span names, if any."""
        low = _norm(span_text)
        for name in sorted({n for _, n in self.mentions}, key=len, reverse=True):
            if _contains(low, _norm(name)):
                return self.full(name, at)
        for full in self.names:  # a surname alone ("Bajwa said")
            for w in (full.split()[-1], full.split()[0]):
                if len(w) > 2 and w[:1].isupper() and _contains(low, _norm(w)) and re.search(rf"\b{re.escape(w)}\b", span_text):
                    return self.full(w, at)
        return None

    def kind(self, full: str) -> str:
        """A person's kind from how the article describes them around their mentions ("President George W. Bush",
        "Harsh V. Pant, lecturer in ...", "a senior journalist ..., Syed Ali Shah"): the first that says."""
        for off, name in self.mentions:
            if self.full(name, off) == full:
                if non_state(self.text[max(0, off - 70) : off], self.text[off + len(name) : off + len(name) + 70]):
                    return "other"
                window = _norm(self.text[max(0, off - 70) : off]) + " | " + _norm(self.text[off : off + len(name) + 70])
                window = re.split(r"[.;]\s", window.split(" | ")[0])[-1] + " " + re.split(r"[.;]\s", window.split(" | ")[1])[0]
                kind = classify_kind(window.replace(_norm(name), " "), True)
                if kind != "other":
                    return kind
        return "other"

    def last_before(self, at: int) -> str | None:
        """The person last named before `at`, passing over possessives ("backing Mr. Ahmadinejad's position"): a
        pronoun that speaks next is rarely the owner of a thing just named."""
        before = [(off, name) for off, name in self.mentions if off < at]
        named = [(off, name) for off, name in before
                 if self.text[off + len(name) : off + len(name) + 2] not in ("'s", "’s")] or before
        return self.full(named[-1][1], at) if named else None

    def holder(self, office: str, at: int) -> str | None:
        """The person the article names in `office` most recently before `at` (else first after)."""
        found = [(off, name) for off, o, name in self.offices if o == office]
        before = [x for x in found if x[0] <= at]
        return (max(before) if before else min(found))[1] if found else None


ROLES = {"official", "spokesman", "spokeswoman", "spokesperson", "diplomat", "source"}  # one unnamed person each
UNNAMED = ("unnamed reports", "anonymous")  # canonical name and kind of a report that names no source
# "a Pentagon official", "one local resident": an unnamed individual, whatever organisation the phrase names.
INDEFINITE_PERSON = re.compile(r"(an?|one|another)\b[^,]*?\b(official|source|diplomat|resident|witness|officer|person)\b")
MEDIA_HEADS = {"media", "radio", "television", "tv", "newspaper", "newspapers", "press", "outlets", "broadcaster"}
DOCUMENT_HEADS = {"poll", "polls", "survey", "surveys", "study"}
UNNAMED_PEOPLE = (r"\b(officials|sources|source|diplomats|diplomat|residents|witnesses|people|analysts|experts|observers|"
                  r"activists|critics|scientists|scholars|researchers|reports|militants|protesters|protestors|rebels|"
                  r"separatists|fighters|hackers|villagers|refugees|officers|commanders|insurgents|lawmakers|"
                  r"legislators|members|many|some|others|outlets|newsreader|journalists|reporters|rescuers|"
                  r"medics|doctors|survivors|students|workers|farmers)\b")


def _unnamed_people(span_text: str, phrase: str) -> tuple[str, str]:
    """Unnamed people keep their phrase (as written, without its article); their kind is anonymous unless their
    words say expert or media ("analysts", "journalists")."""
    kind = classify_kind(span_text, False)
    return phrase, "anonymous" if kind in ("other", "official") else kind


def canonical_source(span_text: str, people: "People | list[str] | None" = None, at: int | None = None,
                     default_state: str | None = None) -> tuple[str, str]:
    """(canonical name, kind) of a source span by the convention above."""
    if not isinstance(people, People):
        people = People([(0, p) for p in (people or [])])
    t = name_tables()
    head, _, described = span_text.partition(", ")
    if described and re.search(r"[A-Z]", head) and not re.search(r"\b(and|or)\b", described) and \
            people.named_in(described, at) is None:  # "a spokesman for the ministry, Hong Lei" is Hong Lei
        # "The Institute for Arms Studies, a think tank in Stockholm": the name, with the description for the kind
        canon, kind = canonical_source(head, people, at, default_state)
        if kind in ("other", "anonymous") or canon == head.strip():
            desc_kind = classify_kind(described, True)
            kind = desc_kind if desc_kind != "other" else kind
        if canon.lower() not in ("he", "she", "it", "they"):
            return canon, kind
    low = _norm(span_text)
    person = people.named_in(span_text, at)
    raw = span_text.replace("’", "'")
    named = [(alias, canon, kind) for alias, canon, kind in t.aliases
             if alias and _contains(raw if alias.replace(".", "").isupper() else low, alias)]
    phrase = re.sub(r"['’]s$", "", re.sub(r"^(the|a|an)\s+", "", span_text.strip(), flags=re.I))
    if re.fullmatch(r"(media |news |press )?reports?", phrase.lower()):
        return UNNAMED
    words = re.findall(r"[\w'-]+", low)
    # "Obama administration officials", "a Pentagon official": unnamed people first, whatever body the phrase names
    if (words and re.fullmatch(UNNAMED_PEOPLE, words[-1]) and not named) or \
            (person is None and INDEFINITE_PERSON.match(low)):
        return _unnamed_people(span_text, phrase)
    if words and words[-1] in MEDIA_HEADS and not named and _body_of(low) != "state media":
        return phrase, "media"  # "Ukrainian media", "Israel radio": outlets of a country, not its government
    if words and words[-1] in DOCUMENT_HEADS and not named:
        return phrase, "other"  # "an Israeli opinion poll"
    led = re.search(r"([\w-]+)(?:'s)? (?:government|administration|cabinet)\b", low)
    if led and led.group(1) in t.administrations and not re.search(UNNAMED_PEOPLE, low.split("administration")[-1]):
        return t.administrations[led.group(1)], "official"  # "the Obama administration"
    if person is not None and re.search(r"'s (government|administration|cabinet)\b", low) and \
            (state_of(span_text) or default_state):  # "Prime Minister Nawaz Sharif's government"
        return (state_of(span_text) or (default_state,))[0], "official"
    if person is not None:
        for alias, canon, kind in t.aliases:  # the full name may be listed ("Syed Asim Munir")
            if alias and _contains(person if alias.replace(".", "").isupper() else _norm(person), alias):
                return canon, kind
        at_name = span_text.find(person)
        if at_name >= 0 and non_state(span_text[:at_name], span_text[at_name + len(person) :]):
            return person, "other"
        kind = classify_kind(span_text.replace(person, " "), True)
        return person, kind if kind != "other" else people.kind(person)
    if named:
        return named[0][1], named[0][2]
    office = _office_of(low)
    if office is not None and at is not None and not re.search(r"\b(one|two|three|several|some)\b", low):
        holder = people.holder(office, at)  # "the spokesman" the article has named
        if holder is not None:
            return holder, people.kind(holder) if classify_kind(span_text, True) == "other" else classify_kind(span_text, True)
    if re.search(UNNAMED_PEOPLE, low):
        return _unnamed_people(span_text, phrase)
    found = state_of(span_text)
    body = _body_of(low)
    states = list(dict.fromkeys(st for _, _, st in _state_hits(span_text))) if found and " and " in low else []
    if len(states) > 1:
        if body is None and office is None and re.fullmatch(r"(both |the )?[\w. '-]+( and [\w. '-]+)+", low):
            return " and ".join(states), "official"  # "Both Hanoi and Manila": the states, jointly
        return phrase, "official"  # "Britain and Canada's navies": a joint source of states
    if found is not None and body is None and office is None:
        # "U.S. Northern Command", "Pakistan Muslim League": a named organisation, not the state itself
        outside = span_text[: found[1]] + " " + span_text[found[2] :]
        rest = [w for w in re.findall(r"[A-Z][\w'’-]*", outside)
                if not _contains(_norm(found[0]), _norm(w)) and state_of(w) is None and w.lower() not in TITLES]
        if rest:
            return phrase, classify_kind(span_text, True)
    state = found[0] if found else (default_state if body else None)
    kind = "media" if body == "state media" and office is None else "official"
    if state is not None:
        if office is not None or body is not None:
            return " ".join([state] + [w for w in (body, office and _office_phrase(low, office)) if w]), kind
        return state, kind
    if body is not None or office is not None:
        return " ".join(w for w in (body, office) if w), "media" if body == "state media" else "official"
    words = span_text.split()
    has_name = any(w[:1].isupper() for w in words[1:]) or (len(words) == 1 and words[0][:1].isupper())
    return phrase, classify_kind(span_text, has_name)


def _titled_names(sd) -> list[tuple[int, str]]:
    """Names the entity recogniser misses after a title: "spokesman Major General Asim Saleem Bajwa"."""
    out, i, n = [], 0, len(sd)
    while i < n:
        if sd[i].lower_ in TITLES and sd[i].lower_ not in ("the", "of", "state", "us", "u.s."):
            j = i + 1
            while j < n and sd[j].lower_ in TITLES and sd[j].text[:1].isupper():
                j += 1
            k = j
            while k < n and sd[k].pos_ == "PROPN" and sd[k].text[:1].isupper() and sd[k].ent_type_ not in ("GPE", "ORG", "NORP"):
                k += 1
            if k - j >= 2:
                out.append((sd[j].idx, sd[j : k].text))
            i = max(k, i + 1)
        else:
            i += 1
    return out


def person_mentions(parsed: list[tuple[int, object]]) -> list[tuple[int, str]]:
    """(document offset, name without titles) of each person named in a document. A one-word "person" the document
    elsewhere tags as a place, group or organisation, or that names a state ("Kokang rebels", "Kyiv's forces"), and
    that is no part of a longer name, is the entity recogniser's slip, not a person."""
    out = {}
    places = {t.text for _, sd in parsed for t in sd if t.ent_type_ in ("GPE", "NORP", "LOC", "ORG", "FAC")}
    places -= {t.text for _, sd in parsed for e in sd.ents if e.label_ == "PERSON" and len(e) > 1 for t in e}
    for off, sd in parsed:
        for ent in sd.ents:
            if ent.label_ != "PERSON" or len(ent) == 1 and (ent.text in places or state_of(ent.text) is not None):
                continue
            if strip_titles(ent.text):
                out[off + ent.start_char] = strip_titles(ent.text)
        for at, name in _titled_names(sd):
            if not any(a <= off + at < a + len(v) or off + at <= a < off + at + len(name) for a, v in out.items()):
                out[off + at] = name
    return sorted(out.items())


def default_state(text: str) -> str | None:
    """The state a document names most often: what a bare "the army" or "the ministry" belongs to."""
    counts: dict[str, int] = {}
    for _, _, st in _state_hits(text):
        counts[st] = counts.get(st, 0) + 1
    return max(counts, key=lambda k: (counts[k], k)) if counts else None


# --- the document pass ---------------------------------------------------------------------------------------

def _span(doc: Document, tokens, offset: int, indices: list[int]) -> Span | None:
    if not indices:
        return None
    start = offset + tokens[min(indices)].idx
    last = tokens[max(indices)]
    return Span.of(doc.text, start, offset + last.idx + len(last.text))


OPEN_QUOTES, CLOSE_QUOTES = "“«", "”»"


def quotations(text: str) -> list[tuple[int, int]]:
    """Stretches of direct speech, from an opening to its closing quote mark. A straight quote closes whatever quote
    is open (writers mix “curly" and "straight” marks). A paragraph that opens a quote and never closes it continues
    into the next paragraph that opens one (the convention of multi-paragraph quotes), else the quote ends with it."""
    out, start = [], None
    for i, ch in enumerate(text):
        if start is None and (ch in OPEN_QUOTES or ch == '"'):
            start = i
        elif start is not None and (ch in CLOSE_QUOTES or ch == '"'):
            out.append((start, i + 1))
            start = None
        elif ch == "\n" and start is not None and text[i + 1 : i + 2] != "\n" and \
                not text[i + 1 :].lstrip()[:1] in OPEN_QUOTES + '"':
            out.append((start, len(text[:i].rstrip())))  # not continued in the next paragraph: ends with its own
            start = None
    if start is not None:
        out.append((start, len(text.rstrip())))
    return out


def quote_speakers(claims: list[Claim], text: str) -> dict[int, Claim]:
    """For claims inside a quotation without a frame of their own, the claim whose frame names the speaker: one
    overlapping the quotation with its frame outside it ('"A. B," he said.', 'He told VOA, "A. B."'), the report
    just before the quotation opens ('He said: "A. B."'), or the speaker of the quotation just before it in the
    same paragraph with no sentence of the author's between ('"A," he said. "B."')."""
    out: dict[int, Claim] = {}
    speaker_of: list[tuple[int, Claim]] = []  # (end of quotation, its speaker's claim)
    for qs, qe in quotations(text):
        inside = [c for c in claims if c.type != "other" and qs <= c.start and c.end <= qe]
        framed = [c for c in claims if c.type != "other" and c.start < qe and c.end > qs and c.source is not None
                  and not (qs <= c.source.start < qe) and c.source.text.lower() not in FIRST_PERSON]
        before = [c for c in claims if c.end <= qs and c.type != "other"]
        if not framed and before and before[-1].source is not None and \
                re.search(r"[:,]\s*$", text[before[-1].end : qs]) is not None:
            framed = [before[-1]]  # "He said: “...”" / "Mr. Bush says, ... :" then the quote
        if not framed and speaker_of:
            end, speaker = speaker_of[-1]
            if "\n" not in text[end:qs] and not any(end <= c.start and c.end <= qs for c in claims):
                framed = [speaker]
        if framed:
            speaker_of.append((qe, min(framed, key=lambda f: abs(f.start - qs))))
            for c in inside:
                if c.source is None or c.source.text.lower() in FIRST_PERSON:
                    out[c.index] = min(framed, key=lambda f: abs(f.start - c.start))
    return out


def resolve_pronoun(pronoun: str, at: int, last: Source | None, people: People,
                    same: Source | None = None) -> tuple[str, str]:
    """(canonical, kind) of a pronoun source: he/she is the person who spoke earlier in the same sentence (`same`:
    "The secretary said ..., but he added"), else the person last named before it; it/they the last source."""
    if pronoun in PERSON_PRONOUNS and same is not None and same.canonical in people.full_names:
        return same.canonical, same.kind
    if pronoun in PERSON_PRONOUNS:
        name = people.last_before(at)
        if name is not None:
            return canonical_source(name, people, at)
    if last is not None:
        return last.canonical, last.kind
    return pronoun, "other"


def person_kind(name: str, text: str, window: int = 90) -> str:
    """A named person's kind from how the article describes them around the first mention ("Harsh V. Pant, lecturer
    in ...", "State Department spokeswoman Marie Harf")."""
    at = text.find(name.split()[-1])
    if at < 0:
        return "other"
    if non_state(text[max(0, at - window // 2) : at], text[at + len(name.split()[-1]) : at + len(name) + window]):
        return "other"
    return classify_kind(text[max(0, at - window // 2) : at + len(name) + window], True)


def attribute_document(doc: Document, claim_frames: list[tuple[Claim, object, Frame | None, int]],
                       mentions: list[tuple[int, str]], speakers: dict[int, tuple[int, int]] | None = None) -> None:
    """Fill `source` and `cue` on the claims of one document.

    `claim_frames` holds, per claim in document order, the claim, the spaCy Doc its sentence was
    parsed in, its frame (or None) and the character offset of that spaCy Doc in the document.
    `mentions` are the persons named in the document (`person_mentions`); `speakers` maps claim indexes
    inside an interview answer to the span of the speaker's label.
    """
    speakers = speakers or {}
    lex = lexicon()
    people = People(mentions, doc.text)
    home = default_state(doc.text)

    seen: list[Source] = []

    def name(text: str, at: int) -> tuple[str, str]:
        # "the ministry", "the company", "the statement": the source named so before
        # ("The U.S. official" is the "senior U.S. defense official" of before, not the United States)
        m = re.fullmatch(r"(?:the|this|that)\s+((?:[\w.-]+\s+){0,2}[a-z-]+)", text.strip(), flags=re.I)
        if m and (text.strip()[4:5].islower() or m.group(1).split()[-1].lower() in ROLES):
            words = m.group(1).lower().split()
            head = words[-1]
            earlier = [s for s in seen if all(_contains(s.text.lower(), w) for w in words)]
            if earlier:
                return earlier[-1].canonical, earlier[-1].kind
            if head in name_tables().state_words and home and head != "administration":
                return home, "official"
            # "the report": the report the article described before ("in a confidential report sent to ...")
            described = re.findall(r"\b(?:a|an|the)\s+((?:[a-z-]+\s+){1,2}report)\b", doc.text[:at]) \
                if words == ["report"] else []
            if described:
                return described[-1], classify_kind(described[-1], False)
        canon, kind = canonical_source(text, people, at, home)
        if kind == "other" and canon in people.full_names:
            kind = person_kind(canon, doc.text)
        return canon, kind

    def outlet(kind: str, text: str, cue: Span | None) -> str:
        """An unknown organisation that "reported" something is an outlet ("Bloomberg reported that ...")."""
        if kind == "other" and cue is not None and re.match(r"report", cue.text.lower()) and \
                text[:1].isupper() and people.named_in(text) is None:
            return "media"
        return kind

    last: Source | None = None
    last_sentence = -1
    for claim, sdoc, frame, offset in claim_frames:
        if claim.type == "other":
            continue
        if frame is not None and frame.source:
            src = _span(doc, sdoc, offset, frame.source)
            cue = _span(doc, sdoc, offset, frame.cue)
            first = sdoc[min(frame.source)].lower_
            if frame.unnamed:
                (canon, kind), rule = UNNAMED, "unnamed_report"
            elif first in FIRST_PERSON and claim.index in speakers:  # "I think ..." in an interview answer
                canon, kind = name(doc.text[slice(*speakers[claim.index])], speakers[claim.index][0])
                rule = "speaker_turn"
            elif len(frame.source) <= 2 and first in PRONOUNS and (last is not None or first in PERSON_PRONOUNS):
                same = last if last is not None and last_sentence == claim.sentence_index else None
                canon, kind = resolve_pronoun(first, src.start, last, people, same)
                rule = "pronoun_source"
            else:
                (canon, kind), rule = name(src.text, src.start), "reporting_frame"
                kind = outlet(kind, src.text, cue)
            claim.source = Source(src.start, src.end, src.text, canon, kind)
            claim.cue = cue
            claim.rules += [rule, f"cue:{frame.sentiment}"]
            if not frame.unnamed:
                last, last_sentence = claim.source, claim.sentence_index
                seen.append(claim.source)
        elif claim.index in speakers:  # an interview answer: the speaker label is the source, there is no cue
            src = Span.of(doc.text, *speakers[claim.index])
            canon, kind = name(src.text, src.start)
            claim.source = Source(src.start, src.end, src.text, canon, kind)
            claim.rules.append("speaker_turn")
        elif frame is not None:  # "according to" / passive frame without a recoverable source: cue only
            claim.cue = _span(doc, sdoc, offset, frame.cue)
            claim.rules += ["sourceless_frame", f"cue:{frame.sentiment}"]
        elif last is not None:
            sentence = doc.sentences[claim.sentence_index].text.lower()
            if claim.sentence_index - last_sentence <= 2 and sentence.startswith(lex.carryover):
                claim.source = Source(last.start, last.end, last.text, last.canonical, last.kind)
                claim.rules.append("carried_over")
                last_sentence = claim.sentence_index
    # the other sentences of a quotation are the speaker's, and so is its "I" or "we"
    claims = [c for c, *_ in claim_frames]
    for index, speaker in quote_speakers(claims, doc.text).items():
        c, s = claims[index], speaker.source
        if c.source is None:
            c.source, c.cue = Source(s.start, s.end, s.text, s.canonical, s.kind), None
            c.rules.append("quoted")
        else:
            c.source.canonical, c.source.kind = s.canonical, s.kind
