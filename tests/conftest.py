"""Shared fixtures. Tests run offline; `studio_server` starts a real Label Studio on 127.0.0.1."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hashlib  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LS_BIN = Path(os.environ.get("ANNOTATE_LS_BIN") or ROOT / ".ls-venv" / "bin" / "label-studio")
LS_USER = "annotate-tests@example.com"


@dataclass
class StudioServer:
    """A running Label Studio: where it listens and the (per-session, in-memory) API key."""

    url: str
    api_key: str
    pid: int
    data_dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ls_env(data_dir: Path, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": LS_USER,
        "LABEL_STUDIO_PASSWORD": secrets.token_urlsafe(16),
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
    }


def _template() -> Path | None:
    """A data dir made once by `label-studio init` (migrations done), cached per server install."""
    st = LS_BIN.resolve().stat()
    key = hashlib.sha1(f"{LS_BIN.resolve()}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    tpl = Path.home() / ".cache" / "annotate" / f"ls-template-{key}"
    if (tpl / "label_studio.sqlite3").is_file():
        return tpl
    tpl.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ls-template-", dir=tpl.parent))
    # The template's own token is thrown away: each session writes a fresh one into its copy.
    proc = subprocess.run(
        [str(LS_BIN), "init", "-q", "--no-browser"],
        env=_ls_env(work, secrets.token_hex(20)),
        capture_output=True,
        timeout=600,
    )
    if proc.returncode != 0 or not (work / "label_studio.sqlite3").is_file():
        shutil.rmtree(work, ignore_errors=True)
        return None
    try:
        work.rename(tpl)
    except OSError:  # another session made it first
        shutil.rmtree(work, ignore_errors=True)
    return tpl


def _set_token(data_dir: Path, token: str) -> bool:
    db = sqlite3.connect(data_dir / "label_studio.sqlite3")
    try:
        with db:
            n = db.execute("UPDATE authtoken_token SET key = ?", (token,)).rowcount
        return n == 1
    finally:
        db.close()


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory):
    """A real Label Studio server on a free loopback port with a temporary data dir, stopped by PID."""
    if not LS_BIN.is_file():
        reason = f"Label Studio server not installed ({LS_BIN}); run .ci/run or set ANNOTATE_LS_BIN"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    token = secrets.token_hex(20)
    data_dir = tmp_path_factory.mktemp("label-studio")
    tpl = _template()
    if tpl is not None:
        shutil.copytree(tpl, data_dir, dirs_exist_ok=True)
        if not _set_token(data_dir, token):
            shutil.rmtree(data_dir)
            data_dir.mkdir()
    port = free_port()
    log = (data_dir.parent / "label-studio.log").open("wb")
    proc = subprocess.Popen(
        [str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)],
        env=_ls_env(data_dir, token),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Label Studio exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"Label Studio did not answer /health within 300 s; see {log.name}")
            time.sleep(0.5)
        yield StudioServer(url, token, proc.pid, data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


# --- the seed corpus, scored once per session with the rule labeler ------------------------------------------

@pytest.fixture(scope="session")
def seed_docs():
    """The five seed articles segmented, attributed and labeled by the rules, keyed by document id."""
    from annotate.annotator import score_documents
    from annotate.corpus import iter_documents
    from annotate.rules import RuleLabeler

    docs = list(iter_documents([ROOT / "corpus"]))
    return {d.id: d for d in score_documents(docs, RuleLabeler())}


def find_claim(doc, snippet):
    """The claim of `doc` whose text contains `snippet` (exactly one must)."""
    hits = [c for c in doc.claims if snippet in c.text]
    assert len(hits) == 1, f"{len(hits)} claims contain {snippet!r}: {[c.text for c in hits]}"
    return hits[0]
