"""Label Studio conversion without a server: tasks, predictions, annotation results and offsets."""

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from annotate.examples import example_from_claim
from annotate.model import Claim, Document, Sentence, Source, Span
from annotate.studio import convert
from annotate.studio.client import StudioConfig, check_predictions, order_tasks

ROOT = Path(__file__).resolve().parent.parent
XML = (ROOT / "labels" / "label_config.xml").read_text(encoding="utf-8")
SEED = ROOT / "corpus" / "001_2c9bbf579a3fe22b.txt"


def _at(text: str, phrase: str, after: int = 0) -> tuple[int, int]:
    i = text.index(phrase, after)
    return i, i + len(phrase)


@pytest.fixture(scope="module")
def seed():
    """Seed 001 with the guide's worked example: a sceptical attributed claim and the opinion that doubts a later one."""
    text = SEED.read_text(encoding="utf-8")
    doc = Document(id=SEED.stem, text=text, title="Munir in Beijing")
    line = text.index("A military statement")
    s_start = line
    s_end = text.index("“regional peace”.") + len("“regional peace”.")
    prev_end = text.index("leadership.", 0, line) + len("leadership.")
    doc.sentences = [
        Sentence(0, 0, text.index(" During") , text[: text.index(" During")]),
        Sentence(1, text.index("During"), prev_end, text[text.index("During"):prev_end]),
        Sentence(2, s_start, s_end, text[s_start:s_end]),
    ]
    nxt = text.index("\n", s_end) + 1
    nxt_end = text.index(".", nxt) + 1
    doc.sentences.append(Sentence(3, nxt, nxt_end, text[nxt:nxt_end]))
    cs, ce = _at(text, "the Chinese military leadership reiterated full confidence")
    ce = text.index("“regional peace”") + len("“regional peace”")
    ss, se = _at(text, "A military statement emanating from Pakistan")
    us, ue = _at(text, "claimed", ss)
    claim = Claim(
        doc_id=doc.id, index=2, sentence_index=2, start=cs, end=ce, text=text[cs:ce], type="attributed",
        type_scores={"attributed": 0.9, "opinion": 0.05, "fact": 0.05}, source=Source(ss, se, text[ss:se], "ISPR", "official"),
        cue=Span(us, ue, "claimed"), stance="sceptical", stance_scores={"endorse": 0.1, "neutral": 0.3, "sceptical": 0.6},
        model="rules-0.1",
    )
    return doc, claim


def test_prediction_is_valid_for_the_label_config(seed):
    doc, claim = seed
    t = convert.task(doc, claim, convert.sentence_bounds(doc, [claim]))
    li = LabelInterface(XML)
    assert li.validate_prediction(t["predictions"][0], return_errors=True) == []
    # The same result submitted by a person is a valid annotation too.
    assert li.validate_annotation({"result": t["predictions"][0]["result"]})
    assert li.validate_task({"data": t["data"]})
    assert t["predictions"][0]["score"] == 0.6  # the lower of the top type (0.9) and top stance (0.6) probability
    assert t["predictions"][0]["model_version"] == "rules-0.1"


def test_task_text_holds_the_sentence_and_its_neighbours(seed):
    doc, claim = seed
    data = convert.task_data(doc, claim, convert.sentence_bounds(doc, [claim]), window=1)
    text, off = data["text"], data["offset"]
    assert text == doc.text[off : off + len(text)]
    assert text.startswith("During his stay in Beijing")
    assert text.rstrip().endswith(doc.sentences[3].text)
    assert text[data["claim_start"] : data["claim_end"]] == claim.text
    assert text[data["sentence_start"] : data["sentence_end"]] == doc.sentences[2].text
    narrow = convert.task_data(doc, claim, convert.sentence_bounds(doc, [claim]), window=0)
    assert narrow["text"] == doc.sentences[2].text


def test_context_grows_to_hold_a_carried_over_source(seed):
    doc, claim = seed
    far = Source(0, 12, doc.text[:12], "X", "other")  # a source two sentences back, outside window 0
    moved = Claim(**{**claim.__dict__, "source": far})
    data = convert.task_data(doc, moved, convert.sentence_bounds(doc, [moved]), window=0)
    assert data["offset"] == 0 and data["text"].endswith("“regional peace”.")
    back = convert.result_claim(data, convert.claim_result(moved, data))
    assert (back.source.start, back.source.end, back.source.text) == (0, 12, doc.text[:12])


def test_sentence_bounds_from_segments_when_sentences_are_missing():
    text = "Alpha one. Beta two and gamma three. Delta."
    doc = Document(id="d", text=text)
    claims = [
        Claim("d", 0, 0, 0, 10, text[0:10]),
        Claim("d", 1, 1, 11, 19, text[11:19]),
        Claim("d", 2, 1, 24, 36, text[24:36]),
        Claim("d", 3, 2, 37, 43, text[37:43]),
    ]
    assert convert.sentence_bounds(doc, claims) == {0: (0, 10), 1: (11, 36), 2: (37, 43)}


