"""Label Studio server use through label-studio-sdk 2.x: connect, ensure a project, push a run, pull labels.

Every SDK or network failure leaves this module as a one-line `StudioError` that says what to do.
The API key is only ever held in memory: it is never written to a file, a report or a log line.
"""

from __future__ import annotations

import json
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.label_interface import LabelInterface
from pydantic import BaseModel, ConfigDict

from .. import config as config_io
from ..errors import StudioError
from ..model import Claim, Document
from . import convert


class StudioConfig(BaseModel):
    """configs/studio.yaml: the labeling interface, push/pull settings and the ML backend."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default
    label_config: str = "labels/label_config.xml"
    context_window: int = 1
    batch_size: int = 50
    strategy: Literal["uncertainty", "random", "all"] = "uncertainty"
    seed: int = 0
    timeout: float = 60.0
    host: str = "127.0.0.1"
    port: int = 9090
    retrain_every: int = 0
    min_annotations: int = 1
    holdout: float = 0.25


def load_config(path: str | Path = "studio.yaml", **overrides) -> StudioConfig:
    """configs/studio.yaml (or `path`) as a `StudioConfig`, with keyword overrides."""
    return config_io.load(path, StudioConfig, **overrides)


def label_config_xml(cfg: StudioConfig) -> str:
    """The labeling interface XML named by the config: a path relative to the project, else the copy shipped with
    the package."""
    path = Path(cfg.label_config)
    if not path.is_absolute() and not path.exists():
        path = config_io.resolve(path)
        if not path.exists():
            path = config_io.package_file(path.name)
    try:
        xml = path.read_text(encoding="utf-8")
        LabelInterface(xml)
    except OSError as exc:
        raise StudioError(f"{path}: cannot read the label config ({exc.strerror}); fix label_config in configs/studio.yaml") from None
    except Exception as exc:  # the SDK raises bare parser errors on malformed XML
        raise StudioError(f"{path}: not a valid Label Studio config ({str(exc).splitlines()[0]}); fix the XML") from None
    return xml


@contextmanager
def api_errors(url: str, what: str) -> Iterator[None]:
    """Turn SDK and network failures while doing `what` into one-line StudioErrors."""
    try:
        yield
    except StudioError:
        raise
    except (httpx.ConnectError, httpx.RemoteProtocolError):
        raise StudioError(
            f"Label Studio at {url} is not reachable ({what}); start it or pass the right --url / LABEL_STUDIO_URL"
        ) from None
    except httpx.TimeoutException:
        raise StudioError(f"Label Studio at {url} timed out ({what}); check the server or raise timeout in configs/studio.yaml") from None
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise StudioError(
                f"Label Studio at {url} refused the API key ({exc.status_code}, {what}); "
                "pass the token from Account & Settings with --api-key or LABEL_STUDIO_API_KEY"
            ) from None
        raise StudioError(f"Label Studio at {url} answered {exc.status_code} ({what}): {_detail(exc.body)}") from None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _detail(body: Any, limit: int = 240) -> str:
    """The server's complaint on one line: its validation errors, else its detail, else the body."""
    if isinstance(body, dict):
        body = body.get("validation_errors") or body.get("detail") or body
    text = " ".join(" ".join(_strings(body)).split()) if not isinstance(body, str) else " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def connect(url: str | None = None, api_key: str | None = None, timeout: float = 60.0) -> LabelStudio:
    """A client for the server at `url` (or LABEL_STUDIO_URL), checked by asking who the key belongs to."""
    url = (url or os.environ.get("LABEL_STUDIO_URL") or "").rstrip("/")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url:
        raise StudioError("no Label Studio URL; pass --url or set LABEL_STUDIO_URL (e.g. http://127.0.0.1:8080)")
    if not api_key:
        raise StudioError("no Label Studio API key; pass --api-key or set LABEL_STUDIO_API_KEY")
    # No retries: a refused connection should fail at once, not after back-off.
    ls = LabelStudio(base_url=url, api_key=api_key, timeout=timeout, max_retries=0)
    with api_errors(url, "checking the API key"):
        ls.users.whoami()
    ls.url = url  # type: ignore[attr-defined]  # for error messages; the key is deliberately not kept
    return ls


def _url(ls: LabelStudio) -> str:
    return getattr(ls, "url", "the server")


def find_project(ls: LabelStudio, name: str):
    """The project titled `name`, or None."""
    with api_errors(_url(ls), "listing projects"):
        return next((p for p in ls.projects.list() if p.title == name), None)


def get_project(ls: LabelStudio, name: str):
    """The project titled `name`; a StudioError naming the existing projects when there is none."""
    project = find_project(ls, name)
    if project is None:
        with api_errors(_url(ls), "listing projects"):
            titles = sorted(p.title or "" for p in ls.projects.list())
        known = ", ".join(repr(t) for t in titles[:10]) or "none"
        raise StudioError(f"no project named {name!r} on {_url(ls)} (existing: {known}); check --project or push a run first")
    return project


