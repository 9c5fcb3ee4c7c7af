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

from .attribute import lexicon
from .config import cached_yaml
from .model import STANCES, Claim, Document

VERSION = "0.1"
QUOTED = re.compile(r"[“\"]([^”\"]{1,80})[”\"]")
FIGURES = re.compile(r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b", re.I)


@dataclass
class Context:
    """What the rules know about a claim's surroundings."""

    sentence: str
    next_sentences: list[str]
    lex: dict


def _has(text: str, phrases) -> bool:
    low = text.lower()
    return any(re.search(rf"(?<![\w-]){re.escape(p.lower())}(?![\w-])", low) for p in phrases)


def _opinion_words(lex: dict) -> list[str]:
    m = lex["opinion_markers"]
    return [*m["modals"], *m["adverbs"], *m["phrases"], *m["adjectives"]]


def is_evaluative_comment(sentence: str, lex: dict) -> bool:
    """A sentence that opens with an anaphor and voices doubt about what came before ("This seems far-fetched")."""
    low = sentence.lower().lstrip("“\"( ")
    opener = any(low.startswith(a + " ") for a in lex["scepticism"]["anaphors"])
    return opener and _has(low, lex["scepticism"]["doubt"])


# --- type rules ------------------------------------------------------------------------------------------------

def has_source(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "attributed" if c.source is not None else None


def has_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "attributed" if c.source is None and c.cue is not None else None


def opinion_marker(doc: Document, c: Claim, ctx: Context) -> str | None:
    verbs = ctx.lex["opinion_markers"]["verbs"]
    verb_forms = [f"{v}s" for v in verbs] + [f"{v}ed" for v in verbs] + verbs
    if c.source is None and (_has(c.text, _opinion_words(ctx.lex)) or _has(c.text, verb_forms)):
        return "opinion"
    return None


def evaluative_comment(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.source is None and is_evaluative_comment(c.text, ctx.lex):
        return "fact" if _has(c.text, ["verified", "confirmed"]) else "opinion"
    return None


def figures_and_dates(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "fact" if c.source is None and FIGURES.search(c.text) else None


TYPE_RULES: list[Callable] = [has_source, has_cue, opinion_marker, evaluative_comment, figures_and_dates]


# --- stance rules ----------------------------------------------------------------------------------------------

def sceptical_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.cue is not None:
        stance = lexicon().verb_stance.get(_lemma(c.cue.text))
        return "sceptical" if stance == "sceptical" else None
    return None


def factive_cue(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.cue is not None:
        return "endorse" if lexicon().verb_stance.get(_lemma(c.cue.text)) == "endorse" else None
    return None


def distancing_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "sceptical" if _has(ctx.sentence, ctx.lex["scepticism"]["distancing"]) else None


def scare_quotes(doc: Document, c: Claim, ctx: Context) -> str | None:
    limit = ctx.lex["scepticism"]["scare_quote_max_words"]
    quoted = [q for q in QUOTED.findall(c.text) if len(q.split()) <= limit]
    return "sceptical" if quoted and len(c.text.split()) > limit + 2 else None


def followed_by_doubt(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.source is not None or c.cue is not None:
        return "sceptical" if any(is_evaluative_comment(s, ctx.lex) for s in ctx.next_sentences[:1]) else None
    return None


def doubt_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "sceptical" if c.source is None and is_evaluative_comment(c.text, ctx.lex) else None


def reliable_source(doc: Document, c: Claim, ctx: Context) -> str | None:
    if c.source is not None and _has(c.source.text, ctx.lex["endorsement"]["source_adjectives"]):
        return "endorse"
    return None


def approving_words(doc: Document, c: Claim, ctx: Context) -> str | None:
    return "endorse" if _has(ctx.sentence, ctx.lex["endorsement"]["approving"]) else None


STANCE_RULES: list[Callable] = [sceptical_cue, factive_cue, distancing_words, scare_quotes, followed_by_doubt,
                                doubt_words, reliable_source, approving_words]


def _lemma(word: str) -> str:
    """A cheap lemma for reporting words, enough to look cues up in the lexicon."""
    w = word.lower().split()[0] if word.strip() else ""
    for suffix, repl in (("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("d", "")):
        if w.endswith(suffix):
            stem = w[: -len(suffix)] + repl
            if stem in lexicon().verb_stance or stem + "e" in lexicon().verb_stance:
                return stem if stem in lexicon().verb_stance else stem + "e"
    return w


def _softmax(scores: dict[str, float], temperature: float) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: round(v / total, 4) for k, v in exp.items()}


def link_targets(doc: Document, lex: dict) -> None:
    """Point each evaluative comment ("This seems far-fetched") at the first claim of the sentence before it."""
    for c in doc.claims:
        if c.type == "other" or c.source is not None or c.sentence_index == 0:
            continue
        if c.text == doc.sentences[c.sentence_index].text.rstrip(".") or c.start == doc.sentences[c.sentence_index].start:
            if is_evaluative_comment(c.text, lex):
                prev = [p for p in doc.claims if p.sentence_index == c.sentence_index - 1 and p.type != "other"]
                c.target = prev[0].claim_id if prev else None


@lru_cache(maxsize=None)
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
            following = [s.text for s in doc.sentences[c.sentence_index + 1 : c.sentence_index + 3] if s.kind == "body"]
            ctx = Context(doc.sentences[c.sentence_index].text, following, self.lex)
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
        link_targets(doc, self.lex)
        return doc
