"""Behavioural probes: the plain patterns of news prose, scored through the whole pipeline (annotate/probes.py).

The shared probes (`../shared/spec/probes.jsonl`) must all pass and the project's own (`tests/behaviour/`) at least
95%, with the rules and with the default fine-tuned model (skipped, with the reason, where it is not trained).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate import probes

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "spec" / "probes.jsonl"
OWN = ROOT / "tests" / "behaviour" / "probes.jsonl"
MIN_PASS_RATE = 0.95


def labelers() -> list:
    from annotate.annotator import has_model, pipeline_config

    model = Path(pipeline_config().model_dir)
    return [pytest.param("rules", id="rules"),
            pytest.param("model", id="model", marks=pytest.mark.skipif(
                not has_model(model), reason=f"no trained model in {model} (`annotate train` writes it)"))]


def make(kind: str):
    from annotate.annotator import load_labeler, pipeline_config

    return load_labeler(pipeline_config(labeler=kind))


def test_the_project_probes_are_well_formed():
    ps = probes.load(OWN)
    assert len(ps) >= 200 and len({p["id"] for p in ps}) == len(ps)
    assert len({p["cat"] for p in ps}) >= 6
    for p in ps:
        if "variant" in p:
            assert p["claim"] in p["text"] and p["claim"] in p["variant"], p["id"]
            assert p["direction"] in ("stance_not_up", "not_fact_to_opinion"), p["id"]
        else:
            assert p["expect"] and all(e["claim"] in p["text"] for e in p["expect"]), p["id"]
    groups = [p["group"] for p in ps if p.get("group")]
    assert all(groups.count(g) >= 2 for g in groups)


def test_a_failing_expectation_is_reported_with_the_claim():
    """The checker is not vacuous: a wrong expectation fails with a message naming the claim."""
    from annotate.rules import RuleLabeler

    probe = {"id": "x", "cat": "stance", "text": "The army said the strike killed 12 militants.",
             "expect": [{"claim": "killed 12 militants", "stance": "sceptical", "source": "navy"}]}
    rep = probes.run([probe], RuleLabeler())
    assert rep.passed == 0 and "stance neutral (expected sceptical)" in rep.failures["x"][0]
    assert any("expected 'navy'" in f for f in rep.failures["x"])


@pytest.mark.skipif(not SHARED.exists(), reason=f"{SHARED} is absent")
@pytest.mark.parametrize("kind", labelers())
def test_every_shared_probe_passes(kind):
    rep = probes.run(probes.load(SHARED), make(kind))
    assert rep.failures == {}, json.dumps(rep.failures, indent=1)


@pytest.mark.parametrize("kind", labelers())
def test_the_project_probes_pass(kind):
    rep = probes.run(probes.load(OWN), make(kind))
    print(probes.format_report(rep, f"tests/behaviour/probes.jsonl ({kind})"))
    assert rep.pass_rate >= MIN_PASS_RATE, json.dumps(rep.failures, indent=1)
