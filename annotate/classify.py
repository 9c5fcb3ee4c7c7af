"""The fine-tuned claim classifier: one MiniLM encoder, a type head, a stance head and a span-tagging head.

Input (one example row of `annotate.examples.FEATURES`): the claim's sentence with the claim, its
source and its cue marked by special tokens, paired with the next and the previous sentence
(the next first, because scepticism is often voiced right after a claim and truncation cuts the
end). The pooled vector is the mean of all tokens joined with the vector at the `[CLM]` marker, so
two claims of one sentence get different inputs to the heads. Probabilities are calibrated with
one temperature per head, fitted on dev data by `train`. The rule labeler's probabilities for the claim
(`prior_type`, `prior_stance`) enter as log-priors added to the heads' logits with a learnt scale:
with ~150 gold claims the model learns where to correct the rules rather than relearning them.

`ClassifierLabeler(model_dir)` implements `annotate.labeler.Labeler`; `SpanTagger(model_dir)`
finds source and cue spans in plain sentences (BIO tags from the same encoder).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .errors import ModelError
from .examples import RULE_FEATURES, TYPE_LABELS, example_from_claim
from .model import STANCES, Document

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STANCE_LABELS = STANCES
SPAN_TAGS = ("O", "B-SRC", "I-SRC", "B-CUE", "I-CUE")
# Corpus labels that only narrow the type down to a set (trained with a partial-label loss).
PARTIAL_TYPES = {
    "unattributed": ("opinion", "fact"),  # PolNeAR sentence with no attribution
    "objective": ("attributed", "fact"),  # CheckThat OBJ
    "subjective": ("opinion",),
}
CLM, CLM_END, SRC, SRC_END, CUE, CUE_END, NEXT, PREV = MARKERS = (
    "[CLM]", "[/CLM]", "[SRC]", "[/SRC]", "[CUE]", "[/CUE]", "[NEXT]", "[PREV]"
)
WEIGHTS, LABELS, CALIBRATION, TRAIN_META = "model.safetensors", "labels.json", "calibration.json", "training.json"


# --- input formatting ------------------------------------------------------------------------------------------

def mark_sentence(row: dict[str, Any]) -> str:
    """The sentence with `[CLM]..[/CLM]`, `[SRC]..[/SRC]`, `[CUE]..[/CUE]` inserted at the row's offsets.

    A claim without offsets (a corpus sentence) is the whole sentence.
    """
    s = row["sentence"] or row["claim"] or ""
    cs, ce = row.get("claim_start", -1), row.get("claim_end", -1)
    if cs is None or cs < 0 or ce is None or ce > len(s) or ce <= cs:
        cs, ce = 0, len(s)
    inserts = [(cs, 1, CLM), (ce, 0, CLM_END)]
    for a, b, (open_, close) in ((row.get("source_start"), row.get("source_end"), (SRC, SRC_END)),
                                 (row.get("cue_start"), row.get("cue_end"), (CUE, CUE_END))):
        if a is not None and b is not None and 0 <= a < b <= len(s):
            inserts += [(a, 1, open_), (b, 0, close)]
    out, last = [], 0
    # At one offset, closing markers come before opening ones so spans never appear to nest wrongly.
    for pos, _, tok in sorted(inserts, key=lambda x: (x[0], x[1])):
        out += [s[last:pos], f" {tok} "]
        last = pos
    out.append(s[last:])
    return " ".join("".join(out).split())


def context_text(row: dict[str, Any], words: int) -> str:
    """The neighbouring sentences: the first `words` words after, then the last `words` words before."""
    after = " ".join((row.get("after") or "").split()[:words])
    before = " ".join((row.get("before") or "").split()[-words:]) if words else ""
    return f"{NEXT} {after} {PREV} {before}".strip()


def encode(tokenizer, rows: dict[str, list], max_length: int, context_words: int) -> dict[str, list]:
    """Tokenize a batch of example rows (column dict, as `Dataset.map(batched=True)` passes it)."""
    n = len(rows["sentence"])
    items = [{k: rows[k][i] for k in rows} for i in range(n)]
    enc = tokenizer([mark_sentence(r) for r in items], [context_text(r, context_words) for r in items],
                    truncation="longest_first", max_length=max_length)
    clm = tokenizer.convert_tokens_to_ids(CLM)
    enc["marker_pos"] = [ids.index(clm) if clm in ids else 0 for ids in enc["input_ids"]]
    return {**dict(enc), **_extras(rows, n)}


def _extras(rows: dict[str, list], n: int) -> dict[str, list]:
    """The rule priors (as log-probabilities) and rule signals of a batch of rows."""
    out = {key: [log_prior(p, len(labels)) for p in rows.get(key) or [None] * n]
           for key, labels in (("prior_type", TYPE_LABELS), ("prior_stance", STANCE_LABELS))}
    k = len(RULE_FEATURES)
    out["rule_features"] = [list(f) if f and len(f) == k else [0.0] * k for f in rows.get("rule_features") or [None] * n]
    return out


MASKS = ("claim_mask", "source_mask", "cue_mask", "sent_mask")


def encode_windows(tokenizer, rows: dict[str, list], max_length: int) -> dict[str, list]:
    """Tokenize rows for span pooling: each row's window is `before sentence after` as plain text (no markers), and
    the claim, its source, its cue and its sentence are token masks over it. Rows of one chunk of a document
    (`Document.context(chunk=...)`) get the same tokens, so one encoding serves all their claims. Truncation keeps
    the sentence whole, then as much of the text after it and before it as fits."""
    n = len(rows["sentence"])
    sents = [rows["sentence"][i] or rows["claim"][i] or "" for i in range(n)]
    s_enc = tokenizer(sents, add_special_tokens=False, return_offsets_mapping=True)
    b_ids = tokenizer([rows["before"][i] or "" for i in range(n)], add_special_tokens=False)["input_ids"]
    a_ids = tokenizer([rows["after"][i] or "" for i in range(n)], add_special_tokens=False)["input_ids"]
    out: dict[str, list] = {"input_ids": [], "attention_mask": [], **{m: [] for m in MASKS}}
    for i in range(n):
        budget = max_length - 2
        ids, offs = s_enc["input_ids"][i][:budget], s_enc["offset_mapping"][i][:budget]
        rest = budget - len(ids)
        after = a_ids[i][: max(rest - min(len(b_ids[i]), rest // 2), 0)]
        before = b_ids[i][len(b_ids[i]) - min(len(b_ids[i]), rest - len(after)) :] if rest - len(after) > 0 else []
        window = [tokenizer.cls_token_id, *before, *ids, *after, tokenizer.sep_token_id]
        base = 1 + len(before)

        def mask(a, b) -> list[int]:
            m = [0] * len(window)
            if a is not None and b is not None and 0 <= a < b:
                for j, (x, y) in enumerate(offs):
                    if x < b and a < y:
                        m[base + j] = 1
            return m

        cs, ce = rows["claim_start"][i], rows["claim_end"][i]
        if cs is None or cs < 0 or ce is None or ce <= cs:
            cs, ce = 0, len(sents[i])
        out["input_ids"].append(window)
        out["attention_mask"].append([1] * len(window))
        out["claim_mask"].append(mask(cs, ce))
        out["source_mask"].append(mask(rows["source_start"][i], rows["source_end"][i]))
        out["cue_mask"].append(mask(rows["cue_start"][i], rows["cue_end"][i]))
        out["sent_mask"].append([0] + [0] * len(before) + [1] * len(ids) + [0] * (len(after) + 1))
    return {**out, **_extras(rows, n)}


def log_prior(probs: Sequence[float] | None, k: int) -> list[float]:
    """Log-probabilities (floored at 1e-4); zeros, which shift no logit, when there is no prior."""
    if not probs or len(probs) != k:
        return [0.0] * k
    return [math.log(max(float(p), 1e-4)) for p in probs]


def type_mask(label: str | None) -> list[float]:
    """Which type labels a gold label allows (all zero: no type supervision)."""
    allowed = PARTIAL_TYPES.get(label or "", (label,) if label in TYPE_LABELS else ())
    return [1.0 if t in allowed else 0.0 for t in TYPE_LABELS]


def stance_index(label: str | None) -> int:
    return STANCE_LABELS.index(label) if label in STANCE_LABELS else -100


def partial_nll(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-example -log P(label in allowed set); 0 for rows without any allowed label."""
    has = mask.sum(-1) > 0
    allowed = torch.logsumexp(logits.masked_fill(mask <= 0, -1e4), -1)
    return torch.where(has, torch.logsumexp(logits, -1) - allowed, torch.zeros_like(allowed))


