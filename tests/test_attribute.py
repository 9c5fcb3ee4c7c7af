"""Attribution on the seeds: sources, cues, canonical names and kinds, pronouns, carried-over reports."""

import pytest
from conftest import find_claim
from test_segment import D000, D001, D002, D003

from annotate.attribute import People, canonical_source, classify_kind, strip_titles


@pytest.mark.parametrize(
    "doc_id,snippet,source,canonical,kind,cue",
    [
        (D001, "the Chinese military leadership reiterated", "A military statement emanating from Pakistan", "ISPR", "official", "claimed"),
        (D001, "the Chinese leadership lauded", "The Pakistan Army statement", "ISPR", "official", "claimed"),
        (D002, "the engagements featured", "the Pakistani military’s media wing, the Inter-Services Public Relations (ISPR)", "ISPR", "official", "According to"),
        (D002, "reflects the growing depth", "The ISPR", "ISPR", "official", "added"),
        (D003, "the top-level meeting of military commanders", "Pakistan Army media wing", "ISPR", "official", "said"),
        (D000, "The Chinese military is willing", "General Zhang", "Zhang Youxia", "official", "continued"),
        (D001, "the Pakistan Army Chief Asim Munir was under severe pressure", "reliable sources", "reliable sources", "anonymous", "indicate"),
        (D002, "The India-Pakistan conflict offered the world", "one analyst", "one analyst", "anonymous", "noted"),
        (D002, "Chinese defense stocks experienced a surge", "one analyst", "one analyst", "anonymous", "adding"),
        (D003, "the most important interaction between the two militaries", "reports", "unnamed reports", "anonymous", "According to"),
    ],
)
def test_sources_and_cues(seed_docs, doc_id, snippet, source, canonical, kind, cue):
    c = find_claim(seed_docs[doc_id], snippet)
    assert (c.source.text, c.source.canonical, c.source.kind) == (source, canonical, kind)
    assert c.cue.text == cue
    assert snippet in c.text and cue not in c.text.split()[:1]


def test_pronoun_sources_resolve_to_their_antecedent(seed_docs):
    it = find_claim(seed_docs[D001], "emphasis was placed on improving operational interoperability")
    assert (it.source.text, it.source.canonical, it.cue.text) == ("It", "ISPR", "claimed")
    he = find_claim(seed_docs[D001], "the Pakistani military would take all necessary steps")
    assert he.source.text == "he" and he.source.canonical == "Asim Munir" and he.cue.text == "assured"


def test_attribution_carries_over_to_a_continuing_sentence(seed_docs):
    c = find_claim(seed_docs[D001], "Their discussions focused on")
    assert c.source is not None and c.source.canonical == "ISPR" and "carried_over" in c.rules


def test_a_participle_report_inherits_the_subject(seed_docs):
    c = find_claim(seed_docs[D001], "their role and efforts regarding the recent Pakistan-India tension")
    assert c.cue.text == "adding" and "Dar" in c.source.text


def test_authors_own_framing_is_not_attribution(seed_docs):
    for snippet in ("Pakistan continues to warm up to China", "in October 2024, a suicide car bombing"):
        c = find_claim(seed_docs[D001], snippet)
        assert c.source is None and c.type != "attributed", snippet


def test_aliases_normalise_to_one_canonical_name():
    persons = []
    for alias in ("ISPR", "Inter-Services Public Relations", "the Pakistani military's media wing",
                  "the Pakistani military’s media wing", "the Pakistan Army statement", "The military statement"):
        assert canonical_source(alias, persons) == ("ISPR", "official"), alias


@pytest.mark.parametrize("phrase, canonical", [
    ("India's foreign secretary", "India foreign secretary"),  # the guide's example: not "India secretary"
    ("Iraq's deputy interior minister", "Iraq deputy interior minister"),
    ("the Obama administration", "United States"),
    ("President Bush's administration", "United States"),
])
def test_offices_keep_their_narrowing_words_and_administrations_are_their_state(phrase, canonical):
    assert canonical_source(phrase, ["Barack Obama"]) == (canonical, "official")


