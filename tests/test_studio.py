"""The labeling loop against a real Label Studio server (the `studio_server` fixture): push, pull, serve, retrain, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import LS_USER, free_port
from label_studio_sdk.label_interface import LabelInterface

from annotate.errors import StudioError
from annotate.model import Claim, Document
from annotate.studio import client, convert
from annotate.studio.backend import (
    Backend,
    ModelVersion,
    check_bind,
    classifier_retrain,
    create_app,
)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.studio


# --- fixtures ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rules_model():
    """The project's scoring pipeline with the rule labeler, as a servable model."""
    from annotate.annotator import load_labeler, pipeline_config, score_documents

    cfg = pipeline_config(labeler="rules")
    labeler = load_labeler(cfg)
    return ModelVersion(labeler.name, lambda docs: score_documents(docs, labeler, cfg))


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, rules_model):
    """`annotate score` of the five seed articles with the rule labeler: RUN_DIR/claims.jsonl + documents.jsonl."""
    from annotate.annotator import Annotator, pipeline_config
    from annotate.score import score_paths

    cfg = pipeline_config(labeler="rules")
    out = tmp_path_factory.mktemp("run") / "seeds"
    score_paths([ROOT / "corpus"], out, Annotator(cfg), progress=False)
    return out


@pytest.fixture(scope="module")
def run_data(seed_run):
    docs = {r["id"]: r["text"] for r in map(json.loads, (seed_run / "documents.jsonl").read_text().splitlines())}
    claims = [json.loads(line) for line in (seed_run / "claims.jsonl").read_text().splitlines()]
    return docs, claims


@pytest.fixture(scope="module")
def ls(studio_server):
    return client.connect(studio_server.url, studio_server.api_key)


@pytest.fixture(scope="module")
def pushed(studio_server, seed_run):
    """The seed run pushed once into project "seeds" (acceptance 1 checks this push)."""
    return client.push_run(seed_run, "seeds", studio_server.url, studio_server.api_key, strategy="uncertainty", batch_size=40)


def project_tasks(ls, pid: int) -> list:
    return sorted(ls.tasks.list(project=pid, fields="all", page_size=500), key=lambda t: t.id)


class ServedBackend:
    """`create_app(backend)` served by uvicorn on a free loopback port in a background thread."""

    def __init__(self, backend: Backend, secret: str | None = None):
        self.backend = backend
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(backend, secret), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "backend did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.backend.wait(120)
        self.server.should_exit = True
        self.thread.join(10)


def annotate_task(ls, task, change) -> dict:
    """Submit an annotation for `task` that starts from its first prediction, changed by `change(result)`."""
    pred = task.predictions[0]
    result = json.loads(json.dumps([dict(r) for r in pred.result]))
    change(result)
    ls.annotations.create(id=task.id, result=result, parent_prediction=pred.id, lead_time=3.0)
    return result


def set_choice(name, value):
    def change(result):
        for r in result:
            if r.get("from_name") == name:
                r["value"]["choices"] = [value]
    return change


# --- 1. push ------------------------------------------------------------------------------------------------