def span_labels(tokenizer, sentence: str, spans: Sequence[tuple[int, int, str]], max_length: int) -> dict[str, list]:
    """A plain sentence tokenized with BIO tags from character spans labelled "SRC" or "CUE"."""
    enc = tokenizer(sentence, truncation=True, max_length=max_length, return_offsets_mapping=True)
    tags = []
    for a, b in enc.pop("offset_mapping"):
        tag = -100 if a == b else 0  # special tokens carry no loss
        for s, e, lab in spans:
            if a < e and s < b and a != b:
                tag = SPAN_TAGS.index(("B-" if a <= s else "I-") + lab)
        tags.append(tag)
    return {**dict(enc), "tags": tags}


def pad(batch: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad token lists of a batch to its longest row; other fields become tensors as they are."""
    width = max(len(r["input_ids"]) for r in batch)
    out: dict[str, torch.Tensor] = {}
    for key in batch[0]:
        vals = [r[key] for r in batch]
        if key in ("input_ids", "attention_mask", "token_type_ids", "tags", *MASKS):
            fill = {"input_ids": pad_id, "tags": -100}.get(key, 0)
            out[key] = torch.tensor([v + [fill] * (width - len(v)) for v in vals])
        else:
            out[key] = torch.tensor(vals)
    return out


# --- the model -------------------------------------------------------------------------------------------------

class ClaimClassifier(nn.Module):
    """A BERT encoder with a type head and a stance head over pooled claims, and a per-token span head.

    Pooling "marker": one input per claim, its claim marked, pooled as [mean of tokens; the `[CLM]` vector].
    Pooling "span": one input per window of text shared by its claims, each pooled as [mean of its claim's tokens;
    of its source's; of its cue's; of its sentence's] (`window_index` maps claims to windows).
    """

    def __init__(self, encoder: nn.Module, dropout: float = 0.1, pooling: str = "marker"):
        super().__init__()
        if pooling not in ("marker", "span"):
            raise ModelError(f"unknown pooling {pooling!r} (marker or span)")
        h = encoder.config.hidden_size
        self.encoder = encoder
        self.pooling = pooling
        width = 2 * h if pooling == "marker" else 4 * h
        self.dropout = nn.Dropout(dropout)
        self.type_head = nn.Linear(width, len(TYPE_LABELS))
        self.stance_head = nn.Linear(width, len(STANCE_LABELS))
        self.span_head = nn.Linear(h, len(SPAN_TAGS))
        self.prior_scale = nn.Parameter(torch.ones(2))  # weight of the rules' log-priors (type, stance)
        # one learnt weight per rule signal and label (zero at the start: the prior speaks first)
        self.feature_head = nn.Linear(len(RULE_FEATURES), len(TYPE_LABELS) + len(STANCE_LABELS), bias=False)
        nn.init.zeros_(self.feature_head.weight)

    def _hidden(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state

    def forward(self, input_ids, attention_mask, marker_pos=None, token_type_ids=None, prior_type=None,
                prior_stance=None, rule_features=None, claim_mask=None, source_mask=None, cue_mask=None,
                sent_mask=None, window_index=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Type and stance logits (plus the scaled log-priors and the rule signals' weights when given)."""
        h = self._hidden(input_ids, attention_mask, token_type_ids)
        if self.pooling == "span":
            if window_index is not None:
                h = h[window_index]
            z = self.dropout(torch.cat([masked_mean(h, m) for m in (claim_mask, source_mask, cue_mask, sent_mask)], -1))
        else:
            mean = masked_mean(h, attention_mask)
            mark = h[torch.arange(h.shape[0]), marker_pos]
            z = self.dropout(torch.cat([mean, mark], -1))
        t, s = self.type_head(z), self.stance_head(z)
        if prior_type is not None:
            t = t + self.prior_scale[0] * prior_type
        if prior_stance is not None:
            s = s + self.prior_scale[1] * prior_stance
        if rule_features is not None:
            f = self.feature_head(rule_features.to(t.dtype))
            t, s = t + f[:, : t.shape[1]], s + f[:, t.shape[1] :]
        return t, s

    def tag(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """Span-tag logits per token."""
        return self.span_head(self.dropout(self._hidden(input_ids, attention_mask, token_type_ids)))


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token vectors a 0/1 mask selects (zeros where it selects none)."""
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def build(encoder_dir: str | Path, tokenizer_dir: str | Path | None = None, pretrained: bool = True, dropout: float = 0.1,
          pooling: str = "marker"):
    """A fresh classifier and tokenizer (with the marker tokens) from an encoder folder."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir or encoder_dir))
    tok.add_special_tokens({"additional_special_tokens": list(MARKERS)})
    if pretrained:
        enc = AutoModel.from_pretrained(str(encoder_dir))
    else:
        enc = AutoModel.from_config(AutoConfig.from_pretrained(str(encoder_dir)))
    if enc.config.vocab_size < len(tok):
        enc.resize_token_embeddings(len(tok))
    return ClaimClassifier(enc, dropout, pooling), tok


def save(model: ClaimClassifier, tokenizer, out: Path, meta: dict[str, Any], temperatures: dict[str, float]) -> None:
    """Weights, encoder config, tokenizer, label maps and temperatures into `out`."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.encoder.config.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS))
    labels = {"type": list(TYPE_LABELS), "stance": list(STANCE_LABELS), "span": list(SPAN_TAGS),
              "markers": list(MARKERS), "partial_types": {k: list(v) for k, v in PARTIAL_TYPES.items()}}
    (out / LABELS).write_text(json.dumps(labels, indent=2) + "\n")
    (out / CALIBRATION).write_text(json.dumps(temperatures, indent=2) + "\n")
    (out / TRAIN_META).write_text(json.dumps(meta, indent=2) + "\n")


def load(model_dir: str | Path) -> tuple[ClaimClassifier, Any, dict[str, Any], dict[str, float]]:
    """Model (eval mode), tokenizer, training metadata and temperatures saved by `save`."""
    from safetensors.torch import load_file

    d = Path(model_dir)
    missing = [f for f in ("config.json", WEIGHTS, TRAIN_META) if not (d / f).exists()]
    if missing:
        raise ModelError(f"{d}: not a trained model (missing {', '.join(missing)}); run `annotate train` first")
    meta = json.loads((d / TRAIN_META).read_text())
    model, tok = build(d, pretrained=False, dropout=meta.get("dropout", 0.1), pooling=meta.get("pooling", "marker"))
    try:
        model.load_state_dict(load_file(str(d / WEIGHTS)))
    except RuntimeError as exc:
        raise ModelError(f"{d / WEIGHTS}: weights do not fit the model ({str(exc).splitlines()[0]}); "
                         "a model from an older version: run `annotate train` again") from None
    temps = json.loads((d / CALIBRATION).read_text()) if (d / CALIBRATION).exists() else {}
    return model.eval(), tok, meta, temps


def fit_temperature(logits: torch.Tensor, mask: torch.Tensor) -> float:
    """The temperature minimising the (partial-label) NLL of `logits` against `mask`, by a log-spaced grid search."""
    keep = mask.sum(-1) > 0
    if int(keep.sum()) == 0:
        return 1.0
    logits, mask = logits[keep].float(), mask[keep].float()
    grid = [math.exp(x / 20) for x in range(-46, 61)]  # 0.1 .. 20
    losses = [float(partial_nll(logits / t, mask).mean()) for t in grid]
    return grid[min(range(len(grid)), key=losses.__getitem__)]


@torch.inference_mode()
def predict_logits(model: ClaimClassifier, tokenizer, rows: list[dict[str, Any]], max_length: int,
                   context_words: int, batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw type and stance logits for example rows, batched by length, in the rows' order."""
    model.eval()
    if not rows:
        return torch.zeros(0, len(TYPE_LABELS)), torch.zeros(0, len(STANCE_LABELS))
    cols = {k: [r.get(k) for r in rows] for k in ("sentence", "claim", "claim_start", "claim_end", "source_start",
                                                    "source_end", "cue_start", "cue_end", "before", "after",
                                                    "prior_type", "prior_stance", "rule_features")}
    t_out = torch.zeros(len(rows), len(TYPE_LABELS))
    s_out = torch.zeros(len(rows), len(STANCE_LABELS))
    if model.pooling == "span":
        return _predict_windows(model, tokenizer, encode_windows(tokenizer, cols, max_length), batch_size, t_out, s_out)
    enc = encode(tokenizer, cols, max_length, context_words)
    items = [{k: enc[k][i] for k in enc} for i in range(len(rows))]
    order = sorted(range(len(rows)), key=lambda i: len(items[i]["input_ids"]))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        batch = pad([items[i] for i in idx], tokenizer.pad_token_id)
        t, s = model(**batch)
        t_out[idx], s_out[idx] = t, s
    return t_out, s_out


def _predict_windows(model, tokenizer, enc: dict[str, list], batch_size: int, t_out: torch.Tensor,
                     s_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Span pooling: each distinct window encoded once, `batch_size` windows a pass, all their claims read off it."""
    windows: dict[tuple, list[int]] = {}
    for i, ids in enumerate(enc["input_ids"]):
        windows.setdefault(tuple(ids), []).append(i)
    order = sorted(windows, key=len)
    for b in range(0, len(order), batch_size):
        group = order[b : b + batch_size]
        width = max(len(w) for w in group)
        ids = torch.tensor([list(w) + [tokenizer.pad_token_id] * (width - len(w)) for w in group])
        att = torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in group])
        claims = [(k, i) for k, w in enumerate(group) for i in windows[w]]
        idx = [i for _, i in claims]
        extra = {m: torch.tensor([enc[m][i] + [0] * (width - len(enc[m][i])) for i in idx]) for m in MASKS}
        extra.update({key: torch.tensor([enc[key][i] for i in idx]) for key in ("prior_type", "prior_stance",
                                                                              "rule_features")})
        t, s = model(ids, att, window_index=torch.tensor([k for k, _ in claims]), **extra)
        t_out[idx], s_out[idx] = t, s
    return t_out, s_out


def _probs(logits: torch.Tensor, temperature: float, labels: Sequence[str]) -> list[dict[str, float]]:
    p = torch.softmax(logits / temperature, -1).tolist()
    return [{lab: round(v, 4) for lab, v in zip(labels, row)} for row in p]


def bf16_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices fast: AMX tiles (`amx_bf16`) and oneDNN's bf16 support. AVX512-BF16
    alone is not enough: on a Xeon with it and no AMX, bf16 scored 37-42 claims/s in `annotate bench` against 54 in
    float32 and 53-63 with onnx-int8-all."""
    try:
        amx = "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
        return amx and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError, OSError):
        return False


class Classifier:
    """A trained model directory, ready to predict calibrated type and stance probabilities for example rows."""

    def __init__(self, model_dir: str | Path, batch_size: int = 32):
        self.model, self.tokenizer, self.meta, self.temperatures = load(model_dir)
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.name = f"{self.meta.get('name', Path(model_dir).name)}-{self.meta.get('version', '0')}"
        self.bf16 = False  # run the encoder's matrix products in bfloat16 (`ClassifierLabeler.fast_math`)

    def predict(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per row: `type`, `type_scores`, `stance`, `stance_scores` (calibrated)."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            t, s = predict_logits(self.model, self.tokenizer, rows, self.meta["max_length"],
                                  self.meta["context_words"], self.batch_size)
        t, s = t.float(), s.float()
        tp = _probs(t, self.temperatures.get("type", 1.0), TYPE_LABELS)
        sp = _probs(s, self.temperatures.get("stance", 1.0), STANCE_LABELS)
        return [{"type": max(a, key=a.get), "type_scores": a, "stance": max(b, key=b.get), "stance_scores": b}
                for a, b in zip(tp, sp)]


class ClassifierLabeler:
    """Claim type and stance from the fine-tuned classifier; implements `annotate.labeler.Labeler`.

    Targets (which earlier claim an evaluative comment points at) come from the rule labeler's
    `link_targets`: the model does not predict them.
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 32):
        self.classifier = Classifier(model_dir, batch_size)
        self.name = self.classifier.name
        self.o_bias = self.classifier.temperatures.get("span_o_bias", 0.0)

    def label(self, docs: list[Document]) -> list[Document]:
        """The rules first (their scores are the model's priors and their fired rules stay in `claim.rules`),
        then the model's calibrated type and stance; type and source are made to agree (the span head names the
        source of an attributed claim the frames missed), targets are linked again on the model's types, and
        stance is made to agree with type."""
        from .attribute import lexicon
        from .rules import RuleLabeler, agree_type_and_source, agree_type_and_stance, link_targets

        RuleLabeler().label(docs)
        todo = [(doc, c) for doc in docs for c in doc.claims if c.type != "other"]
        chunk = self.classifier.meta.get("window_sentences", 0)
        preds = self.classifier.predict([example_from_claim(doc, c, labels=False, rules=c, chunk=chunk)
                                         for doc, c in todo])
        for (_, c), p in zip(todo, preds):
            c.type, c.type_scores, c.stance, c.stance_scores = p["type"], p["type_scores"], p["stance"], p["stance_scores"]
            c.model = self.name
        sourceless = [(doc, c) for doc, c in todo if c.type == "attributed" and c.source is None]
        found = self.span_sources(sourceless) if self.classifier.meta.get("span_head") else {}
        for doc, c in todo:
            agree_type_and_source(doc, c, lambda d, claim: found.get(claim.claim_id))
        lex = lexicon().raw
        for doc in docs:
            for c in doc.claims:
                c.target = None
            link_targets(doc, lex)
            for c in doc.claims:
                agree_type_and_stance(c)
        return docs

    def fast_math(self, mode: str = "auto", say=lambda m: None) -> str:
        """Cheaper arithmetic for CPU inference: `bf16` (bfloat16 matrix products, fast where the CPU has AMX
        tiles), `int8` / `all` (torch's int8 for the feed-forward / every linear layer), `onnx`,
        `onnx-int8`, `onnx-int8-all` (the encoder run by ONNX Runtime in float32, or with int8 feed-forward / every
        weighted matrix product), `auto` (bf16 when native, else onnx-int8-all), `off`. Returns what it applied."""
        if mode == "auto":
            mode = "bf16" if bf16_native() else "onnx-int8-all"
        if mode == "bf16":
            self.classifier.bf16 = True
            self.name = self.classifier.name = f"{self.classifier.name}-bf16"
        elif mode in ("int8", "ffn", "all"):
            self.quantize("all" if mode == "all" else "ffn")
        elif mode in ("onnx", "onnx-int8", "onnx-int8-all"):
            self.onnx(int8={"onnx": None, "onnx-int8": "ffn", "onnx-int8-all": "all"}[mode], say=say)
        return mode

    def onnx(self, int8: str | None = None, say=lambda m: None) -> None:
        """Run the encoder with ONNX Runtime (`annotate.fastmath`); `int8` "ffn" or "all" quantizes the feed-forward
        or every weighted matrix product."""
        from .fastmath import onnx_encoder

        clf = self.classifier
        clf.model.encoder = onnx_encoder(clf.model.encoder, clf.model_dir, clf.model_dir / WEIGHTS, int8,
                                         torch.get_num_threads(), say)
        self.name = clf.name = f"{clf.name}-onnx{f'-int8-{int8}' if int8 else ''}"

    def quantize(self, layers: str = "ffn") -> None:
        """Dynamic int8 quantization for CPU inference, marked in the model name: `ffn` the encoder's feed-forward
        layers (two thirds of its arithmetic; attention and the heads, which are sensitive, stay fp32), `all` every
        linear layer."""
        import warnings

        model = self.classifier.model
        if layers == "all":
            targets: set | set[str] = {nn.Linear}
        else:
            targets = {n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith("encoder.")
                       and (".intermediate.dense" in n or (".output.dense" in n and ".attention." not in n))}
        with warnings.catch_warnings():  # torch's notice that eager quantization moves to torchao
            warnings.simplefilter("ignore")
            self.classifier.model = torch.ao.quantization.quantize_dynamic(model, targets, dtype=torch.qint8)
        self.name = self.classifier.name = f"{self.classifier.name}-int8{'' if layers == 'all' else '-ffn'}"

    def span_sources(self, pairs: list[tuple[Document, Any]]) -> dict[str, tuple[Any, Any]]:
        """(source, cue) from the span head for claims typed attributed whose sentence frames named no source: the
        SRC span nearest the claim (outside it when there is one), named by the attributor's convention."""
        from .attribute import canonical_source, default_state
        from .model import Source, Span

        if not pairs:
            return {}
        clf = self.classifier
        sents = [doc.sentences[c.sentence_index] for doc, c in pairs]
        tagged = tag_spans(clf.model, clf.tokenizer, [s.text for s in sents], clf.meta["max_length"],
                           clf.batch_size, self.o_bias)
        out = {}
        for (doc, c), sent, spans in zip(pairs, sents, tagged):
            srcs = [(sent.start + a, sent.start + b) for lab, a, b in spans if lab == "SRC"]
            cues = [(sent.start + a, sent.start + b) for lab, a, b in spans if lab == "CUE"]
            if not srcs:
                continue
            outside = [x for x in srcs if x[1] <= c.start or x[0] >= c.end] or srcs
            a, b = min(outside, key=lambda x: min(abs(x[1] - c.start), abs(x[0] - c.end)))
            canon, kind = canonical_source(doc.text[a:b], None, a, default_state(doc.text))
            cue = min(cues, key=lambda x: abs(x[0] - b), default=None)
            out[c.claim_id] = (Source(a, b, doc.text[a:b], canon, kind), Span.of(doc.text, *cue) if cue else None)
        return out


class SpanTagger:
    """Source and cue spans in plain sentences, from the model's span head (trained on PolNeAR)."""

    def __init__(self, model_dir: str | Path, batch_size: int = 32):
        self.model, self.tokenizer, self.meta, temps = load(model_dir)
        self.o_bias = temps.get("span_o_bias", 0.0)
        if not self.meta.get("span_head"):
            raise ModelError(f"{model_dir}: this model was trained without the span head (train.yaml span.enabled)")
        self.batch_size = batch_size

    def tag(self, sentences: list[str]) -> list[list[tuple[str, int, int]]]:
        """Per sentence, its ("SRC"|"CUE", start, end) character spans in order."""
        return tag_spans(self.model, self.tokenizer, sentences, self.meta["max_length"], self.batch_size, self.o_bias)

    def spans(self, sentence: str) -> dict[str, list[tuple[int, int]]]:
        """The source and cue spans of one sentence, for the attributor: {"source": [...], "cue": [...]}."""
        found = self.tag([sentence])[0]
        return {"source": [(a, b) for lab, a, b in found if lab == "SRC"],
                "cue": [(a, b) for lab, a, b in found if lab == "CUE"]}


@torch.inference_mode()
def span_logits(model: ClaimClassifier, tokenizer, sentences: list[str], max_length: int,
                batch_size: int = 32) -> list[tuple[torch.Tensor, list[list[int]]]]:
    """Per sentence, its span-tag logits (tokens x tags) and token character offsets, batched by length."""
    model.eval()
    out: list = [None] * len(sentences)
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        enc = tokenizer([sentences[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                        return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping").tolist()
        logits = model.tag(**enc)
        for k, i in enumerate(idx):
            out[i] = (logits[k], offsets[k])
    return out


def decode_spans(logits: list[tuple[torch.Tensor, list[list[int]]]], o_bias: float = 0.0) -> list[list[tuple[str, int, int]]]:
    """Spans from `span_logits`; `o_bias` is added to the O tag's logit (the head over-tags without it)."""
    shift = torch.tensor([o_bias] + [0.0] * (len(SPAN_TAGS) - 1))
    return [_decode_bio((lg + shift).argmax(-1).tolist(), off) for lg, off in logits]


def fit_o_bias(logits: list[tuple[torch.Tensor, list[list[int]]]], gold: list[list[tuple[int, int, str]]]) -> float:
    """The O-tag bias maximising the mean source and cue overlap F1 on held-out sentences (grid 0..3)."""
    from .metrics import span_overlap_f1

    def score(bias: float) -> float:
        found = decode_spans(logits, bias)
        return sum(span_overlap_f1([[(a, b) for a, b, x in g if x == lab] for g in gold],
                                   [[(a, b) for x, a, b in f if x == lab] for f in found])["f1"]
                   for lab in ("SRC", "CUE")) / 2

    grid = [x / 4 for x in range(13)]
    return max(grid, key=lambda b: (score(b), -b))


def tag_spans(model: ClaimClassifier, tokenizer, sentences: list[str], max_length: int,
              batch_size: int = 32, o_bias: float = 0.0) -> list[list[tuple[str, int, int]]]:
    """Per sentence, the ("SRC"|"CUE", start, end) character spans the span head finds."""
    return decode_spans(span_logits(model, tokenizer, sentences, max_length, batch_size), o_bias)


def _decode_bio(tags: list[int], offsets: list[list[int]]) -> list[tuple[str, int, int]]:
    """Character spans from BIO tag ids. An I- tag, or any tag of the open label on a word piece that
    continues the previous token's word, extends the open span; anything else tagged starts one."""
    spans: list[list] = []
    open_lab, last_end = None, -1
    for t, (a, b) in zip(tags, offsets):
        if a == b:
            continue
        tag = SPAN_TAGS[t]
        if tag == "O":
            open_lab, last_end = None, b
            continue
        kind, lab = tag.split("-")
        if open_lab == lab and (kind == "I" or a == last_end):
            spans[-1][2] = b
        else:
            spans.append([lab, a, b])
            open_lab = lab
        last_end = b
    return [(lab, a, b) for lab, a, b in spans]