def test_kinds_of_unlisted_sources():
    assert classify_kind("one analyst", has_name=False) == "anonymous"
    assert classify_kind("officials", has_name=False) == "anonymous"
    assert classify_kind("Professor Ayesha Siddiqa", has_name=True) == "expert"
    assert classify_kind("Foreign Minister Wang Yi", has_name=True) == "official"
    assert strip_titles("Field Marshal Asim Munir") == "Asim Munir"


def _rules(text):
    from annotate.annotator import score_documents
    from annotate.model import Document
    from annotate.rules import RuleLabeler

    return score_documents([Document(id="t", text=text)], RuleLabeler())[0]


def test_he_is_the_speaker_earlier_in_the_same_sentence():
    doc = _rules("Secretary of State John Kerry arrived in Kyiv on Tuesday. Kerry said the protesters had ousted "
                 "Viktor Yanukovych, but he added that Russia must pull back.")
    assert find_claim(doc, "Russia must pull back").source.canonical == "John Kerry"


def test_he_passes_over_an_owner_just_named():
    doc = _rules("Former President Akbar Hashemi Rafsanjani appeared to be backing Mahmoud Ahmadinejad's position. "
                 "\"This path will bring them nothing but trouble,\" he said.")
    assert find_claim(doc, "This path will bring them").source.canonical == "Akbar Hashemi Rafsanjani"


def test_the_official_is_the_unnamed_official_named_before():
    doc = _rules("A senior U.S. defense official said the talks would continue. "
                 "The U.S. official said Russia's objections would not stop the plan.")
    c = find_claim(doc, "Russia's objections would not stop the plan")
    assert (c.source.canonical, c.source.kind) == (find_claim(doc, "the talks would continue").source.canonical,
                                                   "anonymous")


def test_the_report_is_the_report_described_before():
    doc = _rules("Officials revealed the plan in a confidential report sent to the ministry. "
                 "The newspaper quoted the report as saying the group was recruiting.")
    assert find_claim(doc, "the group was recruiting").source.canonical == "confidential report"
    plain = _rules("The report said the group was recruiting.")
    assert find_claim(plain, "the group was recruiting").source.canonical == "unnamed reports"


def test_people_of_armed_groups_that_are_no_state_are_other():
    doc = _rules("Rebel commander Eduard Basurin said the fighters would hold the town. "
                 "Tun Myat Lin, a Kokang rebel commander, told VOA the army had attacked first. "
                 "Ukrainian military spokesman Andriy Lysenko said rebels had fired 40 times.")
    for snippet, name in (("the fighters would hold the town", "Eduard Basurin"),
                          ("the army had attacked first", "Tun Myat Lin")):
        c = find_claim(doc, snippet)
        assert (c.source.canonical, c.source.kind) == (name, "other"), snippet
    c = find_claim(doc, "rebels had fired 40 times")
    assert (c.source.canonical, c.source.kind) == ("Andriy Lysenko", "official")


def test_quotations_pair_mixed_marks_and_end_with_an_unclosed_paragraph():
    from annotate.attribute import quotations

    text = '“A b. C d," he said. "E f.”\n\nShe said, “G h.\n\nNext paragraph.'
    spans = [text[a:b] for a, b in quotations(text)]
    assert spans == ['“A b. C d,"', '"E f.”', "“G h."]


def test_a_quote_after_an_attributed_quote_is_the_same_speakers():
    doc = _rules('Talks stalled on Monday, according to the ministry.\n\n"We have waited for months," said Colonel '
                 'Ahmed Raza, a local commander. "Our men are tired. The roads are closed."\n\nThe convoy left on Tuesday.')
    for snippet in ("Our men are tired", "The roads are closed"):
        c = find_claim(doc, snippet)
        assert c.type == "attributed" and c.source.canonical == "Ahmed Raza", snippet
    assert find_claim(doc, "The convoy left").source is None


def test_unnamed_people_media_and_joint_states_by_the_name_convention():
    assert canonical_source("A Pentagon official") == ("Pentagon official", "anonymous")
    assert canonical_source("Ukrainian media") == ("Ukrainian media", "media")
    assert canonical_source("Both Hanoi and Manila") == ("Vietnam and Philippines", "official")
    assert canonical_source("the Pentagon") == ("Pentagon", "official")


