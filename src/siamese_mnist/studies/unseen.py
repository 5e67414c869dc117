"""`python -m siamese_mnist unseen`: do the embeddings recognise digits they never trained on?

The class-disjoint protocol (Musgrave et al. 2020) on MNIST: every model trains on digits 0-4 only
(``data.holdout_classes: [5, 6, 7, 8, 9]``: the held-out digits never reach a training stage), with the
search's winners as they are (no setting is chosen on an unseen-digit figure; the search's own trials did
train and validate on all ten digits), then is scored on the test
images of digits 5-9 alone: 5-way one-shot accuracy (one support image per digit, the same seeded
episodes for every model and the raw pixels), retrieval MAP@R and verification ROC-AUC. One run per
seed, as DVC experiments:

    python -m siamese_mnist unseen queue               # dvc exp run --queue -n unseen-s<N> -S seed=N -S data.holdout_classes=[5,...]
    SIAMESE_MNIST_THREADS=1 dvc queue start -j 2
    python -m siamese_mnist unseen report --write      # -> metrics/unseen.json, metrics/unseen.md, plots/unseen.png

``--dim D`` (both commands) runs and reports the same protocol at ``model.embedding_dim: D`` (experiments
``unseen-d<D>-s<N>``; files ``metrics/unseen-d<D>.*``, ``metrics/unseen-d<D>/``): is it the 2-D bottleneck?
Its report also pairs each seed with that seed's run at params.yaml's dimension (``--against``, by default
``metrics/unseen``: D-dimensional minus 2-D, same seed, same episodes).

The report takes every experiment whose dvc.lock differs from HEAD's in ``seed`` and the held-out classes
alone, and keeps each run's per-epoch tables and pixel figures in ``metrics/unseen/seed-<N>.json`` (tracked),
so a clone without the experiments rebuilds the tables (``--from-files``). Each cell: mean ± sd [95 % t-interval]
over seeds; model - pixels and model - CNN are paired differences (same seed, same episodes).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..config import MODELS
from .experiments import RepoReader, queue_runs, read_output, waiting_names
from .replicates import (ReportError, Run, check_identity, final_column, find_runs, gather, head_identity,
                         read_replicates, same_seeds, write_replicates)
from .stats import interval, paired
from .tables import arm, percent_or_decimals, table

UNSEEN = [5, 6, 7, 8, 9]
METRICS = ("oneshot_holdout_acc", "holdout_map_at_r", "holdout_roc_auc")
LABELS = {"oneshot_holdout_acc": "5-way one-shot accuracy", "holdout_map_at_r": "MAP@R",
          "holdout_roc_auc": "verification ROC-AUC"}
PERCENT_METRICS = {"oneshot_holdout_acc", "holdout_map_at_r"}
BOUNDS = (0.0, 1.0)
SEEDS = (0, 1, 2, 3, 4)


def experiment_name(seed: int, dim: int | None = None) -> str:
    return f"unseen-s{seed}" if dim is None else f"unseen-d{dim}-s{seed}"


def queue_sets(seed: int, holdout: list[int], dim: int | None = None) -> list[str]:
    """The `-S` arguments of seed ``seed``'s run: the seed and the held-out classes (and with ``dim`` the
    embedding's dimension), nothing else."""
    return [f"seed={seed}", f"data.holdout_classes=[{','.join(map(str, holdout))}]",
            *([] if dim is None else [f"model.embedding_dim={dim}"])]


def varied(holdout: list[int], dim: int | None) -> dict:
    """The params a run of this study ran away from HEAD's (besides its seed)."""
    return {"data.holdout_classes": holdout, **({} if dim is None else {"model.embedding_dim": dim})}


def summarise(runs: list[Run], holdout: list[int], models: tuple[str, ...] = MODELS) -> dict:
    """Per model and for the pixels: each held-out metric's interval over the runs; model - pixels and
    model - CNN paired by seed."""
    if len(runs) < 2:
        raise ReportError(f"{len(runs)} unseen-classes run(s) found (held out: {holdout}); the report needs at least 2 "
                          "seeds: python -m siamese_mnist unseen queue, then SIAMESE_MNIST_THREADS=1 dvc queue start -j 2")
    missing = [r.name for r in runs if not all(k in r.pixels and r.pixels[k] is not None for k in METRICS)]
    if missing:
        raise ReportError(f"{missing[0]}: metrics/pixels.json has no held-out figures; rerun its baseline_pixels stage")
    col = {m: {k: final_column(runs, m, k, BOUNDS) for k in METRICS} for m in models}
    pix = {k: [float(r.pixels[k]) for r in runs] for k in METRICS}
    return {
        "holdout_classes": holdout,
        "runs": [{"seed": r.seed, "name": r.name, "rev": r.rev} for r in runs],
        "final": {**{m: {k: interval(col[m][k], BOUNDS) for k in METRICS} for m in models},
                  "pixels": {k: interval(pix[k], BOUNDS) for k in METRICS}},
        "paired": {**{f"{m} - pixels": {k: paired(col[m][k], pix[k], BOUNDS) for k in METRICS} for m in models},
                   **{f"{m} - cnn": {k: paired(col[m][k], col["cnn"][k], BOUNDS) for k in METRICS}
                      for m in models if m != "cnn"}},
    }


