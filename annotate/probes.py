"""Behavioural probes (CheckList, Ribeiro et al. 2020): tiny articles with what any reader expects of their claims.

A probe file is JSONL. Minimum-functionality (MFT) and invariance (INV) probes are those of
`../shared/spec/probes.jsonl`: `text` and `expect`, a list of {claim (a substring), type, stance, source (a
substring of the source's canonical name or text), kind, not_source, has_target}; probes sharing a `group` must
also give the claim of their first expectation the same type and stance. Directional (DIR) probes add a `variant`
of the text and a `direction` for their `claim`: `stance_not_up` (the variant adds doubt: its stance is not more
endorsing) or `not_fact_to_opinion` (the variant drops an evaluative word: a fact does not become an opinion).
`run` scores every text with a labeler through the pipeline and returns the pass rate per category and capability
with every failure.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import Claim, Document

STANCE_ORDER = {"sceptical": 0, "neutral": 1, "endorse": 2}


def load(path: str | Path) -> list[dict[str, Any]]:
    """The probes of a JSONL file; a malformed line is an error naming it."""
    from .errors import InputError

    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}", f"not a probe ({exc.msg})") from None
    return out


def _covering(claims: list[Claim], text: str, words: str) -> Claim | None:
    """The claim overlapping `words` (their first occurrence in `text`) most."""
    s = text.index(words)
    t = s + len(words)
    best = max(claims, key=lambda c: max(0, min(t, c.end) - max(s, c.start)), default=None)
    return best if best is not None and min(t, best.end) - max(s, best.start) > 0 else None


def check(probe: dict[str, Any], claims: list[Claim]) -> tuple[list[str], tuple | None]:
    """The failed checks of an MFT/INV probe (empty when it passes) and the (type, stance) of its first expectation."""
    fails, first = [], None
    for e in probe["expect"]:
        c = _covering(claims, probe["text"], e["claim"])
        if c is None:
            fails.append(f"no claim covers {e['claim']!r}")
            continue
        if first is None:
            first = (c.type, c.stance)
        names = f"{c.source.canonical} {c.source.text}".lower() if c.source else ""
        for key in ("type", "stance"):
            if key in e and getattr(c, key) != e[key]:
                fails.append(f"{e['claim']!r}: {key} {getattr(c, key)} (expected {e[key]})")
        if "source" in e and e["source"].lower() not in names:
            fails.append(f"{e['claim']!r}: source {names.strip() or None!r} (expected {e['source']!r})")
        if "kind" in e and (c.source.kind if c.source else None) != e["kind"]:
            fails.append(f"{e['claim']!r}: source kind {c.source.kind if c.source else None} (expected {e['kind']})")
        if "not_source" in e and e["not_source"].lower() in names:
            fails.append(f"{e['claim']!r}: source {names.strip()!r} must not be {e['not_source']!r}")
        if e.get("has_target") and not c.target:
            fails.append(f"{e['claim']!r}: no target (it comments on an earlier claim)")
    return fails, first


def check_direction(probe: dict[str, Any], base: list[Claim], variant: list[Claim]) -> list[str]:
    """The failures of a directional probe."""
    a = _covering(base, probe["text"], probe["claim"])
    b = _covering(variant, probe["variant"], probe["claim"])
    if a is None or b is None:
        return [f"no claim covers {probe['claim']!r} in the {'text' if a is None else 'variant'}"]
    if probe["direction"] == "stance_not_up":
        if STANCE_ORDER.get(b.stance, 1) > STANCE_ORDER.get(a.stance, 1):
            return [f"{probe['claim']!r}: stance {a.stance} -> {b.stance} after adding doubt"]
    elif probe["direction"] == "not_fact_to_opinion":
        if a.type == "fact" and b.type == "opinion":
            return [f"{probe['claim']!r}: fact -> opinion after removing an evaluative word"]
    else:
        return [f"unknown direction {probe['direction']!r}"]
    return []


@dataclass
class ProbeReport:
    passed: int = 0
    total: int = 0
    per_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    per_capability: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    failures: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, cat: str, capability: str | None, fails: list[str]) -> None:
        self.total += 1
        self.passed += not fails
        for table, name in ((self.per_category, cat), (self.per_capability, capability or cat)):
            table[name][1] += 1
            table[name][0] += not fails
        if fails:
            self.failures[key] = fails

    @property
    def pass_rate(self) -> float:
        return self.passed / max(1, self.total)

    def to_dict(self) -> dict[str, Any]:
        fmt = lambda t: {k: f"{v[0]}/{v[1]}" for k, v in sorted(t.items())}  # noqa: E731
        return {"pass_rate": round(self.pass_rate, 4), "passed": self.passed, "total": self.total,
                "per_category": fmt(self.per_category), "per_capability": fmt(self.per_capability),
                "failures": self.failures}


def run(probes: list[dict[str, Any]], labeler, cfg=None) -> ProbeReport:
    """Score every probe text (and variant) with `labeler` through the pipeline and check the expectations."""
    from .annotator import score_documents

    texts = {}
    for p in probes:
        texts[f"{p['id']}"] = p["text"]
        if "variant" in p:
            texts[f"{p['id']}~variant"] = p["variant"]
    docs = score_documents([Document(id=k, text=t) for k, t in texts.items()], labeler, cfg)
    claims = {d.id: d.claims for d in docs}
    rep, groups = ProbeReport(), defaultdict(list)
    for p in probes:
        if "variant" in p:
            fails = check_direction(p, claims[p["id"]], claims[f"{p['id']}~variant"])
        else:
            fails, first = check(p, claims[p["id"]])
            if p.get("group"):
                groups[p["group"]].append(first)
        rep.add(p["id"], p.get("cat", "?"), p.get("capability"), fails)
    for g, outs in groups.items():
        same = [] if len(set(outs)) == 1 else [f"judgements differ across the group: {sorted(set(map(str, outs)))}"]
        rep.add(g, "invariance-groups", "invariance-groups", same)
    return rep


def format_report(rep: ProbeReport, name: str = "probes") -> str:
    """Failures, then the pass rate per category and capability."""
    d = rep.to_dict()
    lines = [f"FAIL {k}: " + "; ".join(v) for k, v in d["failures"].items()]
    lines.append(f"{name}: {d['passed']}/{d['total']} passed ({100 * d['pass_rate']:.1f}%)")
    lines.append("  per category: " + "  ".join(f"{k} {v}" for k, v in d["per_category"].items()))
    lines.append("  per capability: " + "  ".join(f"{k} {v}" for k, v in d["per_capability"].items()))
    return "\n".join(lines)
