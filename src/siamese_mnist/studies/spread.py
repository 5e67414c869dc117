"""`python -m siamese_mnist seeds`: the seed-spread report — the seed-to-seed spread of every model's results, and the paired differences.

A replicate is the whole pipeline at one ``seed`` (the one knob that redraws subsets, the validation
split, index files, initialisation, order, augmentation, test pairs and one-shot episodes). Queue one
experiment per seed (one ``dvc exp run`` each: several ``-S seed=`` in one command queue one experiment,
the last one winning), run the queue, then write the report:

    for s in 1 2 3 4; do dvc exp run --queue -n seed-$s -S seed=$s; done
    dvc queue start                                # `dvc queue status` until all are done
    python -m siamese_mnist seeds --write          # -> metrics/seeds.json, metrics/seeds.md, metrics/replicates/

Without ``--write`` the report goes to stdout and no file changes. Without revisions the report takes
the committed run (HEAD) and every experiment, of any baseline, whose ``dvc.lock`` records the same
params as HEAD's but for ``seed`` and the same code (every ``src/`` and ``stages/`` dependency hash) for
every stage whose outputs the report reads (not the plots): replicates of *this* pipeline, nothing else.
One run per seed (the newest wins); at least 3 (``--allow-few`` takes 2). Experiments live in one
machine's git refs, so ``--write`` also keeps each replicate's per-epoch tables and identity in
``metrics/replicates/seed-<N>.json`` (tracked by git): every seed no experiment of this clone ran comes from
its file, so a later session or another machine adds seeds without losing the committed ones (a fresh clone
rebuilds the report from them); ``--from-files`` reads the files alone; a file whose identity is not HEAD's is refused,
and ``tools/relock.py``, run after a refactor proven byte-identical, re-records the code in both.

For each model and metric the report gives the mean, the sample standard deviation and a 95 %
confidence interval of the mean (Student's t, n - 1 degrees of freedom), clipped to the range the
metric can take; for Siamese - CNN and triplet - CNN the same for the *paired* difference (both models
of one replicate share its seed: its data split, test pairs and episodes), at the final epoch and at
every epoch of ``render.epochs``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import yaml

from ..config import MODELS
from . import oneshot_spread
from .replicates import ReportError, Run, final_column, gather, read_replicates, trained_with, write_replicates
from .stats import interval, paired
from .tables import arm, cell, percent_or_decimals, table

FINAL_METRICS = ("logreg_acc", "knn_acc", "roc_auc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
                 "silhouette", "val_logreg_acc", "val_roc_auc", "val_map_at_r")
EPOCH_METRICS = ("logreg_acc", "knn_acc", "map_at_r", "val_logreg_acc")
BASELINE = "cnn"
# the range each metric can take: every one a score in [0, 1] but the silhouette, in [-1, 1]
RANGE = {k: (-1.0, 1.0) if k.endswith("silhouette") else (0.0, 1.0) for k in FINAL_METRICS}
SECONDS = (0.0, math.inf)
MIN_RUNS = 3  # fewer make an interval too wide to read (t = 12.7 at 2 seeds), so they need --allow-few


def summarise(runs: list[Run], epochs: list[int], models: tuple[str, ...] = MODELS) -> dict:
    """The report as plain data (the content of metrics/seeds.json)."""
    if len(runs) < 2:
        raise ReportError(f"{len(runs)} run(s) found; a spread needs at least 2 seeds")
    others = [m for m in models if m != BASELINE]

    def column(model, metric, epoch=None):
        return final_column(runs, model, metric, RANGE[metric], epoch)

    report = {
        "runs": [{"seed": r.seed, "name": r.name, "rev": r.rev, "trained_with": trained_with(r),
                  "seconds_per_epoch": {m: r.seconds_per_epoch.get(m) for m in models}} for r in runs],
        "final": {m: {k: interval(column(m, k), RANGE[k]) for k in FINAL_METRICS} for m in models},
        "paired": {f"{m} - {BASELINE}": {k: paired(column(m, k), column(BASELINE, k), RANGE[k])
                                         for k in FINAL_METRICS} for m in others},
        "by_epoch": {k: {str(e): {**{m: interval(column(m, k, e), RANGE[k]) for m in models},
                                  **{f"{m} - {BASELINE}": paired(column(m, k, e), column(BASELINE, k, e), RANGE[k])
                                     for m in others}}
                         for e in epochs} for k in EPOCH_METRICS},
    }
    if all(set(models) <= set(r.seconds_per_epoch) for r in runs):
        report["seconds_per_epoch"] = {
            **{m: interval([r.seconds_per_epoch[m] for r in runs], SECONDS) for m in models},
            **{f"{m} / {BASELINE}": interval([r.seconds_per_epoch[m] / r.seconds_per_epoch[BASELINE] for r in runs],
                                             SECONDS) for m in others}}
    return report


PERCENT = {"logreg_acc", "knn_acc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
           "val_logreg_acc", "val_map_at_r"}


def _fmt(metric: str, s: dict) -> str:
    return percent_or_decimals(s, metric in PERCENT)


def markdown(report: dict, json_out: str = "metrics/seeds.json", replicates: str = "metrics/replicates",
             vary: dict | None = None) -> str:
    """The report as markdown tables: mean ± sd [95 % CI] (accuracies and MAP@R in percent)."""
    seeds = ", ".join(str(r["seed"]) for r in report["runs"])
    models = list(report["final"])
    head = [f"# Seed-to-seed spread: {len(report['runs'])} replicates (seeds {seeds})", "",
            f"Written by `python -m siamese_mnist seeds --write` from the runs listed in `{json_out}`",
            f"(their per-epoch tables: `{replicates}/`). Each cell: mean ± sample standard deviation [95 %",
            "confidence interval of the mean, Student's t]. Accuracies and MAP@R in percent; `val_` = validation",
            "split, everything else = test split.", *arm(vary), "",
            "Trained with: " + "; ".join(f"seed {r['seed']} {r.get('trained_with') or 'unrecorded'}"
                                         for r in report["runs"]) + " (bf16 against fp32 over three seeds: "
            "within the seeds' noise, `benchmarks/results/bf16-vs-fp32-3-seeds-2026-11-29.md`)."]
    diffs = list(report["paired"])
    lines = ["", "## Final epoch, per model", "",
             *table("metric", models, [(k, [_fmt(k, report["final"][m][k]) for m in models]) for k in FINAL_METRICS]),
             "", "## Final epoch, paired differences (same seed)", "",
             *table("metric", diffs, [(k, [_fmt(k, report["paired"][d][k]) for d in diffs]) for k in FINAL_METRICS])]
    for k, per_epoch in report["by_epoch"].items():
        cols = models + diffs
        lines += ["", f"## {k} by epoch", "",
                  *table("epoch", cols, [(e, [_fmt(k, row[c]) for c in cols]) for e, row in per_epoch.items()])]
    if "seconds_per_epoch" in report:
        cols = list(report["seconds_per_epoch"])
        lines += ["", "## Training seconds per epoch (median epoch of each run; machine-dependent)", "",
                  "| " + " | ".join(cols) + " |", "|---" * len(cols) + "|",
                  "| " + " | ".join(cell(report["seconds_per_epoch"][c], 1, 3) for c in cols) + " |"]
    if any("*" in line for line in lines):  # a table holds a '*' only where cell marks a clipped end
        head += ["", "*: interval clipped to the metric's range ([0, 1], the silhouette [-1, 1]; a paired difference",
                 "[-1, 1] and [-2, 2]): from so few replicates the t-interval reaches past what the metric can take."]
    return "\n".join(head + lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist seeds", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("revs", nargs="*", help="experiment names or git revisions (default: HEAD and its seed replicates)")
    ap.add_argument("--write", action="store_true",
                    help="write --json-out, --markdown-out and the --replicates files (default: print the markdown)")
    ap.add_argument("--allow-few", action="store_true", help=f"report 2 replicates (default: at least {MIN_RUNS})")
    ap.add_argument("--from-files", action="store_true", help="read the replicates from --replicates, not experiments")
    ap.add_argument("--json-out", default="metrics/seeds.json")
    ap.add_argument("--markdown-out", default="metrics/seeds.md")
    ap.add_argument("--replicates", default="metrics/replicates", help="folder of seed-<N>.json, one per replicate")
    ap.add_argument("--params", default="params.yaml", help="read for render.epochs with --from-files")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="report the replicates that ran KEY at VALUE, all else as HEAD (e.g. omniglot.background="
                         "small1); name other --json-out, --markdown-out and --replicates for them")
    ap.add_argument("--against", metavar="FOLDER", help="Omniglot: also pair each seed with the replicate file of the "
                    "same seed in FOLDER (another arm, e.g. metrics/replicates): this report minus that")
    args = ap.parse_args(argv)
    try:
        vary = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)} or None
    except yaml.YAMLError:
        ap.error(f"--set: {args.set} should be KEY=VALUE")
    if args.revs and args.from_files:
        ap.error("--from-files reads every replicate file: name no revisions")
    from ..atomic import write_bytes, write_json
    from ..errors import DiskFullError

    try:
        runs, params, from_files = gather(args.revs, args.from_files, args.replicates, args.params, vary)
        omniglot = (params.get("data") or {}).get("dataset") == "omniglot"  # the one-shot pipeline's report
        seeds = ", ".join(str(r.seed) for r in runs)
        if len(runs) < MIN_RUNS and not args.allow_few:
            start = max((r.seed for r in runs), default=0) + 1
            more = " ".join(str(s) for s in range(start, start + MIN_RUNS - len(runs)))
            raise ReportError(f"{len(runs)} replicate(s) found{f' (seeds {seeds})' if runs else ''}; the report needs "
                              f"{MIN_RUNS}: queue more (for s in {more}; do dvc exp run --queue -n seed-$s -S seed=$s; "
                              "done; dvc queue start) or pass --allow-few")
        lengths = {len(t) for r in runs for t in r.tables.values()}
        if len(lengths) > 1:
            raise ReportError(f"the runs have per-epoch tables of different lengths {sorted(lengths)}")
        epochs = [e for e in params.get("render", {}).get("epochs", []) if e < min(lengths, default=0)]
        report = oneshot_spread.summarise(runs, MODELS) if omniglot else summarise(runs, epochs)
        if args.against:
            if not omniglot:
                raise ReportError("--against: the Omniglot report's option (cd omniglot)")
            report["against"] = oneshot_spread.against(runs, read_replicates(args.against), MODELS, args.against)
    except ReportError as exc:
        print(f"seeds: {exc}", file=sys.stderr)
        return 2
    text = (oneshot_spread.markdown if omniglot else markdown)(report, args.json_out, args.replicates.rstrip("/"), vary)
    if not args.write:
        sys.stdout.write(text)
        print(f"(not written; --write to update {Path(args.json_out).with_suffix('.*')})", file=sys.stderr)
        return 0
    try:
        write_json(args.json_out, report)
        write_bytes(args.markdown_out, text.encode())
        if len(from_files) < len(runs):  # a run read from an experiment: its file is (re)written
            write_replicates(runs, args.replicates)
    except DiskFullError as exc:
        print(f"seeds: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"{len(runs)} replicates (seeds {seeds}): wrote {args.json_out} and {args.markdown_out}"
          + ("" if len(from_files) == len(runs) else f" and {args.replicates}/seed-*.json"))
    return 0