def against(runs: list[Run], base: list[Run], folder: str, models: tuple[str, ...] = MODELS) -> dict:
    """Each model's held-out figures minus ``base``'s (another arm's replicate files), seed by seed."""
    matched = same_seeds(runs, base, folder)
    return {"folder": folder, "seeds": [r.seed for r in runs],
            "paired": {m: {k: paired(final_column(runs, m, k, BOUNDS), final_column(matched, m, k, BOUNDS), BOUNDS)
                           for k in METRICS} for m in models}}


def _cell(metric: str, s: dict) -> str:
    return percent_or_decimals(s, metric in PERCENT_METRICS)


def markdown(report: dict, json_out: str = "metrics/unseen.json", replicates: str = "metrics/unseen",
             vary: dict | None = None) -> str:
    seeds = ", ".join(str(r["seed"]) for r in report["runs"])
    held = ", ".join(map(str, report["holdout_classes"]))
    cols = list(report["final"])
    lines = [f"# Unseen classes: trained on the other digits, scored on {held} alone",
             "", f"{len(report['runs'])} seeds ({seeds}); written by `python -m siamese_mnist unseen report --write` "
             f"(`{json_out}`; each run's tables: `{replicates}/`). Each cell: mean ± sample standard",
             "deviation [95 % confidence interval of the mean, Student's t]; accuracies and MAP@R in percent.",
             "Test images of the held-out digits only; nothing was tuned on them.", *arm(vary),
             "", *table("metric", cols, [(LABELS[k], [_cell(k, report["final"][c][k]) for c in cols]) for k in METRICS])]
    diffs = list(report["paired"])
    lines += ["", "## Paired differences (same seed, same episodes and pairs)", "",
              *table("metric", diffs, [(LABELS[k], [_cell(k, report["paired"][d][k]) for d in diffs]) for k in METRICS])]
    if "against" in report:
        a, seeds = report["against"], ", ".join(map(str, report["against"]["seeds"]))
        rows = [(LABELS[k], [_cell(k, a["paired"][m][k]) for m in a["paired"]]) for k in METRICS]
        lines += ["", f"## Against `{a['folder']}/` (these runs − those, same seed: {seeds})", "",
                  *table("metric", list(a["paired"]), rows)]
    return "\n".join(lines) + "\n"