def test_a_report_said_not_to_be_made_is_no_report():
    doc = _rules("Military officials did not say whether the plans had changed. No group has claimed responsibility for "
                 "the attacks. She declined to say where the information came from. The ministry said the plans had "
                 "not changed. Kabul said two soldiers were wounded, but neither country has reported fatalities. "
                 "Prague has expressed no objections to the plan.")
    for snippet in ("the plans had changed", "responsibility for the attacks", "where the information came from",
                    "reported fatalities", "no objections to the plan"):
        c = find_claim(doc, snippet)
        assert c.type != "attributed" and c.source is None, snippet
    assert find_claim(doc, "the plans had not changed").source.text == "The ministry"


def test_a_silence_stays_unattributed_whatever_the_classifier_says():
    """A classifier that types "declined to comment" as attributed does not get a source from the span head."""
    from annotate.model import Source
    from annotate.rules import agree_type_and_source

    doc = _rules("The army said the base had been evacuated. A spokesman for the army declined to comment further.")
    c = find_claim(doc, "declined to comment further")
    assert "unsaid_report" in c.rules and c.type == "fact"
    c.type, c.type_scores = "attributed", {"attributed": 0.7, "fact": 0.2, "opinion": 0.1}
    spokesman = doc.text.index("A spokesman")
    source = Source(spokesman, spokesman + 11, "A spokesman", "army spokesman", "official")
    agree_type_and_source(doc, c, lambda d, claim: (source, None))
    assert c.type == "fact" and c.source is None
    plain = find_claim(doc, "the base had been evacuated")
    assert "unsaid_report" not in plain.rules


def test_the_outlets_own_reporters_speak_in_the_authors_voice():
    from annotate.annotator import score_documents
    from annotate.model import Document
    from annotate.rules import RuleLabeler

    text = "VOA's Benjamin Sand reports from Islamabad that ties between the two allies are strained."
    own, other = (score_documents([Document(id="t", text=text, outlet=o)], RuleLabeler())[0] for o in ("VOA", "Dawn"))
    assert find_claim(own, "ties between").source is None
    assert find_claim(other, "ties between").source.text == "VOA's Benjamin Sand"


def test_reported_with_a_noun_object_is_a_report():
    c = find_claim(_rules("Residents of Donetsk reported heavy shelling on Sunday."), "heavy shelling")
    assert c.type == "attributed" and c.source.text == "Residents of Donetsk"


@pytest.mark.parametrize("text,content,source,cue", [
    ("The Vietnamese government has advised families not to pay.", "families not to pay",
     "The Vietnamese government", "advised"),
    ("Pakistan has offered to conduct a joint investigation with India.", "to conduct a joint investigation",
     "Pakistan", "offered"),
    ("The leaders voiced concern about the fighting in Debaltseve.", "the fighting in Debaltseve",
     "The leaders", "voiced"),
])
def test_advice_offers_and_voiced_concern_are_reports(text, content, source, cue):
    c = find_claim(_rules(text), content)
    assert c.type == "attributed" and (c.source.text, c.cue.text) == (source, cue)


def test_an_offer_of_a_thing_is_no_report():
    c = find_claim(_rules("Japan offered two patrol boats to the Philippines."), "two patrol boats")
    assert c.type != "attributed" and c.source is None


def test_a_clause_that_sets_the_scene_is_not_the_content_of_a_report():
    doc = _rules("As Kerry arrived Tuesday, the administration announced an aid package. "
                 "The town was shelled overnight, officials say.")
    c = find_claim(doc, "Kerry arrived Tuesday")
    assert c.type != "attributed" and c.source is None
    assert find_claim(doc, "The town was shelled overnight").source.text == "officials"


def test_a_statement_issued_after_talks_speaks_not_the_talks():
    doc = _rules("A statement issued after the talks said both countries would reopen their embassies.")
    c = find_claim(doc, "both countries would reopen their embassies")
    assert c.type == "attributed" and c.source.text == "A statement" and "talks" not in c.text


