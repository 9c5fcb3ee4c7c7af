"""The rule labeler: claim type and author stance from small named rules over cues, hedges and context.

It is the baseline the fine-tuned classifier must beat and the weak labeler that pre-annotates
claims for humans. Each rule is a function `(doc, claim, ctx) -> label | None`; its weight comes
from `configs/rules.yaml`, its words from `configs/lexicons.yaml`, and every rule that fires is
recorded in `claim.rules`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .attribute import cue_lemma, lexicon, quotations
from .config import cached, cached_yaml
from .model import STANCES, Claim, Document

VERSION = "0.1"
QUOTED = re.compile(r"[“\"]([^”\"]{1,80})[”\"]")
FIGURES = re.compile(r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b", re.I)


@dataclass
class Context:
    """What the rules know about a claim's surroundings."""

    sentence: str
    lex: dict


@lru_cache(maxsize=None)
def _phrase_re(phrase: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(phrase.lower())}(?![\w-])")


def _has(text: str, phrases) -> bool:
    low = text.lower()
    return any(_phrase_re(p).search(low) for p in phrases)


def _opens_with_anaphor(text: str, lex: dict) -> bool:
    low = text.lower().lstrip("“\"([ ")
    return any(low.startswith(a + " ") or low.startswith(a + ",") for a in lex["scepticism"]["anaphors"])


def voices_doubt(text: str, lex: dict) -> bool:
    """Whether words voice doubt about a claim ("far-fetched", "could not be independently verified",
    "did not provide any evidence")."""
    sc = lex["scepticism"]
    return _has(text, sc["doubt"]) or any(re.search(p, text, re.I) for p in sc.get("doubt_patterns", []))


def questions_verification(text: str, lex: dict) -> bool:
    """Words about verifying what was just reported ("There was no independent confirmation", "VOA was unable to
    independently verify the figure"): a comment on the report before them, whatever their first word."""
    return any(re.search(p, text, re.I) for p in lex["scepticism"].get("verification_patterns", []))


def is_evaluative_comment(doc: Document, c: Claim, lex: dict) -> bool:
    """A claim of the author's that voices doubt about what came before ("This seems far-fetched and looks
    only like a ceremonial ... expression", "While these claims have not been independently verified",
    "However, he did not provide any evidence", "There was no independent confirmation")."""
    if c.source is not None:
        return False
    if questions_verification(c.text, lex):
        return True
    if not voices_doubt(c.text, lex):
        return False
    return _opens_with_anaphor(c.text, lex) or _opens_with_anaphor(doc.sentences[c.sentence_index].text, lex)


def is_rebuttal(doc: Document, c: Claim, lex: dict) -> bool:
    """A sentence of the author's that contradicts what came before ("In fact, fighting continued ...")."""
    low = doc.sentences[c.sentence_index].text.lower().lstrip("“\"( ")
    return c.source is None and any(low.startswith(o + " ") or low.startswith(o + ",")
                                    for o in lex["scepticism"].get("rebuttal", []))


# --- type rules ------------------------------------------------------------------------------------------------