def ensure_project(ls: LabelStudio, name: str, xml: str, strategy: str = "uncertainty"):
    """The project titled `name`, created with `xml` or updated to it; returns (project, created)."""
    # Label Studio serves tasks by lowest prediction score itself under uncertainty sampling.
    sampling = "Uncertainty sampling" if strategy == "uncertainty" else "Sequential sampling"
    project = find_project(ls, name)
    url = _url(ls)
    if project is None:
        with api_errors(url, f"creating project {name!r}"):
            return ls.projects.create(title=name, label_config=xml, sampling=sampling), True
    if (project.label_config or "").strip() != xml.strip() or project.sampling != sampling:
        try:
            with api_errors(url, f"updating the label config of project {name!r}"):
                project = ls.projects.update(id=project.id, label_config=xml, sampling=sampling)
        except StudioError as exc:
            raise StudioError(
                f"{exc}; the project's existing annotations do not fit the new config: "
                "keep the control names they use or push to a new --project"
            ) from None
    return project, False


def existing_keys(ls: LabelStudio, project_id: int) -> set[str]:
    """The claim ids of the tasks already in the project (the stable task key)."""
    with api_errors(_url(ls), "listing tasks"):
        return {str(t.data.get("claim_id")) for t in ls.tasks.list(project=project_id, page_size=500) if t.data}


@dataclass
class PushReport:
    """What a push did: tasks imported and skipped, and records that could not be converted."""

    project: str
    project_id: int
    created: bool
    imported: int = 0
    skipped: int = 0
    batches: int = 0
    strategy: str = "uncertainty"
    errors: list[str] = field(default_factory=list)


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, f"not JSON ({exc.msg})"
                continue
            yield (n, row, None) if isinstance(row, dict) else (n, None, "not a JSON object")


def read_run(run_dir: str | Path) -> tuple[list[tuple[Document, list[Claim]]], list[str]]:
    """The documents of a scored run with their claims, and one-line errors for records that failed."""
    run = Path(run_dir)
    docs_path, claims_path = run / "documents.jsonl", run / "claims.jsonl"
    for p in (docs_path, claims_path):
        if not p.is_file():
            raise StudioError(f"{p}: not found; pass a run directory written by `annotate score`")
    errors: list[str] = []
    docs: dict[str, Document] = {}
    for n, row, err in _jsonl(docs_path):
        try:
            if err:
                raise ValueError(err)
            docs[row["id"]] = Document.from_record(row)
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(f"{docs_path}:{n}: {err or f'bad document record ({exc})'}; skipped")
    claims: dict[str, list[Claim]] = {d: [] for d in docs}
    for n, row, err in _jsonl(claims_path):
        try:
            if err:
                raise ValueError(err)
            claim = Claim.from_row(row)
            doc = docs.get(claim.doc_id)
            if doc is None:
                raise ValueError(f"document {claim.doc_id!r} is not in documents.jsonl")
            for span in (claim, claim.source, claim.cue):
                if span is not None and doc.text[span.start : span.end] != span.text:
                    raise ValueError(f"span {span.start}-{span.end} does not match the document text")
            claims[claim.doc_id].append(claim)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            errors.append(f"{claims_path}:{n}: {err or f'bad claim ({exc})'}; skipped")
    return [(docs[d], claims[d]) for d in docs], errors


def build_tasks(run: list[tuple[Document, list[Claim]]], window: int = 1) -> list[dict[str, Any]]:
    """One task with its prediction per claim that is not `other`, in document order."""
    tasks = []
    for doc, claims in run:
        bounds = convert.sentence_bounds(doc, claims)
        tasks.extend(convert.task(doc, c, bounds, window) for c in claims if c.type != "other")
    return tasks


def order_tasks(tasks: list[dict[str, Any]], strategy: str, seed: int = 0) -> list[dict[str, Any]]:
    """Tasks in labeling order: least confident first, shuffled, or as they come (`all`)."""
    if strategy == "uncertainty":
        # Predictions without a score go last: nothing says they are uncertain.
        return sorted(tasks, key=lambda t: (t["predictions"][0].get("score") is None, t["predictions"][0].get("score") or 0.0))
    if strategy == "random":
        tasks = list(tasks)
        random.Random(seed).shuffle(tasks)
        return tasks
    if strategy == "all":
        return list(tasks)
    raise StudioError(f"unknown strategy {strategy!r}; use uncertainty, random or all")


def check_predictions(xml: str, tasks: list[dict[str, Any]], where: str) -> None:
    """Raise a StudioError when the label config cannot hold a prediction (checked before anything is sent)."""
    interface = LabelInterface(xml)
    for t in tasks:
        errs = interface.validate_prediction(t["predictions"][0], return_errors=True)
        if errs:
            raise StudioError(
                f"{where} does not match the predictions (claim {t['data']['claim_id']}: {errs[0]}); "
                "restore the control names and choices that annotate/studio/convert.py writes, or update both"
            )


