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
    from .annotator import Annotator, pipeline_config
    from .rundir import iter_claim_rows
    from .score import score_paths, summarize

    annotator = Annotator(pipeline_config(args.config, labeler=args.labeler, model_dir=args.model), say=_say)
    _say(f"labeling with {annotator.name}")
    report = score_paths(args.paths, args.out, annotator, resume=args.resume, shard_docs=args.shard_docs,
                         progress=not args.quiet, engine=args.engine)
    for err in report.errors:
        _say(f"error: {err}")
    print_summary(summarize(iter_claim_rows(Path(args.out))), report)
    written = [Path(args.out) / "claims.jsonl"] + [p for p in [Path(args.out) / "report.html"] if p.exists()]
    print("wrote " + " and ".join(map(str, written)))
    return 0 if report.documents or not report.errors else 1


def cmd_report(args: argparse.Namespace) -> int:
    from .report import load_config, write_report

    files = write_report(args.run_dir, load_config(args.config, max_articles=args.max_articles))
    print(f"wrote {files.html}, {files.summary.name} and {', '.join(p.name for p in files.csvs.values())}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import load_config, train

    out = train(load_config(args.config, seed=args.seed, output_dir=args.output_dir))
    print(f"wrote {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_results

    if args.probes is not None:  # the probes alone, printed per capability
        from . import probes
        from .classify import ClassifierLabeler
        from .config import resolve
        from .evaluate import PROBES
        from .rules import RuleLabeler

        labeler = ClassifierLabeler(args.model) if args.model else RuleLabeler()
        paths = [Path(p) for p in args.probes] or [resolve(str(p)) for p in PROBES.values()]
        reports = [probes.run(probes.load(p), labeler) for p in paths]
        for p, rep in zip(paths, reports):
            print(probes.format_report(rep, f"{p} ({labeler.name})"))
        return 0 if all(r.pass_rate >= args.min_pass_rate for r in reports) else 1
    if not args.model:
        raise AnnotateError("evaluate needs --model (a trained model directory) unless --probes is given")
    results = evaluate(args.model, args.gold, config=args.config, out=args.out, topics=not args.no_topics,
                       seeds=not args.no_seeds, corpora=not args.no_corpora, say=_say)
    print(format_results(results))
    print(f"wrote {results['written_to']}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .annotator import pipeline_config
    from .bench import as_json, bench

    model_dir = Path(args.model or pipeline_config().model_dir)
    result = bench(args.docs, model_dir, baseline_claims=args.baseline_claims)
    if args.json:
        print(as_json(result))
        return 0
    print(f"synthetic corpus   {result.documents} documents, {result.claims} claims")
    print(f"annotate score     {result.claims_per_s:8.1f} claims/s  ({result.seconds:.1f} s run, {result.labeler}); "
          f"{result.end_to_end_claims_per_s:.1f} claims/s with start-up ({result.end_to_end_seconds:.1f} s)")
    print(f"naive baseline     {result.baseline_claims_per_s:8.1f} claims/s  (pipeline('text-classification'), "
          f"one claim at a time, {result.baseline_claims} claims)")
    print(f"ratio              {result.ratio:8.2f}x")
    print(f"peak RSS (score)   {result.peak_rss_mb:8.1f} MB")
    print(f"CPU kernels        {result.cpu}")
    print("stages (s)         " + "  ".join(f"{k[:-2]} {getattr(result, k):.1f}"
                                         for k in ("parse_s", "attribute_s", "classify_s", "verify_s", "report_s")))
    return 0


def cmd_studio_push(args: argparse.Namespace) -> int:
    from .studio.client import load_config, push_run

    cfg = load_config(args.config)
    report = push_run(args.run_dir, args.project, args.url, args.api_key, args.strategy, args.batch_size, cfg,
                      on_batch=lambda done, total: _say(f"imported {done}/{total} tasks"))
    for err in report.errors:
        _say(f"error: {err}")
    print(f"project {report.project!r} (id {report.project_id}{', created' if report.created else ''}): "
          f"{report.imported} tasks imported in {report.batches} batches, {report.skipped} already there "
          f"({report.strategy} order)")
    return 0


def cmd_studio_pull(args: argparse.Namespace) -> int:
    from .studio.client import load_config, pull_labels

    report = pull_labels(args.project, args.out, args.url, args.api_key, load_config(args.config))
    for err in report.errors:
        _say(f"error: {err}")
    agree = report.agreement
    print(f"wrote {report.labels} labels from {report.tasks} tasks to {report.out}")
    if agree.get("n"):
        print(f"agreement with the predictions they started from (n={agree['n']}): "
              + "  ".join(f"{k} {v:.2f}" for k, v in agree.items() if k != "n"))
    return 0


def cmd_studio_serve(args: argparse.Namespace) -> int:
    from .studio.backend import serve
    from .studio.client import load_config

    serve(args.port, args.host, args.model, args.secret, load_config(args.config), say=_say)
    return 0


def _voa_texts(path: str | None) -> Path:
    from .config import resolve
    from .train import load_config

    return Path(path) if path else resolve(load_config().datasets_dir) / "voa-news"


def _voa_docs(path: str | None) -> dict:
    from .corpora import load_voa_news

    return {d.id: d for d in load_voa_news(_voa_texts(path))}


def cmd_gold_scaffold(args: argparse.Namespace) -> int:
    from .annotator import pipeline_config, score_documents
    from .handlabel import scaffold
    from .model import Document
    from .rules import RuleLabeler

    docs = _voa_docs(args.texts)
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for doc_id in args.ids:
        if doc_id not in docs:
            raise AnnotateError(f"{doc_id}: no such article in {_voa_texts(args.texts)}")
        path = out / f"{doc_id}.yaml"
        if path.exists():
            _say(f"{path} exists: left as it is")
            continue
        (segmented,) = score_documents([Document.from_record(docs[doc_id].to_record())], RuleLabeler(),
                                       pipeline_config(verify=False, report=False))
        path.write_text(scaffold(docs[doc_id], segmented), encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _compile_file(path: Path, docs: dict) -> tuple[list[dict], str | None]:
    from .handlabel import LabelFileError, compile_segments, doc_id_of, load_items

    source = path.read_text(encoding="utf-8")
    doc_id = doc_id_of(source) or path.stem
    if doc_id not in docs:
        return [], f"{path}: no article {doc_id!r}"
    try:
        return compile_segments(load_items(source, str(path)), docs[doc_id]), None
    except LabelFileError as exc:
        return [], f"{path}: {exc}"


def cmd_gold_check(args: argparse.Namespace) -> int:
    from .handlabel import render

    docs, failed = _voa_docs(args.texts), 0
    for path in map(Path, args.files):
        rows, err = _compile_file(path, docs)
        if err:
            failed += 1
            print(err)
        elif not args.quiet:
            print(f"== {path}: {len(rows)} segments\n" + render(rows, docs[rows[0]["doc_id"]]))
    print(f"{len(args.files) - failed} of {len(args.files)} files compile")
    return 1 if failed else 0


def cmd_gold_build(args: argparse.Namespace) -> int:
    from .handlabel import write_rows

    docs, rows, failed = _voa_docs(args.texts), [], []
    compiled = {}
    for path in sorted(Path(args.dir).glob("*.yaml")):
        got, err = _compile_file(path, docs)
        if err:
            failed.append(err)
        elif got:
            compiled[got[0]["doc_id"]] = got
    for doc_id in docs:  # manifest order
        rows += compiled.get(doc_id, [])
    for err in failed:
        _say(f"error: {err}")
    write_rows(args.out, rows)
    print(f"wrote {len(rows)} segments of {len(compiled)} articles to {args.out} ({len(failed)} files failed)")
    return 1 if failed else 0


def cmd_gold_export(args: argparse.Namespace) -> int:
    from .gold import read_rows
    from .handlabel import decompile

    docs = _voa_docs(args.texts)
    by_doc, errors = read_rows(Path(args.gold))
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    for doc_id, rows in by_doc.items():
        if args.ids and doc_id not in args.ids:
            continue
        (out / f"{doc_id}.yaml").write_text(decompile(rows, docs[doc_id]), encoding="utf-8")
    print(f"wrote {len(args.ids or by_doc)} working files to {out}")
    return 0


def cmd_gold_agree(args: argparse.Namespace) -> int:
    from .gold import read_rows
    from .handlabel import agreement

    first, _ = read_rows(Path(args.first))
    second, _ = read_rows(Path(args.second))
    print(json.dumps(agreement(first, second).summary(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotate",
        description="Who claims what in news and analysis articles, and how the author treats each claim.",
    )
    parser.add_argument("--version", action="store_true", help="print the package, model and settings versions")
    parser.add_argument("--config-dir", help="a folder of YAML files that override the default settings file by file "
                                             "(default: $ANNOTATE_CONFIG_DIR, else ./configs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    p = sub.add_parser("report", help="write report.html, summary.json and CSVs for a scored run",
                       description="Aggregate a run directory written by `annotate score` (per source, outlet, document "
                                   "and claim cluster, with DuckDB over its Parquet shards) into RUN_DIR/report.html "
                                   "(one self-contained file), summary.json and CSV files.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `annotate score`")
    p.add_argument("--config", default="report.yaml", help="report config (default: configs/report.yaml)")
    p.add_argument("--max-articles", type=int, help="articles shown with their text (default: from config)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("train", help="fine-tune the claim classifier into models/<name>/",
                       description="Fine-tune the type/stance classifier on labels/ and the public corpora.")
    p.add_argument("--config", default="train.yaml", help="training config (default: configs/train.yaml)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--output-dir", help="override the config's output_dir")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="fine-tuned model vs rules: per-label P/R/F1, macro-F1, confusion matrices",
                       description="Evaluate a trained model and the rule baseline side by side; writes JSON.")
    p.add_argument("--model", help="trained model directory (models/<name>); required unless --probes (rules then)")
    p.add_argument("--gold", help="seed gold labels JSONL (default: the training config's gold)")
    p.add_argument("--config", default="train.yaml", help="training config for the leave-one-document-out folds")
    p.add_argument("--out", help="JSON output (default: <model>/evaluation.json)")
    p.add_argument("--no-seeds", action="store_true", help="skip the leave-one-document-out seed evaluation")
    p.add_argument("--no-topics", action="store_true", help="skip leave-one-topic-out over the voa-news groups")
    p.add_argument("--probes", nargs="*", metavar="FILE",
                   help="only run behavioural probe files (no FILE: the shared and the project's probes) and print the "
                        "pass rate per capability")
    p.add_argument("--min-pass-rate", type=float, default=0.0, help="with --probes: exit 1 below this pass rate")
    p.add_argument("--no-corpora", action="store_true", help="skip CheckThat and PolNeAR")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("bench", help="end-to-end scoring speed vs a naive one-claim-at-a-time baseline",
                       description="Score a synthetic corpus (sentences resampled from corpus/) with the fine-tuned "
                                   "model and compare claims/s with a transformers text-classification pipeline "
                                   "called once per claim, measured in the same run.")
    p.add_argument("--docs", type=int, default=120, help="synthetic documents (default 120: about a minute on 2 cores)")
    p.add_argument("--model", help="model directory (default: the pipeline config's model_dir)")
    p.add_argument("--baseline-claims", type=int, default=400, help="claims the baseline classifies (default 400)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("studio", help="the labeling loop with Label Studio: push, pull, serve",
                       description="Push scored claims to Label Studio, pull human labels back, serve the model as "
                                   "an ML backend. The server comes from --url/--api-key or LABEL_STUDIO_URL/"
                                   "LABEL_STUDIO_API_KEY (prefer the variable: arguments show up in process lists).")
    studio = p.add_subparsers(dest="studio_command", required=True, metavar="STUDIO_COMMAND")
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument("--url", help="Label Studio URL (default: $LABEL_STUDIO_URL)")
    conn.add_argument("--api-key", help="Label Studio API token (default: $LABEL_STUDIO_API_KEY); never stored")
    conn.add_argument("--config", default="studio.yaml", help="studio config (default: configs/studio.yaml)")

    p = studio.add_parser("push", parents=[conn], help="import a run's claims as tasks with pre-annotations",
                          description="Create or update the project, then import every claim of RUN_DIR that is not "
                                      "of type other as a task with the model's prediction; claims already in the "
                                      "project are skipped, so a push can be repeated or resumed.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `annotate score`")
    p.add_argument("--project", required=True, help="project title")
    p.add_argument("--strategy", choices=["uncertainty", "random", "all"],
                   help="task order: least confident first, shuffled, or document order (default: from config)")
    p.add_argument("--batch-size", type=int, help="tasks per import request (default: from config)")
    p.set_defaults(func=cmd_studio_push)

    p = studio.add_parser("pull", parents=[conn], help="export human annotations as output-schema JSONL",
                          description="Write the project's annotations with document offsets, annotator, time and "
                                      "the prediction each started from, and print agreement with those predictions.")
    p.add_argument("--project", required=True, help="project title")
    p.add_argument("--out", required=True, help="JSONL file to write, e.g. labels/studio.jsonl")
    p.set_defaults(func=cmd_studio_pull)

    p = studio.add_parser("serve", help="run the ML backend Label Studio calls (/setup, /predict, /webhook)",
                          description="Serve the configured labeler to Label Studio; START_TRAINING retrains with "
                                      "the project's annotations and switches versions when held-out labels agree.")
    p.add_argument("--port", type=int, help="port (default: from config)")
    p.add_argument("--host", help="bind address (default 127.0.0.1; others need --secret)")
    p.add_argument("--model", help="fine-tuned model directory (default: the pipeline config's model_dir)")
    p.add_argument("--secret", help="shared secret callers must send (default: $ANNOTATE_STUDIO_SECRET)")
    p.add_argument("--config", default="studio.yaml", help="studio config (default: configs/studio.yaml)")
    p.set_defaults(func=cmd_studio_serve)

    p = sub.add_parser("gold", help="hand labels of voa-news: working files, compile, agreement",
                       description="Hand-label articles whose text stays outside the project: YAML working files that "
                                   "quote the text compile to offsets-only gold rows (labels/voa-news.jsonl).")
    gold = p.add_subparsers(dest="gold_command", required=True, metavar="GOLD_COMMAND")
    texts = argparse.ArgumentParser(add_help=False)
    texts.add_argument("--texts", help="the voa-news folder (default: <datasets_dir>/voa-news of configs/train.yaml)")
    p = gold.add_parser("scaffold", parents=[texts], help="working files with the segmenter's segments, unlabeled")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--dir", required=True, help="folder for the working files")
    p.set_defaults(func=cmd_gold_scaffold)
    p = gold.add_parser("check", parents=[texts], help="compile working files and show the labels in context")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--quiet", action="store_true", help="only report problems")
    p.set_defaults(func=cmd_gold_check)
    p = gold.add_parser("build", parents=[texts], help="compile a folder of working files into one gold JSONL")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_gold_build)
    p = gold.add_parser("export", parents=[texts], help="working files from a gold JSONL (to correct it)")
    p.add_argument("gold", metavar="GOLD")
    p.add_argument("--dir", required=True)
    p.add_argument("--ids", nargs="*", help="only these articles")
    p.set_defaults(func=cmd_gold_export)
    p = gold.add_parser("agree", help="agreement of two readers (Cohen's kappa for type and stance, sources)")
    p.add_argument("first", metavar="FIRST")
    p.add_argument("second", metavar="SECOND")
    p.set_defaults(func=cmd_gold_agree)
    return parser


def version_text() -> str:
    """Package, model and settings versions, for `annotate --version`."""
    import json

    from . import __version__
    from .annotator import has_model
    from .config import config_version, model_dir

    d = model_dir()
    meta = d / "training.json"
    if meta.exists() and has_model(d):
        m = json.loads(meta.read_text())
        model = f"{m.get('name', d.name)}-{m.get('version', '?')} ({d})"
    else:
        model = f"none in {d} (scoring uses the rules; `annotate train` writes one)"
    return f"annotate {__version__}\nmodel    {model}\nconfig   {config_version()}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.config_dir:
            from .config import set_config_dir

            set_config_dir(args.config_dir)
        if args.version:
            print(version_text())
            return 0
        if not getattr(args, "func", None):
            build_parser().print_usage()
            return 2
        return args.func(args)
    except AnnotateError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted; run again with --resume to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