def has_source(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "attributed" if c.source is not None else None


def has_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "attributed" if c.source is None and c.cue is not None else None


def hedge_or_modal(doc: Document, c: Claim, ctx: Context) -> str | None:
    m = ctx.lex["opinion_markers"]
    verb_forms = [f"{v}{suffix}" for v in m["verbs"] for suffix in ("", "s", "ed")]
    text = c.text.lower()
    for phrase in m.get("not_opinion", []):
        text = text.replace(phrase, "")
    if c.source is None and _has(text, [*m["modals"], *m["adverbs"], *m["phrases"], *verb_forms]):
        return "opinion"
    return None


def _evaluative(lex: dict) -> list[str]:
    m = lex["opinion_markers"]
    return m["adjectives"] + m["judgements"]


def evaluative_adjective(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "opinion" if c.source is None and _has(c.text, _evaluative(ctx.lex)) else None


def judgement_word(doc: Document, c: Claim, ctx: Context) -> str | None:
    """A word that passes judgement by itself ("reckless", "a mistake"), beyond the descriptors that also describe
    facts ("major", "strong"): it adds its weight to `evaluative_adjective`'s."""
    return "opinion" if c.source is None and _has(c.text, ctx.lex["opinion_markers"]["judgements"]) else None


def evaluative_comment(doc: Document, c: Claim, ctx: Context) -> str | None:
    if is_evaluative_comment(doc, c, ctx.lex):
        return "opinion" if _has(c.text, _evaluative(ctx.lex) + ctx.lex["opinion_markers"]["verbs"]
                                 + ["seems", "appears", "looks"]) else "fact"
    return None


def figures_and_dates(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "fact" if c.source is None and FIGURES.search(c.text) else None


TYPE_RULES: list[Callable] = [has_source, has_cue, hedge_or_modal, evaluative_adjective, judgement_word, evaluative_comment,
                              figures_and_dates]


# --- stance rules ----------------------------------------------------------------------------------------------

def cue_stance(c: Claim) -> str | None:
    """The stance the claim's reporting words signal: recorded by the attributor ("cue:sceptical"), else looked up."""
    tagged = [r.split(":", 1)[1] for r in c.rules if r.startswith("cue:")]
    if tagged:
        return tagged[-1]
    return lexicon().verb_stance.get(cue_lemma(c.cue.text)) if c.cue is not None else None


def sceptical_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "sceptical" if cue_stance(c) == "sceptical" else None


def factive_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "endorse" if cue_stance(c) == "endorse" else None


@lru_cache(maxsize=4)
def _unquoted(text: str) -> str:
    """The text with its direct quotations blanked out (offsets kept)."""
    chars = list(text)
    for start, end in quotations(text):
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _sentence_without(doc: Document, c: Claim, blank: Callable[[Claim], bool]) -> str:
    """The claim's sentence with its quotations and the claims `blank` picks blanked out (offsets kept)."""
    sent = doc.sentences[c.sentence_index]
    own = list(_unquoted(doc.text)[sent.start : sent.end])
    for o in doc.claims:
        if o.sentence_index == c.sentence_index and o.type != "other" and blank(o):
            lo, hi = max(o.start, sent.start) - sent.start, min(o.end, sent.end) - sent.start
            own[lo:hi] = " " * max(0, hi - lo)
    return "".join(own)


def distancing_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    """Words by which the author holds a report at a distance. A phrase ("without providing evidence") speaks of the
    whole report, so it counts anywhere in the sentence; a word ("so-called", "alleged") speaks of the phrase it
    stands in, so it does not count inside another claim of the sentence. Inside a quotation neither counts: there it
    is the speaker's word ("We don't accept the so-called 'security cordon'")."""
    phrases = [p for p in ctx.lex["scepticism"]["distancing"] if " " in p]
    words = [p for p in ctx.lex["scepticism"]["distancing"] if " " not in p]
    if _has(_sentence_without(doc, c, lambda o: False), phrases):
        return "sceptical"
    return "sceptical" if _has(_sentence_without(doc, c, lambda o: o is not c), words) else None


def scare_quotes(doc: Document, c: Claim, ctx: Context) -> str | None:
    """A few words in quote marks that the author holds at a distance: in the author's own sentence, after
    "so-called" or "what it calls", or as the description a source gives ("described the drills as ... "regional
    peace""). A short quotation of a source's words inside its report is a quotation, not a scare quote."""
    limit = ctx.lex["scepticism"]["scare_quote_max_words"]
    quoted = [q for q in QUOTED.findall(c.text) if len(q.split()) <= limit]
    if not quoted or len(c.text.split()) <= limit + 2:
        return None
    if c.source is None:
        return "sceptical"
    framed = re.search(r"\b(so-called|what (it|he|she|they|\w+) (calls?|called|describes?|described|terms?|termed)|"
                       r"as it calls)\s+[“\"‘']", ctx.sentence, re.I)
    describing = c.cue is not None and cue_lemma(c.cue.text) in ctx.lex["scepticism"].get("describing_verbs", [])
    # a euphemism: the quoted words put a mild face on force the sentence names ("“restored order” after two days
    # of shelling", "the demolition of 300 homes a “beautification project”")
    unquoted = QUOTED.sub(" ", ctx.sentence)
    euphemism = _has(unquoted, ctx.lex["scepticism"].get("force", []))
    return "sceptical" if framed or describing or euphemism else None


def followed_by_doubt(doc: Document, c: Claim, ctx: Context) -> str | None:
    """A report followed by the author's doubt or rebuttal ("The claim could not be independently verified.")."""
    if c.source is None and c.cue is None:
        return None
    following = [n for n in doc.claims if n.sentence_index == c.sentence_index + 1 and n.type != "other"]
    return "sceptical" if any(is_evaluative_comment(doc, n, ctx.lex) or is_rebuttal(doc, n, ctx.lex)
                              for n in following) else None


def doubt_in_sentence(doc: Document, c: Claim, ctx: Context) -> str | None:
    """A report whose own sentence doubts it in the author's voice ("..., a claim that could not be verified"); a
    source's words beside it ("denied meeting them, saying the claims were 'baseless'") are no doubt of the author's."""
    if c.source is None and c.cue is None:
        return None
    rest = _sentence_without(doc, c, lambda o: o is c or o.source is not None)
    return "sceptical" if voices_doubt(rest, ctx.lex) or questions_verification(rest, ctx.lex) else None


def doubt_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "sceptical" if is_evaluative_comment(doc, c, ctx.lex) else None


def reliable_source(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.source is not None and _has(c.source.text, ctx.lex["endorsement"]["source_adjectives"]):
        return "endorse"
    return None


def approving_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    """Approving framing in the claim's sentence, or in the sentence before when it reports the same source."""
    approving = ctx.lex["endorsement"]["approving"]
    if _has(ctx.sentence, approving):
        return "endorse"
    if c.source is not None and c.sentence_index > 0:
        prev = [p for p in doc.claims if p.sentence_index == c.sentence_index - 1 and p.source is not None]
        if any(p.source.canonical == c.source.canonical for p in prev):
            return "endorse" if _has(doc.sentences[c.sentence_index - 1].text, approving) else None
    return None


STANCE_RULES: list[Callable] = [sceptical_cue, factive_cue, distancing_words, scare_quotes, followed_by_doubt,
                                doubt_in_sentence, doubt_words, reliable_source, approving_words]


def _softmax(scores: dict[str, float], temperature: float) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: round(v / total, 4) for k, v in exp.items()}


def link_targets(doc: Document, lex: dict) -> None:
    """Point each evaluative comment ("This seems far-fetched") or rebuttal at the first claim of the sentence
    before it."""
    for c in doc.claims:
        if c.type != "other" and c.sentence_index > 0 and (is_evaluative_comment(doc, c, lex) or is_rebuttal(doc, c, lex)):
            prev = [p for p in doc.claims if p.sentence_index == c.sentence_index - 1 and p.type != "other"]
            c.target = prev[0].claim_id if prev else None


def agree_type_and_source(doc: Document, c: Claim, find_source: Callable | None = None) -> None:
    """Make type and attribution agree: an `attributed` claim has a source (from `find_source(doc, claim)` when the
    frames found none and the claim reports no silence, else the claim takes its most likely other type), and only an
    `attributed` claim has one."""
    if c.type == "attributed" and c.source is None and find_source is not None and "unsaid_report" not in c.rules:
        found = find_source(doc, c)
        if found is not None:
            c.source, c.cue = found
            c.rules.append("span_head_source")
    if c.type == "attributed" and c.source is None and c.type_scores:
        c.type = max((t for t in c.type_scores if t not in ("attributed", "other")), key=c.type_scores.get)
        c.rules.append("no_source_found")
    elif c.type != "attributed" and c.source is not None:
        c.source = c.cue = None


def agree_type_and_stance(c: Claim) -> None:
    """Make stance agree with type, as the guide has it: the author's facts are `neutral` unless they comment on an
    earlier claim (a `target`: "The claim could not be verified"), and the author's opinions are `endorse` or
    `sceptical`. The scores of the stances a type rules out go to zero and the rest are renormalised. Applied to
    the classifier's output; the rule labeler's stance priors per type already lean this way, and its scores stay
    unmasked because they are the classifier's priors."""
    if not c.stance_scores or c.type not in ("fact", "opinion") or (c.type == "fact" and c.target is not None):
        return
    allowed = ("neutral",) if c.type == "fact" else ("endorse", "sceptical")
    total = sum(c.stance_scores.get(k, 0.0) for k in allowed)
    c.stance_scores = {k: (c.stance_scores.get(k, 0.0) / total if total else 1.0 / len(allowed)) if k in allowed
                       else 0.0 for k in STANCES}
    c.stance = max(allowed, key=c.stance_scores.get)


@cached
def _weights() -> dict:
    return cached_yaml("rules.yaml")


class RuleLabeler:
    """Claim type and stance from the named rules; implements `annotate.labeler.Labeler`."""

    name = f"rules-{VERSION}"

    def __init__(self) -> None:
        self.cfg = _weights()
        self.lex = lexicon().raw

    def label(self, docs: list[Document]) -> list[Document]:
        for doc in docs:
            self.label_document(doc)
        return docs

    def label_document(self, doc: Document) -> Document:
        w, t = self.cfg["weights"], self.cfg["temperature"]
        for c in doc.claims:
            if c.type == "other" and "boilerplate" in c.rules:
                c.type_scores, c.stance, c.stance_scores, c.model = {"other": 1.0}, None, None, self.name
                continue
            ctx = Context(doc.sentences[c.sentence_index].text, self.lex)
            fired = [r for r in c.rules if r not in {f.__name__ for f in TYPE_RULES + STANCE_RULES}]
            scores = dict(self.cfg["type_prior"])
            for rule in TYPE_RULES:
                label = rule(doc, c, ctx)
                if label:
                    scores[label] += w[rule.__name__]
                    fired.append(rule.__name__)
            c.type_scores = _softmax(scores, t)
            c.type = max(c.type_scores, key=c.type_scores.get)
            stance = dict(self.cfg["stance_prior"][c.type])
            for rule in STANCE_RULES:
                label = rule(doc, c, ctx)
                if label:
                    stance[label] += w[rule.__name__]
                    fired.append(rule.__name__)
            c.stance_scores = _softmax({k: stance[k] for k in STANCES}, t)
            c.stance = max(c.stance_scores, key=c.stance_scores.get)
            c.rules = fired
            c.model = self.name
            agree_type_and_source(doc, c)
        link_targets(doc, self.lex)
        return doc
