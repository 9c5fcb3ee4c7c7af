"""The ML backend Label Studio calls: GET /health, POST /setup, /predict and /webhook (FastAPI).

The served model is a `ModelVersion`: a name and a function that segments, attributes and labels
documents. The backend turns Label Studio tasks into documents and the model's claims back into
predictions (through `convert`), and on START_TRAINING (or every N new annotations) pulls the
annotations, retrains through a `Retrain` callable in the background, and switches versions only
when the candidate scores no worse than the current model on held-out annotations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import StudioError
from ..model import Claim, Document
from . import client, convert
from .client import Label, StudioConfig

log = logging.getLogger("annotate.studio.backend")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class ModelVersion:
    """A servable model: its version name and `score(docs) -> docs` (segment, attribute, label)."""

    version: str
    score: Callable[[list[Document]], list[Document]]


#: Builds a candidate model from the training labels (called in a background thread).
Retrain = Callable[[list[Label]], ModelVersion]


def _overlap(c: Claim, start: int, end: int) -> int:
    return max(0, min(c.end, end) - max(c.start, start))


def _task_doc(data: dict[str, Any]) -> Document:
    return Document(id=str(data.get("doc_id") or "task"), text=str(data.get("text") or ""), title=data.get("title"))


def predict_tasks(model: ModelVersion, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One prediction per task, in task order: the model's claim that best covers the task's claim."""
    datas = [t.get("data") or {} for t in tasks]
    docs = model.score([_task_doc(d) for d in datas])
    out = []
    for data, doc in zip(datas, docs):
        s, e = int(data.get("claim_start", 0)), int(data.get("claim_end", len(doc.text)))
        best = max(doc.claims, key=lambda c: (_overlap(c, s, e), c.type != "other"), default=None)
        if best is None or _overlap(best, s, e) == 0 or "claim_id" not in data:
            out.append({"result": [], "score": 0.0, "model_version": model.version})
            continue
        off = int(data.get("offset", 0))
        doc_id, index = str(data["claim_id"]).rsplit(":", 1)
        shifted = _shift(best, off, doc_id, int(index))
        pred = convert.prediction(shifted, data, model.version)
        pred.setdefault("score", 0.0)
        out.append(pred)
    return out


def _shift(c: Claim, off: int, doc_id: str, index: int) -> Claim:
    """A task-text claim moved to document offsets under the task's claim id."""
    def move(span):
        return None if span is None else type(span)(**{**span.__dict__, "start": span.start + off, "end": span.end + off})

    return Claim(**{**c.__dict__, "doc_id": doc_id, "index": index, "start": c.start + off, "end": c.end + off,
                    "source": move(c.source), "cue": move(c.cue)})


def label_accuracy(model: ModelVersion, labels: list[Label]) -> float:
    """Mean agreement of the model's type and stance with the human labels (the held-out gold)."""
    if not labels:
        return 0.0
    preds = predict_tasks(model, [{"data": lb.data} for lb in labels])
    hits = 0.0
    for lb, pred in zip(labels, preds):
        try:
            got = convert.result_claim(lb.data, pred["result"]) if pred["result"] else None
        except ValueError:
            got = None
        hits += 0.5 * (got is not None and got.type == lb.claim.type) + 0.5 * (got is not None and got.stance == lb.claim.stance)
    return hits / len(labels)


def split_holdout(labels: list[Label], share: float) -> tuple[list[Label], list[Label]]:
    """Train and held-out labels, split by a hash of the claim id so a claim stays on one side across runs."""
    def held(lb: Label) -> bool:
        h = int(hashlib.sha1(lb.claim.claim_id.encode()).hexdigest()[:8], 16)
        return h / 0xFFFFFFFF < share

    train = [lb for lb in labels if not held(lb)]
    hold = [lb for lb in labels if held(lb)]
    return train, hold


