"""The package as users get it: no import cycles, a wheel that works outside the checkout, CLI and API agree."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "annotate"
TEXT = ("ISLAMABAD: The army said it killed five militants in a raid on Tuesday. The claim could not be "
        "independently verified.\n\nAnalysts say the new missiles give the navy a longer reach.")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every import between the package's modules, at module level or inside functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != mod and not (mod.startswith(t + ".") and modules[t].name == "__init__.py"):
                    graph[mod].add(t)
    return graph


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    assert "annotate.score" in graph and "annotate.rundir" in graph["annotate.score"]
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if n.startswith("annotate.") and n != "annotate":
                assert state.get(n) != 1, "import cycle: " + " -> ".join(path[path.index(n):] + [n])
                if n not in state:
                    visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # the layers named in the design: the run directory, gold data and training sit below their users
    for low, high in (("annotate.rundir", "annotate.score"), ("annotate.gold", "annotate.train"),
                      ("annotate.train", "annotate.evaluate"), ("annotate.annotator", "annotate.score")):
        assert low in graph[high] and high not in graph[low], (low, high)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_the_wheel_scores_outside_the_checkout_and_the_api_gives_the_cli_rows(tmp_path):
    """pip wheel, a fresh virtual environment (the machine's pinned torch and other dependencies visible to it),
    then `annotate score` and `annotate.load()` from an empty folder."""
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        ROOT, dict(os.environ))
    (wheel,) = wheels.glob("annotate-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANNOTATE_")}
    env.update(HF_HUB_OFFLINE="1", ANNOTATE_CACHE_DIR=str(tmp_path / "cache"), PYTHONNOUSERSITE="1")
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp_path, env)
    work = tmp_path / "empty"
    work.mkdir()
    (work / "a.txt").write_text(TEXT, encoding="utf-8")
    run([str(env_dir / "bin" / "annotate"), "score", "a.txt", "--out", "run", "--quiet"], work, env)
    cli_rows = [json.loads(line) for line in (work / "run" / "claims.jsonl").read_text().splitlines()]
    script = (
        "import json, annotate\n"
        "assert annotate.__file__.startswith(%r), annotate.__file__\n"
        "ann = annotate.load()\n"
        "doc = ann(open('a.txt').read(), id='a')\n"
        "piped = list(ann.pipe([{'id': 'a', 'text': open('a.txt').read()}, 'Officials said talks failed.']))\n"
        "assert [c.to_row() for c in piped[0].claims] == doc.to_rows()\n"
        "print(json.dumps({'rows': doc.to_rows(), 'second': piped[1].to_rows(), 'name': ann.name}))\n"
    ) % str(env_dir)
    out = json.loads(run([str(py), "-c", script], work, env).stdout)
    keep = ("claim_id", "start", "end", "type", "stance", "source", "cue", "target")
    assert [{k: r[k] for k in keep} for r in out["rows"]] == [{k: r[k] for k in keep} for r in cli_rows]
    army = next(r for r in out["rows"] if "killed five militants" in r["text"])
    assert army["type"] == "attributed" and "islamabad" not in army["source"]["text"].lower()
    assert any(r["type"] == "other" and r["text"].startswith("ISLAMABAD") for r in out["rows"])
    assert out["second"][0]["source"]["text"] == "Officials"
    version = run([str(env_dir / "bin" / "annotate"), "--version"], work, env).stdout
    assert version.startswith("annotate ") and str(tmp_path / "cache") in version