def test_pronouns_skip_places_the_recogniser_took_for_people():
    doc = _rules("Rebels in the Kokang region attacked the town. Tun Myat Lin, a Kokang rebel commander, spoke to VOA. "
                 "He said the fighting would go on.")
    assert find_claim(doc, "the fighting would go on").source.canonical == "Tun Myat Lin"


def test_inverted_and_appositive_speakers_by_the_name_convention():
    doc = _rules("An important part of this campaign, says President George W. Bush, is to spread democracy.")
    assert find_claim(doc, "to spread democracy").source.text == "President George W. Bush"
    people = ["Hong Lei"]
    assert canonical_source("a spokesman for the Chinese foreign ministry, Hong Lei", people, 0)[0] == "Hong Lei"
    text = "Military spokesman Andriy Lysenko said five soldiers died. Later a military spokesman said the town held."
    named = People([(text.index("Andriy"), "Andriy Lysenko")], text)
    assert canonical_source("a military spokesman", named, 65)[0] == "Andriy Lysenko"  # the office's holder
    assert canonical_source("A Pentagon official", named, 65) == ("Pentagon official", "anonymous")  # no office


def test_a_reporting_verb_the_lemmatizer_slips_on_still_reports():
    from annotate.attribute import cue_lemma

    assert cue_lemma("hoped") == "hope" and cue_lemma("admitted") == "admit" and cue_lemma("stated") == "state"
    c = find_claim(_rules("Many hoped the visit would improve relations."), "the visit would improve relations")
    assert c.type == "attributed" and c.source.text == "Many" and c.cue.text == "hoped"


@pytest.mark.parametrize("text, content, source, cue", [
    ("China's official media warned of severe consequences if the United States goes ahead.",
     "severe consequences if the United States goes ahead", "China's official media", "warned of"),
    ("The minister called for calm.", "calm", "The minister", "called for"),
    ("Reports say 25 people were killed in the shelling, while Ukraine reported nine troops killed.",
     "nine troops killed", "Ukraine", "reported"),
])
def test_reports_in_a_cue_preposition_and_a_concession_after_another_report(text, content, source, cue):
    c = find_claim(_rules(text), content)
    assert (c.type, c.source.text, c.cue.text) == ("attributed", source, cue)


def test_a_visit_and_a_saying_are_no_reports():
    doc = _rules("General Munir called on the Chinese Vice President in Beijing. Only time will tell about their "
                 "relationship and its tenacity.")
    assert all(c.source is None for c in doc.claims)


def test_reported_before_a_clauses_subject_makes_it_an_unnamed_report():
    doc = _rules("The reported cost of the upgrade would be $4.2 billion. Leaders drew attention to reported abuses "
                 "in the area.")
    c = find_claim(doc, "The reported cost of the upgrade")
    assert (c.type, c.cue.text) == ("attributed", "reported")
    assert find_claim(doc, "Leaders drew attention").source is None


def test_a_speaker_the_parser_hung_on_a_fronted_phrase_still_speaks():
    doc = _rules("Speaking to reporters in Washington, General Dan McNeill, the outgoing NATO commander, said current "
                 "troop levels are sufficient.")
    c = find_claim(doc, "current troop levels are sufficient")
    assert c.source.text.startswith("General Dan McNeill") and c.cue.text == "said"


def test_a_view_held_by_a_named_holder_is_a_report():
    doc = _rules("Many are optimistic the strategy is working. There is growing concern among U.S. officials that it "
                 "could take more than one war to defeat the group. The concern is great enough that planners have "
                 "become targets.")
    c = find_claim(doc, "the strategy is working")
    assert (c.type, c.source.text, c.cue.text) == ("attributed", "Many", "are optimistic")
    c = find_claim(doc, "it could take more than one war")
    assert (c.type, c.source.text) == ("attributed", "U.S. officials")
    assert not any(c.text.strip() == "There is" for c in doc.claims)
    assert find_claim(doc, "planners have become targets").source is None  # a concern without a holder
