"""Training examples: one claim in its context, the unit the classifier learns from and predicts on.

Every source of labels (the project's gold, Label Studio exports, PolNeAR, CheckThat!, BABE,
silver labels from the rules) is turned into rows of `FEATURES`, so training, evaluation and
inference share one input format. Offsets of `source_*`/`cue_*`/`claim_*` are relative to
`sentence` (-1 when absent). `prior_type`/`prior_stance` hold the rule labeler's probabilities for
the claim (in `TYPE_LABELS`/`STANCES` order; empty for corpus sentences the rules never saw): the
classifier adds their logs to its own logits, so it learns from the gold where to trust the rules.
`rule_features` says which of `RULE_FEATURES` fired for the claim (the cue verb's class, distancing words,
scare quotes, doubt or a rebuttal in the next sentence, ...), so each signal a reader uses gets a weight of its own.
"""

from __future__ import annotations

from typing import Any, Iterable

from datasets import Dataset, Features, Sequence, Value

from .model import STANCES, Claim, Document

TYPE_LABELS = ("attributed", "opinion", "fact")  # the classifier's type labels ("other" is the segmenter's)
# What the attributor and the rule labeler record in `claim.rules`, plus the class of the cue verb. `judgement_word`
# acts through the rule prior alone: a new feature would change the heads' shape, which the stage-1 cache does not key.
RULE_FEATURES = (
    "reporting_frame", "pronoun_source", "unnamed_report", "quoted", "carried_over", "speaker_turn", "sourceless_frame",
    "has_source", "has_cue", "hedge_or_modal", "evaluative_adjective", "evaluative_comment", "figures_and_dates",
    "sceptical_cue", "factive_cue", "distancing_words", "scare_quotes", "followed_by_doubt", "doubt_in_sentence",
    "doubt_words", "reliable_source", "approving_words", "cue:neutral", "cue:sceptical", "cue:endorse",
)

FEATURES = Features(
    {
        "doc_id": Value("string"),
        "claim_id": Value("string"),
        "claim": Value("string"),
        "sentence": Value("string"),
        "before": Value("string"),
        "after": Value("string"),
        "claim_start": Value("int32"),
        "claim_end": Value("int32"),
        "source_start": Value("int32"),
        "source_end": Value("int32"),
        "cue_start": Value("int32"),
        "cue_end": Value("int32"),
        "type": Value("string"),  # None when the corpus does not label it
        "stance": Value("string"),  # None when the corpus does not label it
        "corpus": Value("string"),
        "weight": Value("float32"),
        "prior_type": Sequence(Value("float32")),
        "prior_stance": Sequence(Value("float32")),
        "rule_features": Sequence(Value("float32")),
    }
)


def _rel(span, base: int, limit: int) -> tuple[int, int]:
    """A document span as offsets into a sentence starting at `base`, or (-1, -1) when it lies outside."""
    if span is None or span.start < base or span.end > base + limit:
        return -1, -1
    return span.start - base, span.end - base


def prior(scores: dict[str, float] | None, labels: tuple[str, ...]) -> list[float]:
    """A score map as a probability list in `labels` order ([] when there is none)."""
    if not scores or not any(scores.get(k) for k in labels):
        return []
    return [float(scores.get(k, 0.0)) for k in labels]


def rule_features(claim: Claim) -> list[float]:
    """Which of `RULE_FEATURES` hold for a claim the rule labeler has scored."""
    from .rules import cue_stance

    fired = set(claim.rules)
    if claim.cue is not None:
        # the attributor's reading of the cue ("claimed responsibility" is neutral), else the lexicon's
        fired = {r for r in fired if not r.startswith("cue:")} | {f"cue:{cue_stance(claim) or 'neutral'}"}
    return [1.0 if f in fired else 0.0 for f in RULE_FEATURES]


def example_from_claim(
    doc: Document, claim: Claim, *, corpus: str = "seeds", weight: float = 1.0, window: int = 1, labels: bool = True,
    rules: Claim | None = None, chunk: int = 0,
) -> dict[str, Any]:
    """The example for one claim of a segmented document (labels taken from the claim when `labels`);
    `rules` is the same claim as the rule labeler scored it, whose scores become the priors."""
    before, sentence, after = doc.context(claim, window, chunk)
    base = doc.sentences[claim.sentence_index].start if claim.sentence_index < len(doc.sentences) else claim.start
    n = len(sentence)
    cs, ce = _rel(claim, base, n)
    ss, se = _rel(claim.source, base, n)
    us, ue = _rel(claim.cue, base, n)
    return {
        "doc_id": doc.id,
        "claim_id": claim.claim_id,
        "claim": claim.text,
        "sentence": sentence,
        "before": before,
        "after": after,
        "claim_start": cs,
        "claim_end": ce,
        "source_start": ss,
        "source_end": se,
        "cue_start": us,
        "cue_end": ue,
        "type": claim.type if labels else None,
        "stance": claim.stance if labels else None,
        "corpus": corpus,
        "weight": weight,
        "prior_type": prior(rules.type_scores, TYPE_LABELS) if rules else [],
        "prior_stance": prior(rules.stance_scores, STANCES) if rules else [],
        "rule_features": rule_features(rules) if rules else [],
    }


def to_dataset(rows: Iterable[dict[str, Any]]) -> Dataset:
    """Rows of `FEATURES` as a `datasets.Dataset` (an empty one when there are none)."""
    rows = [{"prior_type": [], "prior_stance": [], "rule_features": [], **r} for r in rows]
    if not rows:
        return Dataset.from_dict({k: [] for k in FEATURES}, features=FEATURES)
    return Dataset.from_list(rows, features=FEATURES)
