"""`python -m siamese_mnist seeds`: the seed-to-seed spread of every model's results, and the paired differences.

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
and ``tests/relock.py``, run after a refactor proven byte-identical, re-records the code in both.

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

import numpy as np

from .config import MODELS
from .replicates import ReportError, Run, gather, write_replicates

FINAL_METRICS = ("logreg_acc", "knn_acc", "roc_auc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
                 "silhouette", "val_logreg_acc", "val_roc_auc", "val_map_at_r")
EPOCH_METRICS = ("logreg_acc", "knn_acc", "map_at_r", "val_logreg_acc")
BASELINE = "cnn"
# the range each metric can take: every one a score in [0, 1] but the silhouette, in [-1, 1]
RANGE = {k: (-1.0, 1.0) if k.endswith("silhouette") else (0.0, 1.0) for k in FINAL_METRICS}
SECONDS = (0.0, math.inf)
MIN_RUNS = 3  # fewer make an interval too wide to read (t = 12.7 at 2 seeds), so they need --allow-few


def interval(values: list[float] | np.ndarray, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """n, mean, sample standard deviation and the 95 % t-interval of the mean (None where n < 2).

    The interval is clipped to ``bounds``, the range the values can take: from few replicates near a bound
    (an accuracy near 1) the t-interval reaches past it, where no mean can lie. ``clipped`` flags each end
    that was clipped, [low, high], so that the clipped interval is never mistaken for the t-interval."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = {"n": n, "mean": float(x.mean())}
    if n < 2:
        return {**out, "sd": None, "ci95": None}
    from scipy.stats import t

    sd = float(x.std(ddof=1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    lo, hi = out["mean"] - half, out["mean"] + half
    return {**out, "sd": sd, "ci95": [max(lo, bounds[0]), min(hi, bounds[1])],
            "clipped": [bool(lo < bounds[0]), bool(hi > bounds[1])]}


def paired(a: list[float] | np.ndarray, b: list[float] | np.ndarray,
           bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """The interval of a - b over replicates, each replicate's a and b taken together; a and b lie in
    ``bounds``, so a - b in [low - high, high - low] ([-1, 1] for a score in [0, 1])."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = a - b
    return interval(diff, (bounds[0] - bounds[1], bounds[1] - bounds[0]))


def trained_with(run: Run) -> str | None:
    """'<precision> on <CPU>' of a run's training (each distinct one, models joined), None where unrecorded."""
    seen = dict.fromkeys(f"{m['precision']} on {m['cpu']}" for m in run.machine.values())
    return "; ".join(seen) or None


def summarise(runs: list[Run], epochs: list[int], models: tuple[str, ...] = MODELS) -> dict:
    """The report as plain data (the content of metrics/seeds.json)."""
    if len(runs) < 2:
        raise ReportError(f"{len(runs)} run(s) found; a spread needs at least 2 seeds")
    others = [m for m in models if m != BASELINE]

    def column(model, metric, epoch=None):
        return [float(r.tables[model][metric].iloc[-1] if epoch is None else
                      r.tables[model].set_index("epoch").loc[epoch, metric]) for r in runs]

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


def _cell(s: dict, scale: float, digits: int) -> str:
    """'99.20 ± 0.05 [99.13, 100.00*]': mean ± sd [95 % interval], times ``scale``; '*' marks a clipped end."""
    if s["sd"] is None:
        return f"{scale * s['mean']:.{digits}f}"
    lo, hi = (f"{scale * v:.{digits}f}" + ("*" if c else "") for v, c in zip(s["ci95"], s["clipped"]))
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f} [{lo}, {hi}]"


PERCENT = {"logreg_acc", "knn_acc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
           "val_logreg_acc", "val_map_at_r"}


def _fmt(metric: str, s: dict) -> str:
    return _cell(s, 100, 2) if metric in PERCENT else _cell(s, 1, 4)


def markdown(report: dict) -> str:
    """The report as markdown tables: mean ± sd [95 % CI] (accuracies and MAP@R in percent)."""
    seeds = ", ".join(str(r["seed"]) for r in report["runs"])
    models = list(report["final"])
    head = [f"# Seed-to-seed spread: {len(report['runs'])} replicates (seeds {seeds})", "",
            "Written by `python -m siamese_mnist seeds --write` from the runs listed in `metrics/seeds.json`",
            "(their per-epoch tables: `metrics/replicates/`). Each cell: mean ± sample standard deviation [95 %",
            "confidence interval of the mean, Student's t]. Accuracies and MAP@R in percent; `val_` = validation",
            "split, everything else = test split.", "",
            "Trained with: " + "; ".join(f"seed {r['seed']} {r.get('trained_with') or 'unrecorded'}"
                                         for r in report["runs"]) + " (bf16 against fp32 over three seeds: "
            "within the seeds' noise, `benchmarks/results/bf16-vs-fp32-3-seeds-2026-11-29.md`)."]
    lines = ["", "## Final epoch, per model", "",
             "| metric | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for k in FINAL_METRICS:
        lines.append(f"| {k} | " + " | ".join(_fmt(k, report["final"][m][k]) for m in models) + " |")
    diffs = list(report["paired"])
    lines += ["", "## Final epoch, paired differences (same seed)", "",
              "| metric | " + " | ".join(diffs) + " |", "|---" * (len(diffs) + 1) + "|"]
    for k in FINAL_METRICS:
        lines.append(f"| {k} | " + " | ".join(_fmt(k, report["paired"][d][k]) for d in diffs) + " |")
    for k, per_epoch in report["by_epoch"].items():
        cols = models + diffs
        lines += ["", f"## {k} by epoch", "", "| epoch | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for e, row in per_epoch.items():
            lines.append(f"| {e} | " + " | ".join(_fmt(k, row[c]) for c in cols) + " |")
    if "seconds_per_epoch" in report:
        cols = list(report["seconds_per_epoch"])
        lines += ["", "## Training seconds per epoch (median epoch of each run; machine-dependent)", "",
                  "| " + " | ".join(cols) + " |", "|---" * len(cols) + "|",
                  "| " + " | ".join(_cell(report["seconds_per_epoch"][c], 1, 3) for c in cols) + " |"]
    if any("*" in line for line in lines):  # a table holds a '*' only where _cell marks a clipped end
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
    args = ap.parse_args(argv)
    if args.revs and args.from_files:
        ap.error("--from-files reads every replicate file: name no revisions")
    from .io import DiskFullError, write_bytes, write_json

    try:
        runs, params, from_files = gather(args.revs, args.from_files, args.replicates, args.params)
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
        report = summarise(runs, epochs)
    except ReportError as exc:
        print(f"seeds: {exc}", file=sys.stderr)
        return 2
    if not args.write:
        sys.stdout.write(markdown(report))
        print(f"(not written; --write to update {Path(args.json_out).with_suffix('.*')})", file=sys.stderr)
        return 0
    try:
        write_json(args.json_out, report)
        write_bytes(args.markdown_out, markdown(report).encode())
        if len(from_files) < len(runs):  # a run read from an experiment: its file is (re)written
            write_replicates(runs, args.replicates)
    except DiskFullError as exc:
        print(f"seeds: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"{len(runs)} replicates (seeds {seeds}): wrote {args.json_out} and {args.markdown_out}"
          + ("" if len(from_files) == len(runs) else f" and {args.replicates}/seed-*.json"))
    return 0
