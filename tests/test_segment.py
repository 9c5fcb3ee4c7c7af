"""Segmentation of the seed articles: boilerplate apart, clause-level claims, exact offsets."""

from conftest import find_claim

from annotate.config import load
from annotate.segment import PipelineConfig, regions

D000, D001, D002, D003, D004 = ("000_20e41032e677dadc", "001_2c9bbf579a3fe22b", "002_39c7f850962e6c01",
                                "003_67c001f89c9705c5", "004_35cbb02fa61e4a36")


def test_offsets_hold_for_claims_sources_and_cues(seed_docs):
    for doc in seed_docs.values():
        assert doc.claims
        for c in doc.claims:
            assert c.text == doc.text[c.start:c.end] and c.text.strip() == c.text
            for span in (c.source, c.cue):
                if span is not None:
                    assert span.text == doc.text[span.start:span.end]
        for s in doc.sentences:
            assert s.text == doc.text[s.start:s.end]


def test_nothing_is_dropped(seed_docs):
    """Every non-blank line of every article overlaps some sentence or boilerplate segment."""
    for doc in seed_docs.values():
        covered = [(s.start, s.end) for s in doc.sentences]
        pos = 0
        for line in doc.text.splitlines(keepends=True):
            start, end = pos, pos + len(line.rstrip("\r\n"))
            pos += len(line)
            if line.strip():
                assert any(s < end and start < e for s, e in covered), (doc.id, line[:60])


def test_claims_are_in_document_order_and_do_not_overlap(seed_docs):
    for doc in seed_docs.values():
        assert [c.index for c in doc.claims] == list(range(len(doc.claims)))
        for a, b in zip(doc.claims, doc.claims[1:]):
            assert a.end <= b.start


def test_paywall_headings_bios_and_fragments_are_other(seed_docs):
    others = {d: [c.text for c in seed_docs[d].claims if c.type == "other"] for d in seed_docs}
    assert "Keep reading for free!" in others[D004]
    assert any(t.startswith("• Completely ad-free reading") for t in others[D004])
    assert all(c.type == "other" for c in seed_docs[D004].claims if c.start > seed_docs[D004].text.index("Keep reading"))
    assert "Impact Shorts" in others[D001] and "More Shorts" in others[D001] and ")" in others[D001]
    assert any(t.startswith("The writer is a retired IPS officer") for t in others[D001])
    assert any(t.startswith("The author is currently working") for t in others[D000])
    assert "Recent Conflict Fuels Defense Collaboration" in others[D002]
    assert "date 2022-06-13" in others[D003]
    # the text glued after a fragment is still a claim
    assert find_claim(seed_docs[D001], "in October 2024, a suicide car bombing").type != "other"


def test_reported_speech_and_coordination_split_into_claims(seed_docs):
    doc = seed_docs[D002]
    first = find_claim(doc, "success in the conflict")
    jets = find_claim(doc, "shot down six Indian fighter jets")
    targets = find_claim(doc, "targeted Indian military installations")
    assert first.text == "success in the conflict" and targets.text == "targeted Indian military installations"
    assert len({first.sentence_index, jets.sentence_index, targets.sentence_index}) == 1
    assert "asserting" not in jets.text and "Pakistan has claimed" not in jets.text
    # "both sides expressed satisfaction over X and avowed Y" -> two claims reported by both sides
    doc1 = seed_docs[D001]
    a = find_claim(doc1, "the depth of bilateral engagement")
    b = find_claim(doc1, "their shared commitment to sovereign equality")
    assert a is not b and a.sentence_index == b.sentence_index
    assert a.source.text == b.source.text == "both sides" and (a.cue.text, b.cue.text) == ("expressed", "avowed")


def test_concessive_clause_is_its_own_claim(seed_docs):
    c = find_claim(seed_docs[D002], "these claims have not been independently verified")
    assert "the conflict provided" not in c.text


def test_a_concessive_clause_inside_a_report_stays_the_sources():
    from test_attribute import _rules

    doc = _rules("The minister said that although the talks had failed, a new round would begin soon.")
    for snippet in ("the talks had failed", "a new round would begin soon"):
        c = find_claim(doc, snippet)
        assert c.type == "attributed" and c.source.text == "The minister", snippet


def test_a_clause_coordinated_with_a_reporting_verb_is_kept_as_the_authors():
    from test_attribute import _rules

    doc = _rules("The minister said the talks had failed, and the army withdrew from the border.")
    assert find_claim(doc, "the talks had failed").source.text == "The minister"
    c = find_claim(doc, "the army withdrew from the border")
    assert c.type == "fact" and c.source is None


def test_a_participle_after_a_reports_content_stays_in_its_claim():
    from test_attribute import _rules

    doc = _rules("Pakistan accused India of a cross-border raid, killing one soldier and wounding another. "
                 "Speaking to reporters, the minister said the talks had failed.")
    c = find_claim(doc, "killing one soldier and wounding another")
    assert c.type == "attributed" and c.source.text == "Pakistan" and "cross-border raid" in c.text
    assert "Speaking" not in find_claim(doc, "the talks had failed").text


