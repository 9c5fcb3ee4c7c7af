"""Scale-out scoring on Ray Data: the same scorer as a callable class in `map_batches`.

Runs on a local Ray started on this machine, or on the cluster at `RAY_ADDRESS`. Documents go to
Ray in windows of shards (so the driver's memory stays bounded), come back in order, and are
written by the caller exactly as the local engine's shards are, so both engines give the same
run directory.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Iterator

from .annotator import Annotator, load_labeler
from .errors import InputError
from .model import Claim, Document
from .segment import PipelineConfig

# Shards sent to Ray at a time: enough work to keep the actors busy, little enough to bound memory.
WINDOW_SHARDS = 8


class RayScorer:
    """A Ray actor holding one loaded pipeline; called with a batch of document records."""

    def __init__(self, cfg: dict, labeler: str, model_dir: str | None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if labeler == "model":  # one actor per CPU: more torch threads than that only contend
            import torch

            torch.set_num_threads(1)
        cfg = PipelineConfig.model_validate({**cfg, "labeler": labeler, "model_dir": model_dir or cfg["model_dir"]})
        self.annotator = Annotator(cfg, load_labeler(cfg))

    def __call__(self, batch: dict) -> dict:
        n = len(batch["id"])
        docs = [Document.from_record({k: _py(batch[k][i]) for k in batch}) for i in range(n)]
        scored, errors = self.annotator.score_safely(docs)
        by_id = {d.id: d for d in scored}
        failed = {e.where: e.reason for e in errors}
        out = []
        for d in docs:
            if d.id in by_id:
                s = by_id[d.id]
                out.append(json.dumps({"doc": s.to_record(), "claims": [c.to_row() for c in s.claims]}))
            else:
                where = d.path or d.id
                out.append(json.dumps({"error": {"where": where, "reason": failed.get(where, "could not be scored")}}))
        return {"result": out}


def _py(value):
    """A value of a Ray batch as a plain Python value; Ray's numpy batches turn missing strings into NaN."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def _decode(payload: str) -> Document | InputError:
    rec = json.loads(payload)
    if "error" in rec:
        return InputError(rec["error"]["where"], rec["error"]["reason"])
    doc = Document.from_record(rec["doc"])
    doc.claims = [Claim.from_row(r) for r in rec["claims"]]
    return doc


def ray_shards(shards: Iterable[list[Document]], annotator: Annotator
               ) -> Iterator[tuple[list[Document], list[Document], list[InputError]]]:
    """(input shard, scored documents, errors) per shard, scored by Ray actors (each holding an `Annotator` like
    this one), in input order."""
    import ray

    cfg, labeler = annotator.cfg, annotator.labeler
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    kind = "rules" if labeler.name.startswith("rules") else "model"
    model_dir = str(getattr(labeler, "model_dir", "") or "") or None
    actors = max(1, int(ray.available_resources().get("CPU", 1)))
    window: list[list[Document]] = []
    for shard in shards:
        window.append(shard)
        if len(window) >= WINDOW_SHARDS:
            yield from _run_window(window, cfg, kind, model_dir, actors)
            window = []
    if window:
        yield from _run_window(window, cfg, kind, model_dir, actors)


def _run_window(window, cfg, kind, model_dir, actors):
    import ray

    records = [d.to_record() for shard in window for d in shard]
    ds = ray.data.from_items(records).map_batches(
        RayScorer,
        fn_constructor_kwargs={"cfg": cfg.model_dump(), "labeler": kind, "model_dir": model_dir},
        batch_size=cfg.batch_size,
        concurrency=actors,
        num_cpus=1,
    )
    results = iter(_decode(row["result"]) for row in ds.iter_rows())
    for shard in window:
        items = [next(results) for _ in shard]
        yield shard, [d for d in items if isinstance(d, Document)], [e for e in items if isinstance(e, InputError)]
