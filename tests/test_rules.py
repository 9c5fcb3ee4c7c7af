"""The rule labeler on the guide's worked examples (annotation guide, section 6) and its named rules."""

from conftest import find_claim

from annotate.model import STANCES
from annotate.rules import STANCE_RULES, TYPE_RULES, RuleLabeler
from test_segment import D000, D001, D002, D004


def test_guide_001_military_statement(seed_docs):
    c = find_claim(seed_docs[D001], "the Chinese military leadership reiterated full confidence")
    assert (c.type, c.stance) == ("attributed", "sceptical")
    assert {"sceptical_cue", "distancing_words", "scare_quotes"} <= set(c.rules)


def test_guide_001_far_fetched_targets_the_claim_before(seed_docs):
    doc = seed_docs[D001]
    lauded = find_claim(doc, "the Chinese leadership lauded the Pakistan Armed Forces")
    for snippet in ("This seems far-fetched", "looks only like a ceremonial or ritualistic expression"):
        c = find_claim(doc, snippet)
        assert (c.type, c.stance, c.target) == ("opinion", "sceptical", lauded.claim_id)
    assert lauded.stance == "sceptical"


def test_guide_002_according_to_ispr_is_neutral(seed_docs):
    c = find_claim(seed_docs[D002], "the engagements featured")
    assert (c.type, c.stance, c.source.canonical, c.cue.text) == ("attributed", "neutral", "ISPR", "According to")


def test_guide_002_not_independently_verified(seed_docs):
    doc = seed_docs[D002]
    c = find_claim(doc, "these claims have not been independently verified")
    first = find_claim(doc, "success in the conflict")
    assert (c.type, c.stance, c.target) == ("fact", "sceptical", first.claim_id)
    for snippet in ("success in the conflict", "shot down six Indian fighter jets", "targeted Indian military installations"):
        assert find_claim(doc, snippet).stance == "sceptical"


def test_guide_000_general_zhang_quote_is_endorsed(seed_docs):
    c = find_claim(seed_docs[D000], "The Chinese military is willing to cooperate")
    assert (c.type, c.stance, c.source.canonical, c.cue.text) == ("attributed", "endorse", "Zhang Youxia", "continued")


def test_guide_001_reliable_sources_endorsed(seed_docs):
    c = find_claim(seed_docs[D001], "the Pakistan Army Chief Asim Munir was under severe pressure")
    assert (c.type, c.stance, c.source.kind) == ("attributed", "endorse", "anonymous")


def test_guide_004_paywall_is_other(seed_docs):
    c = find_claim(seed_docs[D004], "Keep reading for free!")
    assert c.type == "other" and c.stance is None


def test_scores_are_distributions_and_labels_their_argmax(seed_docs):
    for doc in seed_docs.values():
        for c in doc.claims:
            assert c.model == RuleLabeler.name
            assert abs(sum(c.type_scores.values()) - 1) < 1e-3 and c.type == max(c.type_scores, key=c.type_scores.get)
            if c.type == "other":
                assert c.stance is None
            else:
                assert set(c.stance_scores) == set(STANCES) and abs(sum(c.stance_scores.values()) - 1) < 1e-3
                assert c.stance == max(c.stance_scores, key=c.stance_scores.get)


def test_every_named_rule_fires_somewhere_on_the_seeds(seed_docs):
    fired = {r for d in seed_docs.values() for c in d.claims for r in c.rules}
    assert {f.__name__ for f in TYPE_RULES + STANCE_RULES} - {"has_cue", "factive_cue"} <= fired