def run_embeddings(run: Run, models: tuple[str, ...] = MODELS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The final test embeddings and labels of each model of ``run``, from its DVC-cached outputs."""
    out = {}
    for m in models:
        try:
            data = read_output(f"embeddings/{m}.npz", run.rev)
        except Exception as exc:  # noqa: BLE001 - not in the local cache (pulled with --no-cache, or gc'd)
            raise ReportError(f"{run.name}: embeddings/{m}.npz is not in the local DVC cache ({type(exc).__name__}); "
                              f"`dvc exp pull origin {run.name}` brings it") from None
        with np.load(io.BytesIO(data)) as f:
            out[m] = (f["test"][-1], f["test_labels"])
    return out


def plan_check(seeds: list[int], holdout: list[int], dim: int | None, params: str = "params.yaml") -> None:
    """Refuse at planning what `check` would refuse in every queued run: each run's params must load."""
    from ..config import params_from_dict
    from ..errors import ParamsError
    from ..typed_yaml import read_yaml

    if len(set(seeds)) != len(seeds):
        raise ReportError(f"--seeds {' '.join(map(str, seeds))}: a seed twice; each is one replicate")
    raw = read_yaml(Path(params).read_text())
    for seed in seeds:
        run = {**raw, "seed": seed, "data": {**raw["data"], "holdout_classes": holdout},
               "model": {**raw["model"], **({} if dim is None else {"embedding_dim": dim})}}
        try:
            params_from_dict(run, complete=True)
        except ParamsError as exc:
            flag = {"seed": "--seeds", "data.holdout_classes": "--holdout", "model.embedding_dim": "--dim"}
            which = next((f for k, f in flag.items() if str(exc).startswith(k)), "params.yaml")
            raise ReportError(f"{which}: {exc}") from None


def digit_list(text: str) -> list[int]:
    """--holdout's value, e.g. ``5,6,7``; argparse turns the error into a one-line exit 2."""
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of class numbers, e.g. 5,6,7,8,9")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist unseen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue one experiment per seed that is not done yet")
    q.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    q.add_argument("--dry-run", action="store_true")
    r = sub.add_parser("report", help="the report over the finished runs; --write updates the tracked files")
    r.add_argument("--write", action="store_true")
    r.add_argument("--from-files", action="store_true", help="read metrics/unseen/seed-*.json, not experiments")
    r.add_argument("--json-out", default="metrics/unseen.json")
    r.add_argument("--markdown-out", default="metrics/unseen.md")
    r.add_argument("--picture-out", default="plots/unseen.png")
    r.add_argument("--replicates", default="metrics/unseen")
    for p in (q, r):
        p.add_argument("--holdout", type=digit_list, default=UNSEEN,
                       help="the held-out classes, comma-separated (default 5,6,7,8,9)")
        p.add_argument("--dim", type=int, default=None,
                       help="runs at this model.embedding_dim instead of params.yaml's (experiments unseen-d<D>-s<N>; "
                            "the report's files get -d<D>: metrics/unseen-d<D>.json, ...)")
    r.add_argument("--against", metavar="FOLDER", help="also pair each seed with that seed's replicate file in FOLDER "
                   "(these runs minus those); with --dim, metrics/unseen (params.yaml's dimension) unless given")
    args = ap.parse_args(argv)
    if args.command == "report" and args.dim is not None:  # the defaults of another study's files
        for key, default in (("json_out", "metrics/unseen.json"), ("markdown_out", "metrics/unseen.md"),
                             ("picture_out", "plots/unseen.png"), ("replicates", "metrics/unseen")):
            if getattr(args, key) == default:
                stem, dot, ext = default.partition(".")
                setattr(args, key, f"{stem}-d{args.dim}{dot}{ext}")
        args.against = args.against or "metrics/unseen"
    from ..atomic import write_bytes, write_json
    from ..errors import DiskFullError

    try:
        if args.command == "queue":
            plan_check(args.seeds, args.holdout, args.dim)
            reader = RepoReader(".")
            try:  # done: a run the report would take (HEAD's params and code); an older one is run again
                done = {experiment_name(r.seed, args.dim)
                        for r in find_runs(reader, [], vary=varied(args.holdout, args.dim))}
            finally:
                reader.close()
            vary = varied(args.holdout, args.dim)
            ref = head_identity(vary)
            for r in read_replicates("metrics/unseen" if args.dim is None else f"metrics/unseen-d{args.dim}"):
                try:  # a committed replicate the report takes is done, as an experiment of this clone is
                    check_identity([r], "metrics/unseen", ref, vary)
                    done.add(experiment_name(r.seed, args.dim))
                except ReportError:
                    pass  # another pipeline's run: this seed runs again
            waiting = set() if args.dry_run else waiting_names()
            todo = [s for s in args.seeds if experiment_name(s, args.dim) not in done | waiting]
            queue_runs([(experiment_name(s, args.dim), queue_sets(s, args.holdout, args.dim)) for s in todo],
                       args.dry_run)
            print(f"{len(todo)} run(s) {'to queue' if args.dry_run else 'queued'}", file=sys.stderr)
            return 0
        runs, _, from_files = gather([], args.from_files, args.replicates, "params.yaml",
                                     vary=varied(args.holdout, args.dim))
        report = summarise(runs, args.holdout)
        if args.against:
            report["against"] = against(runs, read_replicates(args.against), args.against.rstrip("/"))
        vary = varied(args.holdout, args.dim) if args.dim is not None else None  # the default study: no arm line
        text = markdown(report, args.json_out, args.replicates.rstrip("/"), vary)
        if not args.write:
            sys.stdout.write(text)
            return 0
        from ..plotting import unseen_picture

        live = [r for r in runs if r.seed not in from_files]  # runs of this clone: their embeddings are here
        png = unseen_picture(run_embeddings(live[0]), args.holdout) if live else None  # before anything is written
        write_json(args.json_out, report)
        write_bytes(args.markdown_out, text.encode())
        if png is not None:
            write_replicates(runs, args.replicates)
            write_bytes(args.picture_out, png)
        print(f"{len(runs)} runs: wrote {args.json_out}, {args.markdown_out}"
              + ("" if png is None else f", {args.picture_out} (seed {live[0].seed}) and {args.replicates}/"))
        return 0
    except ReportError as exc:
        print(f"unseen: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"unseen: `{' '.join(exc.cmd[:7])} ...` failed (exit {exc.returncode})", file=sys.stderr)
        return 2
    except DiskFullError as exc:
        print(f"unseen: {exc.strerror}", file=sys.stderr)
        return 2