def push_run(
    run_dir: str | Path,
    project: str,
    url: str | None = None,
    api_key: str | None = None,
    strategy: str | None = None,
    batch_size: int | None = None,
    config: StudioConfig | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> PushReport:
    """Import a scored run's claims as tasks with pre-annotations; tasks whose claim id exists are skipped.

    `on_batch(done, total)` is called after each imported batch (progress; an exception there
    stops the push, and a re-run imports only what is missing).
    """
    cfg = config or load_config()
    strategy = strategy or cfg.strategy
    batch_size = batch_size or cfg.batch_size
    xml = label_config_xml(cfg)
    run, errors = read_run(run_dir)
    tasks = order_tasks(build_tasks(run, cfg.context_window), strategy, cfg.seed)
    check_predictions(xml, tasks, cfg.label_config)
    ls = connect(url, api_key, cfg.timeout)
    proj, created = ensure_project(ls, project, xml, strategy)
    have = existing_keys(ls, proj.id)
    todo = [t for t in tasks if t["data"]["claim_id"] not in have]
    report = PushReport(project, proj.id, created, skipped=len(tasks) - len(todo), strategy=strategy, errors=errors)
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        with api_errors(_url(ls), f"importing tasks {i + 1}-{i + len(batch)} into {project!r}"):
            ls.projects.import_tasks(id=proj.id, request=batch, return_task_ids=True)
        report.imported += len(batch)
        report.batches += 1
        if on_batch:
            on_batch(report.imported, len(todo))
    return report


@dataclass
class Label:
    """One human annotation of a task, as a claim with document offsets, and the prediction it started from."""

    claim: Claim
    data: dict[str, Any]
    annotation: dict[str, Any]
    prediction: Claim | None = None
    prediction_meta: dict[str, Any] | None = None

    def to_row(self) -> dict[str, Any]:
        """The output-schema row of the labelled claim plus who annotated it, when, and what it corrected."""
        return {**self.claim.to_row(), "annotation": self.annotation, "prediction": self.prediction_meta}


def export_tasks(ls: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    """All annotated tasks of a project in Label Studio's JSON export format."""
    with api_errors(_url(ls), "exporting annotations"):
        raw = b"".join(ls.projects.exports.download_sync(id=project_id, export_type="JSON"))
    return json.loads(raw)


def fetch_labels(ls: LabelStudio, project_id: int) -> tuple[list[Label], list[str]]:
    """The project's submitted annotations as Labels, and one-line errors for those that cannot be read."""
    with api_errors(_url(ls), "listing users"):
        users = {u.id: u.email or u.username or str(u.id) for u in ls.users.list()}
    labels, errors = [], []
    for task in export_tasks(ls, project_id):
        data = task.get("data") or {}
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            where = f"task {task.get('id')} annotation {ann.get('id')}"
            annotator = users.get(ann.get("completed_by"), str(ann.get("completed_by")))
            try:
                if "claim_id" not in data:
                    raise ValueError("task has no claim_id (not pushed by annotate)")
                claim = convert.result_claim(data, ann.get("result") or [], model=f"human:{annotator}")
                pred = ann.get("prediction") or None
                predicted = convert.result_claim(data, pred.get("result") or [], model=pred.get("model_version") or "") if pred else None
            except (KeyError, TypeError, ValueError) as exc:
                errors.append(f"{where}: {exc}; skipped")
                continue
            meta = {
                "id": ann.get("id"),
                "task_id": task.get("id"),
                "annotator": annotator,
                "created_at": ann.get("created_at"),
                "updated_at": ann.get("updated_at"),
                "lead_time": ann.get("lead_time"),
                "ground_truth": bool(ann.get("ground_truth")),
            }
            pmeta = {"id": pred.get("id"), "model_version": pred.get("model_version"), "score": pred.get("score")} if pred else None
            labels.append(Label(claim, data, meta, predicted, pmeta))
    labels.sort(key=lambda lb: (lb.claim.doc_id, lb.claim.index, lb.annotation["id"] or 0))
    return labels, errors


@dataclass
class PullReport:
    """What a pull wrote, and how far the annotations agree with the predictions they started from."""

    project: str
    out: Path
    labels: int
    tasks: int
    agreement: dict[str, float | int]
    errors: list[str] = field(default_factory=list)


def pull_labels(
    project: str,
    out: str | Path,
    url: str | None = None,
    api_key: str | None = None,
    config: StudioConfig | None = None,
) -> PullReport:
    """Write the project's human annotations to `out` as output-schema JSONL rows with document offsets."""
    cfg = config or load_config()
    ls = connect(url, api_key, cfg.timeout)
    proj = get_project(ls, project)
    labels, errors = fetch_labels(ls, proj.id)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for lb in labels:
            fh.write(json.dumps(lb.to_row(), ensure_ascii=False) + "\n")
    tmp.replace(out)
    agree = convert.agreement((lb.claim, lb.prediction) for lb in labels if lb.prediction is not None)
    tasks = len({lb.annotation["task_id"] for lb in labels})
    return PullReport(project, out, len(labels), tasks, agree, errors)
