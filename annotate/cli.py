"""The `annotate` command: a thin shell over the library. Each subcommand parses, calls one function, prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .errors import AnnotateError  # noqa: E402


def _say(msg: str) -> None:
    print(f"annotate: {msg}", file=sys.stderr)


def print_summary(summary: dict, report=None) -> None:
    """The short table `annotate score` prints at the end of a run."""
    lines = []
    if report is not None:
        lines.append(f"model        {report.model}")
        lines.append(f"documents    {report.documents} scored, {report.skipped} already done, {len(report.errors)} failed"
                     f"  ({report.seconds:.1f} s)")
    lines.append(f"segments     {summary['segments']} in {summary['documents']} documents")
    lines.append("types        " + "  ".join(f"{k} {v}" for k, v in sorted(summary["types"].items())))
    lines.append("stances      " + "  ".join(f"{k} {v}" for k, v in sorted(summary["stances"].items())))
    if summary["top_sources"]:
        lines.append("top sources")
        width = max(len(s["source"]) for s in summary["top_sources"])
        lines += [f"  {s['source']:<{width}}  {s['kind']:<9}  {s['claims']}" for s in summary["top_sources"]]
    print("\n".join(lines))


def cmd_score(args: argparse.Namespace) -> int:
    from .score import iter_claim_rows, load_labeler, pipeline_config, score_paths, summarize

    cfg = pipeline_config(args.config, labeler=args.labeler, model_dir=args.model)
    labeler = load_labeler(cfg, say=_say)
    _say(f"labeling with {labeler.name}")
    report = score_paths(args.paths, args.out, labeler, cfg, resume=args.resume, shard_docs=args.shard_docs,
                         progress=not args.quiet, engine=args.engine)
    for err in report.errors:
        _say(f"error: {err}")
    print_summary(summarize(iter_claim_rows(Path(args.out))), report)
    print(f"wrote {Path(args.out) / 'claims.jsonl'}")
    return 0 if report.documents or not report.errors else 1


def cmd_train(args: argparse.Namespace) -> int:
    from .train import load_config, train

    out = train(load_config(args.config, seed=args.seed, output_dir=args.output_dir))
    print(f"wrote {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_results

    results = evaluate(args.model, args.gold, config=args.config, out=args.out, seeds=not args.no_seeds,
                       corpora=not args.no_corpora, say=_say)
    print(format_results(results))
    print(f"wrote {results['written_to']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotate",
        description="Who claims what in news and analysis articles, and how the author treats each claim.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="segment, attribute and label articles into a run directory",
                       description="Score articles (.txt, .jsonl, .html files or folders of them) into OUT: "
                                   "claims.jsonl, documents.jsonl, Parquet shards, errors.jsonl.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="article files or folders")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--config", default="pipeline.yaml", help="pipeline config (default: configs/pipeline.yaml)")
    p.add_argument("--labeler", choices=["auto", "rules", "model"], help="override the config's labeler")
    p.add_argument("--model", help="fine-tuned model directory (default: the config's model_dir)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in OUT")
    p.add_argument("--shard-docs", type=int, default=256, help="documents per output shard (default 256)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process; ray: Ray Data actors on a local Ray or the cluster at RAY_ADDRESS")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("train", help="fine-tune the claim classifier into models/<name>/",
                       description="Fine-tune the type/stance classifier on labels/ and the public corpora.")
    p.add_argument("--config", default="train.yaml", help="training config (default: configs/train.yaml)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--output-dir", help="override the config's output_dir")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="fine-tuned model vs rules: per-label P/R/F1, macro-F1, confusion matrices",
                       description="Evaluate a trained model and the rule baseline side by side; writes JSON.")
    p.add_argument("--model", required=True, help="trained model directory (models/<name>)")
    p.add_argument("--gold", help="gold labels JSONL (default: the training config's gold)")
    p.add_argument("--config", default="train.yaml", help="training config for the leave-one-document-out folds")
    p.add_argument("--out", help="JSON output (default: <model>/evaluation.json)")
    p.add_argument("--no-seeds", action="store_true", help="skip the leave-one-document-out seed evaluation")
    p.add_argument("--no-corpora", action="store_true", help="skip CheckThat and PolNeAR")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AnnotateError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted; run again with --resume to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