@dataclass
class Backend:
    """The state behind the web app: the served model, the retrain hook and the training history."""

    model: ModelVersion
    retrain: Retrain | None = None
    cfg: StudioConfig = field(default_factory=StudioConfig)
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    history: list[dict[str, Any]] = field(default_factory=list)
    new_annotations: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def training(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def count(self, route: str) -> None:
        self.calls[route] = self.calls.get(route, 0) + 1

    def setup(self, body: dict[str, Any]) -> dict[str, Any]:
        # Label Studio sends its address and the project owner's token; kept in memory only, for pulling labels.
        if not self.url and body.get("hostname"):
            self.url = str(body["hostname"]).rstrip("/")
        if not self.api_key and body.get("access_token"):
            self.api_key = str(body["access_token"])
        return {"model_version": self.model.version}

    def predict(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return predict_tasks(self.model, tasks)

    def webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        action = body.get("action")
        project = body.get("project") or {}
        pid = project.get("id") if isinstance(project, dict) else None
        if action in ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED"):
            self.new_annotations += 1
            if not (self.cfg.retrain_every and self.new_annotations >= self.cfg.retrain_every):
                return {"status": "counted", "new_annotations": self.new_annotations}
        elif action != "START_TRAINING":
            return {"status": "ignored", "action": action}
        if pid is None:
            return {"status": "error", "error": "webhook without project id"}
        if self.retrain is None:
            return {"status": "error", "error": "this backend was started without a retrain hook"}
        with self._lock:
            if self.training:
                return {"status": "busy", "model_version": self.model.version}
            self.new_annotations = 0
            self._thread = threading.Thread(target=self._train, args=(int(pid),), daemon=True)
            self._thread.start()
        return {"status": "training started", "model_version": self.model.version}

    def _train(self, project_id: int) -> None:
        entry: dict[str, Any] = {"project": project_id, "started": time.time(), "from": self.model.version}
        try:
            ls = client.connect(self.url, self.api_key, self.cfg.timeout)
            labels, errors = client.fetch_labels(ls, project_id)
            train, hold = split_holdout(labels, self.cfg.holdout)
            entry.update(labels=len(labels), train=len(train), holdout=len(hold), skipped=errors)
            if len(train) < max(1, self.cfg.min_annotations):
                raise StudioError(f"project {project_id} has {len(train)} training annotations, fewer than min_annotations")
            candidate = self.retrain(train)
            old, new = label_accuracy(self.model, hold), label_accuracy(candidate, hold)
            entry.update(candidate=candidate.version, holdout_current=old, holdout_candidate=new, accepted=new >= old)
            if new >= old:
                self.model = candidate
        except Exception as exc:  # a failed retrain must leave the served model running
            entry["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("retrain failed: %s", entry["error"])
        entry["seconds"] = round(time.time() - entry["started"], 2)
        self.history.append(entry)

    def wait(self, timeout: float = 60.0) -> None:
        """Block until a running retrain finishes (tests, graceful shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)


def _authorized(request: Request, secret: str) -> bool:
    token = request.headers.get("x-annotate-secret", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    elif auth.lower().startswith("basic "):
        # Label Studio's BASIC_AUTH for ML backends: the secret is the password.
        try:
            token = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[1]
        except (ValueError, IndexError, UnicodeDecodeError):
            token = ""
    return bool(token) and hmac.compare_digest(token.encode(), secret.encode())


def create_app(backend: Backend, secret: str | None = None) -> FastAPI:
    """The FastAPI app for `backend`; with a `secret`, every request must carry it."""
    app = FastAPI(title="annotate ML backend", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def check_secret(request: Request, call_next):
        if secret and not _authorized(request, secret):
            return JSONResponse({"error": "missing or wrong secret"}, status_code=401)
        backend.count(request.url.path)
        return await call_next(request)

    @app.get("/health")
    @app.get("/")
    def health() -> dict[str, Any]:
        return {"status": "UP", "model_class": "annotate", "model_version": backend.model.version,
                "training": backend.training, "calls": backend.calls}

    @app.post("/setup")
    async def setup(request: Request) -> dict[str, Any]:
        return backend.setup(await request.json())

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"results": backend.predict(body.get("tasks") or []), "model_version": backend.model.version}

    @app.post("/webhook")
    async def webhook(request: Request) -> dict[str, Any]:
        return backend.webhook(await request.json())

    @app.get("/versions")
    def versions() -> dict[str, Any]:
        return {"versions": [backend.model.version], "history": backend.history}

    return app


def check_bind(host: str, secret: str | None) -> None:
    """Refuse to listen beyond loopback without a shared secret."""
    if host not in LOOPBACK and not secret:
        raise StudioError(f"serving on {host} needs a shared secret; pass --secret (or ANNOTATE_STUDIO_SECRET) or bind 127.0.0.1")


def serving_model(model_dir: str | None = None) -> ModelVersion:
    """The project's configured labeler (fine-tuned model or rules) behind the scoring pipeline."""
    from ..annotator import Annotator, pipeline_config

    annotator = Annotator(pipeline_config(model_dir=model_dir), say=log.warning)
    return ModelVersion(annotator.name, annotator.score)


def classifier_retrain(train_cfg, output_root: str | os.PathLike) -> Retrain:
    """Retraining with `annotate train`: `train_cfg` plus the labels as extra examples, one folder per version.

    Each candidate is written under `output_root/<stamp>/` so a rejected candidate never replaces the
    served model's files; its version is the config's version with `+studio.<stamp>` appended.
    """
    from pathlib import Path

    def retrain(labels: list[Label]) -> ModelVersion:
        from .. import train as training
        from ..annotator import Annotator, pipeline_config
        from ..classify import ClassifierLabeler

        stamp = time.strftime("%Y%m%d%H%M%S") + f"{int(time.time() * 1000) % 1000:03d}"
        cfg = train_cfg.model_copy(update={"version": f"{train_cfg.version}+studio.{stamp}",
                                           "output_dir": str(Path(output_root) / stamp), "progress": False})
        out = training.train(cfg, [convert.task_example(lb.data, lb.claim) for lb in labels])
        annotator = Annotator(pipeline_config(), ClassifierLabeler(out))
        return ModelVersion(annotator.name, annotator.score)

    return retrain


def serving_retrain(model_dir: str | None = None) -> Retrain | None:
    """Retraining with configs/train.yaml (continuing from `model_dir` when it holds a model), or None without `annotate.train`."""
    try:
        from .. import train as training
    except ImportError:
        return None
    from pathlib import Path

    cfg = training.load_config()
    if model_dir and (Path(model_dir) / "config.json").exists():
        cfg = cfg.model_copy(update={"init_from": str(model_dir)})
    return classifier_retrain(cfg, training.output_root(cfg) / "studio")


def serve(port: int | None = None, host: str | None = None, model_dir: str | None = None, secret: str | None = None,
          config: StudioConfig | None = None, say: Callable[[str], None] = lambda m: None) -> None:
    """Run the backend with the project's labeler (and `annotate train` for retraining) until interrupted."""
    import uvicorn

    cfg = config or client.load_config()
    host, port = host or cfg.host, port or cfg.port
    secret = secret or os.environ.get("ANNOTATE_STUDIO_SECRET") or None
    check_bind(host, secret)
    model, retrain = serving_model(model_dir), serving_retrain(model_dir)
    backend = Backend(model, retrain, cfg, url=os.environ.get("LABEL_STUDIO_URL"), api_key=os.environ.get("LABEL_STUDIO_API_KEY"))
    say(f"serving {model.version} on http://{host}:{port} (retraining {'on' if retrain else 'off: annotate.train missing'}"
        f"{', secret required' if secret else ''})")
    uvicorn.run(create_app(backend, secret), host=host, port=port, log_level="warning")