def test_a_participle_after_a_reported_noun_phrase_is_the_authors():
    from test_attribute import _rules

    doc = _rules("China claims sovereignty over the entire sea, putting it at odds with Vietnam.")
    assert find_claim(doc, "sovereignty over the entire sea").source.text == "China"
    c = find_claim(doc, "putting it at odds")
    assert c.type != "attributed" and c.source is None and "sovereignty" not in c.text


def test_a_participle_report_leaves_the_content_before_it_its_subject():
    from test_attribute import _rules

    doc = _rules("The spokesman said 13 people died, claiming that a mosque was hit.")
    assert find_claim(doc, "13 people died").cue.text == "said"
    assert find_claim(doc, "a mosque was hit").cue.text == "claiming"


def test_regions_on_a_made_up_page():
    cfg = load("pipeline.yaml", PipelineConfig)
    text = "Big Headline Here\nThe army said talks went well. The writer is a columnist.\nKeep reading for free!\nMore text."
    got = [(text[r.start:r.end], r.body) for r in regions(text, cfg)]
    assert got == [("Big Headline Here", False), ("The army said talks went well.", True),
                   ("The writer is a columnist.", False), ("Keep reading for free!", False), ("More text.", False)]


def test_a_media_teaser_is_furniture_and_names_no_speaker():
    cfg = load("pipeline.yaml", PipelineConfig)
    text = "VIDEO: Jets fly over the zone in a show of force.\nAll three states have challenged the zone."
    got = [(text[r.start:r.end], r.body, r.speaker) for r in regions(text, cfg)]
    assert got == [("VIDEO: Jets fly over the zone in a show of force.", False, None),
                   ("All three states have challenged the zone.", True, None)]


def test_a_correspondents_sign_off_is_furniture():
    cfg = load("pipeline.yaml", PipelineConfig)
    text = ("Officials said the talks would resume. VOA's Al Pessin reports from Prague.\n"
            "Robert Berger reports from the VOA bureau in Jerusalem.\nThe ministry reports from the region were grim.\n"
            "VOA's Benjamin Sand reports from Islamabad that ties are strained.")
    body = [text[r.start:r.end] for r in regions(text, cfg) if r.body]
    assert body == ["Officials said the talks would resume.", "The ministry reports from the region were grim.",
                    "VOA's Benjamin Sand reports from Islamabad that ties are strained."]


def test_a_headline_may_end_on_a_quoted_phrase():
    cfg = load("pipeline.yaml", PipelineConfig)
    text = 'US Calls Russian Moves in Crimea "Act of Aggression"\nHe called the move "an act of aggression."'
    assert [r.body for r in regions(text, cfg)] == [False, True]


def test_a_report_in_the_subject_of_another_keeps_its_content_and_one_object_word_is_no_claim():
    from test_attribute import _rules

    doc = _rules("The Kyiv government, which accuses Russia of arming the rebels, has called the convoy a threat. "
                 "He expressed impatience at a meeting in Kiev.")
    c = find_claim(doc, "Russia of arming")
    assert (c.source.text, c.cue.text) == ("The Kyiv government", "accuses")
    assert find_claim(doc, "the convoy a threat").cue.text == "called"
    assert not any(c.text == "impatience" for c in doc.claims)


def test_a_photo_caption_ending_in_a_place_and_date_is_other_but_a_dated_body_sentence_is_not():
    from test_attribute import _rules

    doc = _rules("A man casts his ballot at a polling station in Simferopol, Ukraine, Sunday, March 16, 2014. "
                 "(VOA/E. Arrott)\n"
                 "Ukrainian Prime Minister Arseniy Yatsenyuk addresses parliament in Kyiv July 24, 2014.\n"
                 "The spokesman said the government was ousted by the military on February 1, 2021.\n"
                 "Welcome to Inside Story: I'm your host Katherine Gypson.\n")
    assert find_claim(doc, "A man casts his ballot").type == "other"
    assert find_claim(doc, "addresses parliament in Kyiv").type == "other"
    assert find_claim(doc, "the government was ousted by the military").type == "attributed"
    assert find_claim(doc, "Welcome to Inside Story").type == "other"  # a programme's greeting


def test_a_speaker_label_may_carry_a_title_but_a_fronted_phrase_is_no_speaker():
    cfg = load("pipeline.yaml", PipelineConfig)
    label = "John Kirby, National Security Council coordinator for strategic communications: "
    for text, body, speaker in [
            (label + "I think both leaders agree.", "I think both leaders agree.", "John Kirby"),
            ("In Washington, the spokesman explained: the talks failed.",
             "In Washington, the spokesman explained: the talks failed.", None)]:
        got = [(text[r.start:r.end], r.speaker and text[r.speaker[0]:r.speaker[1]]) for r in regions(text, cfg) if r.body]
        assert got == [(body, speaker)]
