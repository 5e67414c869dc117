"""`python -m siamese_mnist report`: the seed-to-seed spread of every model's results, and the paired differences.

A replicate is the whole pipeline at one ``seed`` (the one knob that redraws subsets, the validation
split, index files, initialisation, order, augmentation, test pairs and one-shot episodes):

    dvc exp run --queue -S seed=1 -S seed=2 ...  # or: dvc exp run --queue -S 'seed=range(1, 5)'
    dvc queue start
    python -m siamese_mnist report            # -> metrics/seeds.json, metrics/seeds.md

Without arguments the report takes the committed run (HEAD) and every experiment, of any baseline,
whose ``dvc.lock`` records the same params as HEAD's but for ``seed`` and the same code (every
``src/`` and ``stages/`` dependency hash) for every stage of the pipeline: replicates of *this*
pipeline, nothing else. One run per seed
(the newest wins). For each model and metric it writes the mean, the sample standard deviation and a
95 % confidence interval of the mean (Student's t, n - 1 degrees of freedom); for Siamese - CNN and
triplet - CNN the same for the *paired* difference (both models of one replicate share its seed:
its data split, test pairs and episodes), at the final epoch and at every epoch of ``render.epochs``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .config import MODELS

FINAL_METRICS = ("logreg_acc", "knn_acc", "roc_auc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
                 "silhouette", "val_logreg_acc", "val_roc_auc", "val_map_at_r")
EPOCH_METRICS = ("logreg_acc", "knn_acc", "map_at_r", "val_logreg_acc")
BASELINE = "cnn"


class ReportError(RuntimeError):
    """Nothing (or not enough) to report; the message says what is missing."""


@dataclass
class Run:
    """One replicate: its name, git revision, seed, per-epoch tables and training speed per model."""

    name: str
    rev: str
    seed: int
    tables: dict[str, pd.DataFrame]  # model -> the evaluate stage's per-epoch table (plots/eval/<model>.csv)
    seconds_per_epoch: dict[str, float] = field(default_factory=dict)  # model -> median training epoch


def interval(values: list[float] | np.ndarray) -> dict:
    """n, mean, sample standard deviation and the 95 % t-interval of the mean (None where n < 2)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = {"n": n, "mean": float(x.mean())}
    if n < 2:
        return {**out, "sd": None, "ci95": None}
    from scipy.stats import t

    sd = float(x.std(ddof=1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {**out, "sd": sd, "ci95": [out["mean"] - half, out["mean"] + half]}


def paired(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> dict:
    """The interval of a - b over replicates, each replicate's a and b taken together."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = a - b
    return interval(diff)


def summarise(runs: list[Run], epochs: list[int], models: tuple[str, ...] = MODELS) -> dict:
    """The report as plain data (the content of metrics/seeds.json)."""
    if len(runs) < 2:
        raise ReportError(f"{len(runs)} run(s) found; a spread needs at least 2 seeds")
    others = [m for m in models if m != BASELINE]

    def column(model, metric, epoch=None):
        return [float(r.tables[model][metric].iloc[-1] if epoch is None else
                      r.tables[model].set_index("epoch").loc[epoch, metric]) for r in runs]

    report = {
        "runs": [{"seed": r.seed, "name": r.name, "rev": r.rev,
                  "seconds_per_epoch": {m: r.seconds_per_epoch.get(m) for m in models}} for r in runs],
        "final": {m: {k: interval(column(m, k)) for k in FINAL_METRICS} for m in models},
        "paired": {f"{m} - {BASELINE}": {k: paired(column(m, k), column(BASELINE, k)) for k in FINAL_METRICS}
                   for m in others},
        "by_epoch": {k: {str(e): {**{m: interval(column(m, k, e)) for m in models},
                                  **{f"{m} - {BASELINE}": paired(column(m, k, e), column(BASELINE, k, e))
                                     for m in others}}
                         for e in epochs} for k in EPOCH_METRICS},
    }
    if all(set(models) <= set(r.seconds_per_epoch) for r in runs):
        report["seconds_per_epoch"] = {
            **{m: interval([r.seconds_per_epoch[m] for r in runs]) for m in models},
            **{f"{m} / {BASELINE}": interval([r.seconds_per_epoch[m] / r.seconds_per_epoch[BASELINE] for r in runs])
               for m in others}}
    return report


def _pct(s: dict, digits: int = 2) -> str:
    """'99.20 ± 0.05 [99.13, 99.27]' for a fraction, in percent: mean ± sd [95 % interval]."""
    if s["sd"] is None:
        return f"{100 * s['mean']:.{digits}f}"
    lo, hi = s["ci95"]
    return f"{100 * s['mean']:.{digits}f} ± {100 * s['sd']:.{digits}f} [{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"


def _num(s: dict, digits: int = 4) -> str:
    if s["sd"] is None:
        return f"{s['mean']:.{digits}f}"
    lo, hi = s["ci95"]
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


PERCENT = {"logreg_acc", "knn_acc", "pair_acc", "map_at_r", "precision_at_1", "oneshot_all_acc",
           "val_logreg_acc", "val_map_at_r"}


def _fmt(metric: str, s: dict) -> str:
    return _pct(s) if metric in PERCENT else _num(s)


def markdown(report: dict) -> str:
    """The report as markdown tables: mean ± sd [95 % CI] (accuracies and MAP@R in percent)."""
    seeds = ", ".join(str(r["seed"]) for r in report["runs"])
    models = list(report["final"])
    lines = [f"# Seed-to-seed spread: {len(report['runs'])} replicates (seeds {seeds})", "",
             "Written by `python -m siamese_mnist report` from the runs listed in `metrics/seeds.json`. Each cell:",
             "mean ± sample standard deviation [95 % confidence interval of the mean, Student's t]. Accuracies",
             "and MAP@R in percent; `val_` = validation split, everything else = test split.", "",
             "## Final epoch, per model", "",
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
                  "| " + " | ".join(_num(report["seconds_per_epoch"][c], 3) for c in cols) + " |"]
    return "\n".join(lines) + "\n"


# --- finding the replicates -------------------------------------------------------------------------


def identity(lock: dict, stages: set[str]) -> dict:
    """What makes a run a replicate, from its dvc.lock: per pipeline stage (``stages``: the stage names of
    ``dvc.yaml``; ``train@cnn`` counts as ``train``), the params it ran with but ``seed`` and the hash of
    every ``src/`` and ``stages/`` file it depends on. Entries of stages no longer in the pipeline are ignored."""
    out = {}
    for name, stage in lock.get("stages", {}).items():
        if name.split("@")[0] not in stages:
            continue
        params = {k: v for f in stage.get("params", {}).values() for k, v in f.items() if k != "seed"}
        code = {d["path"]: d.get("md5") for d in stage.get("deps", []) if d["path"].startswith(("src/", "stages/"))}
        out[name] = {"params": params, "code": code}
    return out


def lock_seed(lock: dict) -> int | None:
    """The seed the run's stages ran with (None if no stage reads it)."""
    seeds = {f["seed"] for stage in lock.get("stages", {}).values()
             for f in stage.get("params", {}).values() if "seed" in f}
    if len(seeds) > 1:
        raise ReportError(f"dvc.lock records several seeds {sorted(seeds)}: a half-finished run")
    return seeds.pop() if seeds else None


class RepoReader:
    """Reads files of a DVC repo at git revisions (git-tracked files and DVC-tracked outputs alike)."""

    def __init__(self, root: str | Path = "."):
        from dvc.repo import Repo

        self.root = str(root)
        self.repo = Repo(self.root)

    def read(self, path: str, rev: str) -> str:
        import dvc.api

        return dvc.api.read(path, repo=self.root, rev=rev)

    def experiments(self) -> list[tuple[str, str]]:
        """(name, sha) of every experiment of every baseline, newest commit first."""
        found = [(name, sha) for exps in self.repo.experiments.ls(all_commits=True).values()
                 for name, sha in exps if sha]
        times = {sha: self.repo.scm.resolve_commit(sha).commit_time for _, sha in found}
        return sorted(found, key=lambda e: -times[e[1]])

    def head(self) -> str:
        return self.repo.scm.get_rev()

    def close(self) -> None:
        self.repo.close()


def load_run(reader: RepoReader, name: str, rev: str, models: tuple[str, ...]) -> Run:
    lock = yaml.safe_load(reader.read("dvc.lock", rev))
    seed = lock_seed(lock)
    if seed is None:
        raise ReportError(f"{name}: its dvc.lock records no seed; not a finished run of this pipeline")
    tables = {m: pd.read_csv(io.StringIO(reader.read(f"plots/eval/{m}.csv", rev))) for m in models}
    speed = {}
    for m in models:
        try:
            speed[m] = float(json.loads(reader.read(f"metrics/runtime/{m}.json", rev))["seconds_per_epoch_median"])
        except Exception:  # noqa: BLE001 - speed is optional: an output missing from the local cache
            pass
    return Run(name, rev, int(seed), tables, speed)


def find_runs(reader: RepoReader, revs: list[str] | None, models: tuple[str, ...] = MODELS) -> list[Run]:
    """The named revisions, or HEAD plus every experiment that differs from HEAD in ``seed`` alone
    (by the params and code hashes its dvc.lock records, not by what params.yaml says)."""
    if revs:
        runs = []
        for rev in revs:
            try:
                runs.append(load_run(reader, rev, rev, models))
            except ReportError:
                raise
            except Exception as exc:  # noqa: BLE001 - an unknown revision, or one without the pipeline's files
                first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
                raise ReportError(f"{rev}: cannot read its results ({first})") from None
        seeds = [r.seed for r in runs]
        if len(set(seeds)) != len(seeds):
            raise ReportError(f"the revisions given repeat a seed ({seeds}): replicates need distinct seeds")
        return runs
    head = reader.head()
    try:
        stages = set(yaml.safe_load(reader.read("dvc.yaml", head))["stages"])
        ref = identity(yaml.safe_load(reader.read("dvc.lock", head)), stages)
    except Exception as exc:  # noqa: BLE001
        raise ReportError(f"HEAD has no finished pipeline to compare with ({exc.__class__.__name__}: {exc})") from None
    runs: dict[int, Run] = {}
    for name, sha in [("HEAD", head)] + reader.experiments():
        try:
            lock = yaml.safe_load(reader.read("dvc.lock", sha))
            if identity(lock, stages) != ref:
                continue
            run = load_run(reader, name, sha, models)
        except Exception:  # noqa: BLE001 - a revision without a finished pipeline is not a replicate
            continue
        runs.setdefault(run.seed, run)  # HEAD first, then the newest experiment of each seed
    return [runs[s] for s in sorted(runs)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("revs", nargs="*", help="experiment names or git revisions (default: HEAD and its seed replicates)")
    ap.add_argument("--json-out", default="metrics/seeds.json")
    ap.add_argument("--markdown-out", default="metrics/seeds.md")
    args = ap.parse_args(argv)
    from .io import write_bytes, write_json

    reader = RepoReader(".")
    try:
        runs = find_runs(reader, args.revs)
        params = yaml.safe_load(reader.read("params.yaml", runs[0].rev)) if runs else {}
        lengths = {len(t) for r in runs for t in r.tables.values()}
        if len(lengths) > 1:
            raise ReportError(f"the runs have per-epoch tables of different lengths {sorted(lengths)}")
        epochs = [e for e in params.get("render", {}).get("epochs", []) if e < min(lengths, default=0)]
        report = summarise(runs, epochs)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    finally:
        reader.close()
    write_json(args.json_out, report)
    write_bytes(args.markdown_out, markdown(report).encode())
    print(f"{len(runs)} replicates (seeds {', '.join(str(r.seed) for r in runs)}): "
          f"wrote {args.json_out} and {args.markdown_out}")
    return 0