def test_round_trip_with_astral_characters_uses_utf16_offsets():
    text = "Intro 🚀 line. Officials 🙂 said the 🛩 jets were downed. This seems 💥 far-fetched."
    doc = Document(id="emoji", text=text)
    s = _at(text, "Officials 🙂")
    u = _at(text, "said")
    c = _at(text, "the 🛩 jets were downed")
    claim = Claim("emoji", 1, 1, c[0], c[1], text[c[0] : c[1]], type="attributed", stance="neutral",
                  source=Source(s[0], s[1], text[s[0] : s[1]], "officials", "anonymous"), cue=Span(u[0], u[1], "said"))
    bounds = {0: (0, 13), 1: (14, c[1] + 1), 2: (c[1] + 2, len(text))}
    data = convert.task_data(doc, claim, bounds)
    result = convert.claim_result(claim, data)
    js = data["text"].encode("utf-16-le")
    for r in result:
        if r["type"] == "labels":
            v = r["value"]
            # What the browser would slice out of the same string.
            assert js[2 * v["start"] : 2 * v["end"]].decode("utf-16-le") == v["text"]
    region = next(r for r in result if r.get("id") == "claim")["value"]
    assert region["start"] == data["claim_start"] + 2  # two astral characters precede the claim
    back = convert.result_claim(data, result)
    for span, orig in ((back, claim), (back.source, claim.source), (back.cue, claim.cue)):
        assert (span.start, span.end) == (orig.start, orig.end)
        assert text[span.start : span.end] == span.text
    assert convert.from_js(data["text"], convert.to_js(data["text"], len(data["text"]))) == len(data["text"])


def test_result_claim_reads_a_human_correction(seed):
    doc, claim = seed
    data = convert.task_data(doc, claim, convert.sentence_bounds(doc, [claim]))
    result = convert.claim_result(claim, data)
    # A person moves the source to "A military statement" and changes the stance to neutral.
    for r in result:
        if r.get("id") == "source":
            r["value"]["end"] = r["value"]["start"] + len("A military statement")
            r["value"]["text"] = "A military statement"
        if r.get("from_name") == "stance":
            r["value"]["choices"] = ["neutral"]
    human = convert.result_claim(data, result, model="human:a")
    assert human.stance == "neutral" and human.type == "attributed"
    assert human.source.text == "A military statement" == doc.text[human.source.start : human.source.end]
    assert human.source.start == claim.source.start and human.source.canonical == "ISPR"
    agree = convert.agreement([(human, claim)])
    assert agree["n"] == 1 and agree["stance"] == 0.0 and agree["source_span"] == 0.0
    assert agree["type"] == agree["cue_span"] == agree["claim_span"] == 1.0 and agree["all"] == 0.0


def test_result_claim_refuses_what_the_config_cannot_produce(seed):
    doc, claim = seed
    data = convert.task_data(doc, claim, convert.sentence_bounds(doc, [claim]))
    bad_label = [{"id": "x", "from_name": "span", "to_name": "text", "type": "labels",
                  "value": {"start": 0, "end": 3, "text": "Dur", "labels": ["PERSON"]}}]
    with pytest.raises(ValueError, match="PERSON"):
        convert.result_claim(data, bad_label)
    outside = [{"id": "x", "from_name": "span", "to_name": "text", "type": "labels",
                "value": {"start": 0, "end": 10_000, "labels": ["SOURCE"]}}]
    with pytest.raises(ValueError, match="outside"):
        convert.result_claim(data, outside)
    with pytest.raises(ValueError, match="stance"):
        convert.result_claim(data, [{"from_name": "stance", "type": "choices", "value": {"choices": ["hostile"]}}])


def test_a_config_change_that_breaks_predictions_is_caught(seed, tmp_path):
    doc, claim = seed
    tasks = [convert.task(doc, claim, convert.sentence_bounds(doc, [claim]))]
    check_predictions(XML, tasks, "labels/label_config.xml")  # the shipped config accepts them
    broken = XML.replace('<Choice value="sceptical"', '<Choice value="doubtful"')
    from annotate.errors import StudioError

    with pytest.raises(StudioError) as err:
        check_predictions(broken, tasks, "changed.xml")
    msg = str(err.value)
    assert "\n" not in msg and "changed.xml" in msg and claim.claim_id in msg and "stance" in msg


def test_task_example_matches_the_shared_example_schema(seed):
    doc, claim = seed
    data = convert.task_data(doc, claim, convert.sentence_bounds(doc, [claim]))
    row = convert.task_example(data, claim)
    ref = example_from_claim(doc, claim, corpus="studio")
    for key in ("claim", "sentence", "claim_start", "claim_end", "source_start", "source_end", "cue_start", "cue_end",
                "type", "stance", "claim_id"):
        assert row[key] == ref[key], key
    assert row["before"] == ref["before"].strip() and row["after"] == ref["after"].strip()
    # the rules' scores of the claim ride along as the model's priors, as they do when scoring
    assert len(row["prior_type"]) == 3 and abs(sum(row["prior_type"]) - 1) < 1e-2 and len(row["prior_stance"]) == 3
    if claim.source is not None:
        assert max(range(3), key=row["prior_type"].__getitem__) == 0  # attributed


def test_order_tasks_puts_least_confident_first():
    def t(cid, score):
        pred = {"result": []} if score is None else {"result": [], "score": score}
        return {"data": {"claim_id": cid}, "predictions": [pred]}

    tasks = [t("a", 0.9), t("b", None), t("c", 0.2), t("d", 0.5)]
    assert [x["data"]["claim_id"] for x in order_tasks(tasks, "uncertainty")] == ["c", "d", "a", "b"]
    assert [x["data"]["claim_id"] for x in order_tasks(tasks, "all")] == ["a", "b", "c", "d"]
    shuffled = [x["data"]["claim_id"] for x in order_tasks(tasks, "random", seed=3)]
    assert sorted(shuffled) == ["a", "b", "c", "d"] and shuffled == [x["data"]["claim_id"] for x in order_tasks(tasks, "random", seed=3)]
    assert StudioConfig().strategy == "uncertainty"