def test_push_makes_one_task_per_claim_with_a_valid_prediction_and_is_idempotent(ls, studio_server, seed_run, run_data, pushed):
    docs, claims = run_data
    wanted = {c["claim_id"]: c for c in claims if c["type"] != "other"}
    assert len(wanted) > 50 and any(c["type"] == "other" for c in claims)
    assert pushed.created and pushed.imported == len(wanted) and pushed.skipped == 0 and pushed.errors == []
    assert pushed.batches == -(-len(wanted) // 40)

    project = ls.projects.get(id=pushed.project_id)
    interface = LabelInterface(project.label_config)
    tasks = project_tasks(ls, pushed.project_id)
    assert Counter(t.data["claim_id"] for t in tasks) == Counter(wanted.keys())
    for t in tasks:
        row, data = wanted[t.data["claim_id"]], t.data
        assert len(t.predictions) == 1
        pred = {"result": t.predictions[0].result, "score": t.predictions[0].score}
        assert interface.validate_prediction(pred, return_errors=True) == []
        assert t.predictions[0].model_version == row["model"]
        assert t.predictions[0].score == convert.confidence(Claim.from_row(row))
        # The task text is a slice of the document that holds the claim.
        text = docs[data["doc_id"]]
        assert text[data["offset"] : data["offset"] + len(data["text"])] == data["text"]
        assert data["text"][data["claim_start"] : data["claim_end"]] == row["text"]
    # Least confident first: import order follows the prediction score.
    scores = [t.predictions[0].score for t in tasks if t.predictions[0].score is not None]
    assert scores == sorted(scores) and len(set(scores)) > 1

    again = client.push_run(seed_run, "seeds", studio_server.url, studio_server.api_key)
    assert (again.created, again.imported, again.skipped) == (False, 0, len(wanted))
    assert len(project_tasks(ls, pushed.project_id)) == len(wanted)


# --- 2. pull ------------------------------------------------------------------------------------------------

def test_pull_returns_the_human_corrections_with_document_offsets(ls, studio_server, pushed, run_data, tmp_path):
    docs, _ = run_data
    tasks = [t for t in project_tasks(ls, pushed.project_id) if not t.annotations]
    sourced = [t for t in tasks if any(r.get("id") == convert.SOURCE_ID for r in t.predictions[0].result)]
    flip = {"endorse": "sceptical", "neutral": "sceptical", "sceptical": "neutral"}

    # (a) a changed stance, (b) a source span moved to its last word, (c) a prediction accepted as it is.
    t_a = next(t for t in tasks if any(r.get("from_name") == "stance" for r in t.predictions[0].result))
    old_stance = next(r["value"]["choices"][0] for r in t_a.predictions[0].result if r.get("from_name") == "stance")
    annotate_task(ls, t_a, set_choice("stance", flip[old_stance]))
    t_b = next(t for t in sourced if t.id != t_a.id and " " in next(r["value"]["text"] for r in t.predictions[0].result if r.get("id") == "source"))

    def move_source(result):
        for r in result:
            if r.get("id") == convert.SOURCE_ID:
                v = r["value"]
                cut = v["text"].rindex(" ") + 1
                v["start"], v["text"] = v["start"] + cut, v["text"][cut:]  # no astral characters in the seeds

    annotate_task(ls, t_b, move_source)
    t_c = next(t for t in tasks if t.id not in (t_a.id, t_b.id))
    annotate_task(ls, t_c, lambda result: None)

    out = tmp_path / "labels" / "studio.jsonl"
    report = client.pull_labels("seeds", out, studio_server.url, studio_server.api_key)
    rows = {r["claim_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert report.labels == 3 == len(rows) and report.tasks == 3 and report.errors == []
    for row in rows.values():
        text = docs[row["doc_id"]]
        for span in (row, row["source"], row["cue"]):
            if span:
                assert text[span["start"] : span["end"]] == span["text"]
        assert row["annotation"]["annotator"] == LS_USER and row["annotation"]["created_at"]
        assert row["model"] == f"human:{LS_USER}"

    a, b, c = rows[t_a.data["claim_id"]], rows[t_b.data["claim_id"]], rows[t_c.data["claim_id"]]
    assert a["stance"] == flip[old_stance] and a["prediction"]["id"] == t_a.predictions[0].id
    assert a["prediction"]["model_version"] == t_a.predictions[0].model_version
    pred_src = next(r["value"] for r in t_b.predictions[0].result if r.get("id") == "source")
    doc_end = t_b.data["offset"] + pred_src["end"]
    assert b["source"]["end"] == doc_end and b["source"]["text"] == pred_src["text"].rsplit(" ", 1)[1]
    assert b["source"]["start"] == doc_end - len(b["source"]["text"])
    assert c["stance"] == next((r["value"]["choices"][0] for r in t_c.predictions[0].result if r.get("from_name") == "stance"), None)
    # Each annotation differs from its prediction in at most one field.
    assert report.agreement["n"] == 3 and report.agreement["all"] == pytest.approx(1 / 3, abs=1e-3)
    assert report.agreement["stance"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.agreement["source_span"] == pytest.approx(2 / 3, abs=1e-3)
    assert report.agreement["type"] == 1.0


# --- 3. serve -----------------------------------------------------------------------------------------------

@pytest.fixture()
def serve_process(tmp_path):
    """`annotate studio serve` as its own process on a free port (rule labeler: the model dir is empty)."""
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "annotate.cli", "studio", "serve", "--port", str(port),
                             "--model", str(tmp_path / "no-model")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    try:
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.time() < deadline, "annotate studio serve did not come up"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_label_studio_calls_the_backend_and_shows_its_predictions(ls, seed_run, serve_process):
    run, _ = client.read_run(seed_run)
    tasks = client.build_tasks(run[:1])[:5]
    xml = client.label_config_xml(client.load_config())
    project, _ = client.ensure_project(ls, "seeds-backend", xml)
    # Tasks without pre-annotations, so every prediction on them must come from the backend.
    ls.projects.import_tasks(id=project.id, request=[{"data": t["data"]} for t in tasks])
    version = httpx.get(f"{serve_process}/health").json()["model_version"]
    ls.ml.create(project=project.id, url=serve_process, title="annotate", is_interactive=True)
    assert httpx.get(f"{serve_process}/health").json()["calls"].get("/setup", 0) >= 1  # checked when added
    ids = [t.id for t in project_tasks(ls, project.id)]
    ls.actions.create(id="retrieve_tasks_predictions", project=project.id, selected_items={"all": False, "included": ids})
    assert httpx.get(f"{serve_process}/health").json()["calls"].get("/predict", 0) >= 1
    interface = LabelInterface(xml)
    got = project_tasks(ls, project.id)
    assert len(got) == 5
    for t in got:
        assert [p.model_version for p in t.predictions] == [version]
        pred = {"result": t.predictions[0].result, "score": t.predictions[0].score}
        assert interface.validate_prediction(pred, return_errors=True) == []
        region = next(r["value"] for r in pred["result"] if r.get("id") == convert.CLAIM_ID)
        assert region["start"] < t.data["claim_end"] and region["end"] > t.data["claim_start"]


# --- 4. retrain ---------------------------------------------------------------------------------------------

def small_train_config(tmp: Path):
    """A small, fast `annotate train` configuration: the pretrained MiniLM on the pulled labels alone."""
    from annotate.train import TrainConfig

    return TrainConfig(name="studio-test", version="0.1", gold=None, voa={"labels": None}, corpora={}, base_epochs=0,
                       span={"enabled": False},
                       calibration={"enabled": False}, epochs=2, batch_size=8, max_length=96, lr=1e-4, head_lr=5e-3,
                       threads=2, progress=False, output_dir=str(tmp))


def wait_for_history(backend: Backend, n: int, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while len(backend.history) < n:
        assert time.time() < deadline, f"no retrain finished within {timeout} s (calls: {backend.calls})"
        time.sleep(0.2)
    return backend.history[n - 1]


def test_training_from_label_studio_switches_the_model_version(ls, studio_server, seed_run, rules_model, tmp_path):
    report = client.push_run(seed_run, "seeds-train", studio_server.url, studio_server.api_key, strategy="all")
    tasks = project_tasks(ls, report.project_id)

    def choice(t, name):
        return next((r["value"]["choices"][0] for r in t.predictions[0].result if r.get("from_name") == name), None)

    # Annotators find 12 reports the rules call neutral sceptical instead (the guide keeps the author's facts neutral).
    human = {t.data["claim_id"]: t for t in [t for t in tasks if choice(t, "stance") == "neutral"
                                             and choice(t, "type") == "attributed"][:12]}
    for t in human.values():
        annotate_task(ls, t, set_choice("stance", "sceptical"))
    assert len(human) == 12

    cfg = client.StudioConfig(holdout=0.3, min_annotations=3)
    backend = Backend(rules_model, classifier_retrain(small_train_config(tmp_path / "models"), tmp_path / "models"), cfg)
    with ServedBackend(backend) as srv:
        ml = ls.ml.create(project=report.project_id, url=srv.url, title="annotate", is_interactive=False)
        ls.ml.train(id=ml.id)  # Label Studio posts START_TRAINING to /webhook
        first = wait_for_history(backend, 1)
        assert srv.backend.calls.get("/webhook") == 1 and "error" not in first, first
        assert first["labels"] == 12 and first["train"] + first["holdout"] == 12 and first["holdout"] >= 1
        # The rules get every held-out stance wrong; the retrained model has learned the correction.
        assert first["holdout_current"] == 0.5 and first["holdout_candidate"] > 0.5 and first["accepted"]
        new_version = backend.model.version
        assert new_version == first["candidate"] and new_version.startswith("studio-test-0.1+studio.")
        assert list((tmp_path / "models").glob("*/studio-test/config.json"))

        # The next predictions Label Studio asks for carry the new version.
        ids = [t.id for t in human.values()]
        ls.actions.create(id="retrieve_tasks_predictions", project=report.project_id, selected_items={"all": False, "included": ids})
        stances = []
        for t in project_tasks(ls, report.project_id):
            if t.id in ids:
                newest = [p for p in t.predictions if p.model_version == new_version]
                assert len(newest) == 1, [p.model_version for p in t.predictions]
                stances.append(convert.result_claim(t.data, newest[0].result).stance)
        assert stances.count("sceptical") >= 10, stances

        # A candidate that does worse on the held-out labels is not switched to.
        backend.retrain = lambda labels: ModelVersion("worse", lambda docs: [Document(d.id, d.text) for d in docs])
        ls.ml.train(id=ml.id)
        second = wait_for_history(backend, 2)
        assert second["candidate"] == "worse" and not second["accepted"] and backend.model.version == new_version
        assert httpx.get(f"{srv.url}/health").json()["model_version"] == new_version


# --- 5. errors ----------------------------------------------------------------------------------------------

def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


def test_server_down_wrong_key_and_unknown_project_say_what_to_do(studio_server, seed_run, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    t0 = time.time()
    with pytest.raises(StudioError) as err:
        client.push_run(seed_run, "seeds-x", down, studio_server.api_key)
    assert time.time() - t0 < 10
    msg = one_line(err)
    assert down in msg and "not reachable" in msg and "--url" in msg

    wrong = "0" * 40
    with pytest.raises(StudioError) as err:
        client.pull_labels("seeds", tmp_path / "x.jsonl", studio_server.url, wrong)
    msg = one_line(err)
    assert "refused the API key" in msg and "--api-key" in msg and wrong not in msg

    with pytest.raises(StudioError) as err:
        client.pull_labels("no-such-project", tmp_path / "x.jsonl", studio_server.url, studio_server.api_key)
    msg = one_line(err)
    assert "no project named 'no-such-project'" in msg and "--project" in msg
    assert not (tmp_path / "x.jsonl").exists()

    with pytest.raises(StudioError) as err:
        client.connect(studio_server.url, "")
    assert "LABEL_STUDIO_API_KEY" in one_line(err)


def test_a_label_config_that_no_longer_fits_is_refused_before_and_by_the_server(ls, studio_server, seed_run, pushed, tmp_path):
    xml = (ROOT / "labels" / "label_config.xml").read_text()
    broken = tmp_path / "label_config.xml"
    broken.write_text(xml.replace('name="stance"', 'name="author_stance"'))
    cfg = client.StudioConfig(label_config=str(broken))
    with pytest.raises(StudioError) as err:
        client.push_run(seed_run, "seeds-broken", studio_server.url, studio_server.api_key, config=cfg)
    msg = one_line(err)
    assert str(broken) in msg and "stance" in msg and "convert.py" in msg
    assert client.find_project(ls, "seeds-broken") is None  # nothing was sent

    # Label Studio itself refuses a config whose controls no longer fit the project's annotations.
    task = next(t for t in project_tasks(ls, pushed.project_id) if any(r.get("from_name") == "stance" for r in t.predictions[0].result))
    annotate_task(ls, task, lambda r: None)
    with pytest.raises(StudioError) as err:
        client.ensure_project(ls, "seeds", broken.read_text())
    msg = one_line(err)
    assert "400" in msg and "stance" in msg and "new --project" in msg
    assert "author_stance" not in ls.projects.get(id=pushed.project_id).label_config


def test_an_interrupted_push_completes_on_rerun_without_duplicates(ls, studio_server, seed_run, run_data):
    _, claims = run_data
    wanted = sorted(c["claim_id"] for c in claims if c["type"] != "other")

    def stop_after_first(done, total):
        if done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.push_run(seed_run, "seeds-resume", studio_server.url, studio_server.api_key, batch_size=25, on_batch=stop_after_first)
    project = client.get_project(ls, "seeds-resume")
    assert len(project_tasks(ls, project.id)) == 25

    done = client.push_run(seed_run, "seeds-resume", studio_server.url, studio_server.api_key, batch_size=25)
    assert (done.created, done.skipped, done.imported) == (False, 25, len(wanted) - 25)
    assert sorted(t.data["claim_id"] for t in project_tasks(ls, project.id)) == wanted


def test_bad_run_records_are_reported_and_the_rest_is_pushed(ls, studio_server, seed_run, tmp_path):
    bad = tmp_path / "bad-run"
    bad.mkdir()
    (bad / "documents.jsonl").write_text((seed_run / "documents.jsonl").read_text())
    lines = (seed_run / "claims.jsonl").read_text().splitlines()
    shifted = json.loads(lines[3])
    shifted["start"] += 1  # its text no longer matches the document
    body = [lines[0], "{not json", json.dumps(shifted)] + lines[4:]
    (bad / "claims.jsonl").write_text("\n".join(body) + "\n")
    report = client.push_run(bad, "seeds-bad", studio_server.url, studio_server.api_key)
    assert len(report.errors) == 2
    assert report.errors[0].startswith(f"{bad / 'claims.jsonl'}:2: not JSON")
    assert report.errors[1].startswith(f"{bad / 'claims.jsonl'}:3: bad claim") and "does not match" in report.errors[1]
    good = [json.loads(x) for x in [lines[0]] + lines[4:]]
    assert report.imported == sum(c["type"] != "other" for c in good)


def test_backend_needs_a_secret_beyond_loopback_and_checks_it(rules_model):
    with pytest.raises(StudioError) as err:
        check_bind("0.0.0.0", None)
    assert "--secret" in one_line(err)
    check_bind("127.0.0.1", None)
    with ServedBackend(Backend(rules_model), secret="s3cret") as srv:
        assert httpx.get(f"{srv.url}/health").status_code == 401
        assert httpx.get(f"{srv.url}/health", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(f"{srv.url}/health", headers={"Authorization": "Bearer s3cret"}).json()["status"] == "UP"
        # Label Studio's BASIC_AUTH option sends the secret as the password.
        assert httpx.get(f"{srv.url}/health", auth=("ls", "s3cret")).status_code == 200


def test_every_n_new_annotations_starts_a_retrain(studio_server, pushed, rules_model):
    seen = []

    def retrain(labels):
        seen.append(sorted(lb.claim.claim_id for lb in labels))
        return ModelVersion("counted-1", rules_model.score)

    cfg = client.StudioConfig(retrain_every=2, holdout=0.0)
    backend = Backend(rules_model, retrain, cfg, url=studio_server.url, api_key=studio_server.api_key)
    event = {"action": "ANNOTATION_CREATED", "project": {"id": pushed.project_id}}
    assert backend.webhook({"action": "TASKS_DELETED", "project": {"id": pushed.project_id}})["status"] == "ignored"
    assert backend.webhook(event) == {"status": "counted", "new_annotations": 1}
    assert backend.webhook(event)["status"] == "training started"
    backend.wait(120)
    labels, _ = client.fetch_labels(client.connect(studio_server.url, studio_server.api_key), pushed.project_id)
    assert seen == [sorted(lb.claim.claim_id for lb in labels)] and len(seen[0]) >= 3
    assert backend.model.version == "counted-1" and backend.new_annotations == 0
