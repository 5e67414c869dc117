"""Where the reports' replicates (seeds and unseen) come from: experiments in this machine's git refs (HEAD and every
experiment that differs from it in ``seed`` alone, by its dvc.lock), or the tracked per-replicate files
``metrics/replicates/seed-<N>.json`` that ``seeds --write`` keeps so any clone can rebuild the report."""

from __future__ import annotations

import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from ..config import MODELS
from .experiments import RepoReader
from .identity import identity, lock_values, without


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
    pixels: dict = field(default_factory=dict)  # the raw-pixel baseline's metrics (metrics/pixels.json)
    identity: dict = field(default_factory=dict)  # what makes it a replicate (see identity()), from its dvc.lock
    machine: dict = field(default_factory=dict)  # model -> {"precision", "cpu"} it trained with (metrics/runtime/)


def trained_with(run: Run) -> str | None:
    """'<precision> on <CPU>' of a run's training (each distinct one, models joined), None where unrecorded."""
    seen = dict.fromkeys(f"{m['precision']} on {m['cpu']}" for m in run.machine.values())
    return "; ".join(seen) or None


def final_column(runs: list[Run], model: str, metric: str, bounds: tuple[float, float],
                 epoch: int | None = None) -> list[float]:
    """Each run's ``metric`` of ``model`` at its final epoch (or ``epoch``), every one checked: a model missing from
    a run, or a value that is not a finite number within ``bounds``, is one line naming the run (a damaged file)."""
    out = []
    for r in runs:
        if model not in r.tables or metric not in r.tables[model]:
            raise ReportError(f"{r.name} (seed {r.seed}): no {metric} of {model}; a damaged or partial replicate")
        t = r.tables[model]
        v = float(t[metric].iloc[-1] if epoch is None else t.set_index("epoch").loc[epoch, metric])
        if not (math.isfinite(v) and bounds[0] <= v <= bounds[1]):
            raise ReportError(f"{r.name} (seed {r.seed}): {model} {metric} = {v!r}, outside {list(bounds)}; "
                              "a damaged replicate")
        out.append(v)
    return out


def same_seeds(runs: list[Run], base: list[Run], folder: str) -> list[Run]:
    """``base``'s run of each run's seed, in ``runs``' order (another arm to pair with); a seed it lacks is one line."""
    if not base:
        raise ReportError(f"--against {folder}: no replicate file (seed-<N>.json) there; name a report's replicates "
                          "folder, e.g. metrics/replicates")
    by_seed = {r.seed: r for r in base}
    missing = [r.seed for r in runs if r.seed not in by_seed]
    if missing:
        raise ReportError(f"--against {folder}: no replicate of seed {missing[0]} to pair with (it holds seeds "
                          f"{', '.join(str(s) for s in sorted(by_seed)) or 'none'})")
    return [by_seed[r.seed] for r in runs]


def lock_seed(lock: dict) -> int | None:
    """The seed the run's stages ran with (None if no stage reads it)."""
    seeds = {f["seed"] for stage in lock.get("stages", {}).values()
             for f in stage.get("params", {}).values() if "seed" in f}
    if len(seeds) > 1:
        raise ReportError(f"dvc.lock records several seeds {sorted(seeds)}: a half-finished run")
    return seeds.pop() if seeds else None


def load_run(reader: RepoReader, name: str, rev: str, models: tuple[str, ...]) -> Run:
    lock = yaml.safe_load(reader.read("dvc.lock", rev))
    seed = lock_seed(lock)
    if seed is None:
        raise ReportError(f"{name}: its dvc.lock records no seed; not a finished run of this pipeline")
    tables = {m: pd.read_csv(io.StringIO(reader.read(f"plots/eval/{m}.csv", rev))) for m in models}
    speed, machine = {}, {}
    for m in models:
        try:
            runtime = json.loads(reader.read(f"metrics/runtime/{m}.json", rev))
            speed[m] = float(runtime["seconds_per_epoch_median"])
            machine[m] = {"precision": str(runtime["precision"]), "cpu": str(runtime["cpu"])}
        except Exception:  # noqa: BLE001 - speed is optional: an output missing from the local cache
            pass
    try:
        pixels = json.loads(reader.read("metrics/pixels.json", rev))["pixels"]
    except Exception:  # noqa: BLE001 - a run before the baseline stage existed, or an Omniglot run
        pixels = {}
    try:  # the Omniglot pipeline's baselines: pixels, and the Hausdorff distance's error on the 20 runs
        base = json.loads(reader.read("metrics/baselines.json", rev))
        pixels = {**base["pixels"], "hausdorff_lake_error": base["hausdorff"]["lake_error"]}
    except Exception:  # noqa: BLE001 - MNIST's pipeline has no such file
        pass
    return Run(name, rev, int(seed), tables, speed, pixels, machine=machine)


def find_runs(reader: RepoReader, revs: list[str] | None, models: tuple[str, ...] = MODELS,
              vary: dict | None = None) -> list[Run]:
    """The named revisions, or HEAD plus every experiment that differs from HEAD in ``seed`` alone
    (by the params and code hashes its dvc.lock records, not by what params.yaml says); with ``vary``
    ({param: value}), the experiments that differ from HEAD in ``seed`` and ran those params at those values."""
    vary = vary or {}
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
        ref = identity(yaml.safe_load(reader.read("dvc.lock", head)), stages, tuple(vary))
    except Exception as exc:  # noqa: BLE001
        raise ReportError(f"HEAD has no finished pipeline to compare with ({exc.__class__.__name__}: {exc})") from None
    runs: dict[int, Run] = {}
    for name, sha in [("HEAD", head)] + reader.experiments():
        try:
            lock = yaml.safe_load(reader.read("dvc.lock", sha))
            if identity(lock, stages, tuple(vary)) != ref:
                continue
            if any(not lock_values(lock, k) or any(v != want for v in lock_values(lock, k)) for k, want in vary.items()):
                continue
            run = load_run(reader, name, sha, models)
            run.identity = ref
        except Exception:  # noqa: BLE001 - a revision without a finished pipeline is not a replicate
            continue
        runs.setdefault(run.seed, run)  # HEAD first, then the newest experiment of each seed
    return [runs[s] for s in sorted(runs)]


# --- replicates as tracked files ------------------------------------------------------------------


def record(r: Run) -> dict:
    """A run as its replicate file holds it (plain JSON types; a missing value is None)."""
    tables = {m: t.astype(object).where(t.notna(), None).to_dict("list") for m, t in r.tables.items()}
    return json.loads(json.dumps({"seed": r.seed, "name": r.name, "rev": r.rev, "seconds_per_epoch": r.seconds_per_epoch,
                                  "pixels": r.pixels, "identity": r.identity, "machine": r.machine,
                                  "tables": tables}))


def same_result(a: Run, b: Run) -> bool:
    """The same run's results: seed, identity, pixel baseline and every per-epoch figure equal."""
    keys = ("seed", "identity", "pixels", "tables")
    ra, rb = record(a), record(b)
    return all(ra[k] == rb[k] for k in keys)


def write_replicates(runs: list[Run], folder: str | Path) -> None:
    """One plain JSON file per run, ``<folder>/seed-<N>.json``: all the report reads of it (per model the
    per-epoch table as {column: [values]}, missing values null). Experiments live in one machine's git refs;
    these files, tracked by git, let any clone rebuild the report. Files of other seeds are removed, so the
    folder holds exactly the replicates of the report written beside it."""
    from ..atomic import write_bytes

    folder = Path(folder)
    for r in runs:
        write_bytes(folder / f"seed-{r.seed}.json", (json.dumps(record(r), indent=1, allow_nan=False) + "\n").encode())
    for path in folder.glob("seed-*.json"):
        if path.name not in {f"seed-{r.seed}.json" for r in runs}:
            path.unlink()


def read_replicates(folder: str | Path) -> list[Run]:
    """The runs that write_replicates wrote to ``folder``, by seed (none if there are none)."""
    runs = []
    for path in Path(folder).glob("seed-*.json"):
        try:
            d = json.loads(path.read_text())
            tables = {m: pd.DataFrame(t).apply(pd.to_numeric) for m, t in d["tables"].items()}  # null -> NaN
            runs.append(Run(str(d["name"]), str(d["rev"]), int(d["seed"]), tables, dict(d["seconds_per_epoch"]),
                            dict(d.get("pixels") or {}), dict(d.get("identity") or {}), dict(d.get("machine") or {})))
            if path.name != f"seed-{runs[-1].seed}.json":  # a seed counted twice, another missing
                raise ReportError(f"{path}: holds seed {runs[-1].seed}; a replicate file is named by its seed")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ReportError(f"{path}: not a replicate file written by `seeds --write` ({type(exc).__name__}: "
                              f"{first})") from None
    return sorted(runs, key=lambda r: r.seed)


def gather(revs: list[str], from_files: bool, folder: str | Path,
           params_path: str | Path, vary: dict | None = None) -> tuple[list[Run], dict, set[int]]:
    """(runs, the params they ran with, the seeds read from ``folder``): the named revisions; or HEAD and its
    seed replicates among the experiments, joined by the replicate files of every other seed (an earlier
    ``--write``, perhaps in another clone: experiments live in one clone's git refs, so a report grows over
    machines and sessions without losing a seed); or, with ``from_files``, the replicate files alone, with the
    workspace's params. A file used is checked against HEAD's identity first."""
    if from_files:
        runs = read_replicates(folder)
        check_identity(runs, folder, head_identity(vary), vary)
        return runs, yaml.safe_load(Path(params_path).read_text()), {r.seed for r in runs}
    try:
        reader = RepoReader(".")
    except Exception as exc:  # noqa: BLE001 - dvc's NotDvcRepoError and kin: not run in a project
        raise ReportError(f"{Path.cwd()}: not a DVC project ({type(exc).__name__}); run it in the project's folder "
                          "(omniglot/ for Omniglot's), or pass --from-files") from None
    try:
        runs = find_runs(reader, revs, vary=vary)
        params = yaml.safe_load(reader.read("params.yaml", runs[0].rev)) if runs else None
    finally:
        reader.close()
    have = {r.seed for r in runs}
    files = [] if revs else read_replicates(folder)
    for r in runs:  # a committed run read again: what the file knows and this clone may not (no cache) is kept
        f = next((f for f in files if f.seed == r.seed), None)
        if f is not None and same_result(f, r):
            r.seconds_per_epoch, r.machine = r.seconds_per_epoch or f.seconds_per_epoch, r.machine or f.machine
            if r.name == f.name == "HEAD":
                r.rev = f.rev  # HEAD moved on since; the file names the commit the run was read at
    files = [f for f in files if f.seed not in have]
    if files:
        check_identity(files, folder, head_identity(vary), vary)
        print(f"no experiment here ran seed(s) {', '.join(str(r.seed) for r in files)}{' with ' + str(vary) if vary else ''}: "
              f"reading {folder}/seed-*.json for them", file=sys.stderr)
    if params is None:
        params = yaml.safe_load(Path(params_path).read_text())
    return sorted(runs + files, key=lambda r: r.seed), params, {r.seed for r in files}


def head_identity(vary: dict | None = None, root: str | Path = ".") -> dict | None:
    """HEAD's replicate identity, or None where there is no repo or no finished pipeline to compare with."""
    try:
        reader = RepoReader(root)
    except Exception:  # noqa: BLE001 - not a DVC repo: nothing to check against
        return None
    try:
        head = reader.head()
        stages = set(yaml.safe_load(reader.read("dvc.yaml", head))["stages"])
        return identity(yaml.safe_load(reader.read("dvc.lock", head)), stages, tuple(vary or {}))
    except Exception:  # noqa: BLE001
        return None
    finally:
        reader.close()


def check_identity(runs: list[Run], folder: str | Path, ref: dict | None, vary: dict | None = None) -> None:
    """Refuse a replicate file whose recorded identity is not HEAD's (with ``vary``: but for those params, which it
    must not record at another value): it ran other params or code. A refactor proven byte-identical
    (tools/same_outputs.sh) re-records the code of dvc.lock and of these files alike (tools/relock.py), so it
    orphans none. Files without a recorded identity predate the check."""
    if ref is None:
        return
    vary = vary or {}
    for r in runs:
        mine, clashes = without(r.identity, vary)
        if clashes:
            stage, key, value = clashes[0]
            raise ReportError(f"{folder}/seed-{r.seed}.json: stage {stage} ran {key} = {value!r}, not the "
                              f"{vary[key]!r} this report asks for; name that arm's replicates folder")
        if not mine or mine == ref:
            continue
        where = sorted(set(mine) ^ set(ref)) or [k for k in sorted(ref) if mine[k] != ref[k]]
        stage = where[0]
        what = ("is not in HEAD's pipeline" if stage not in ref else "is missing from it") \
            if stage not in ref or stage not in mine else next(
            (f"ran {k} = {mine[stage]['params'].get(k)!r}, HEAD {ref[stage]['params'].get(k)!r}"
             for k in sorted(set(mine[stage]["params"]) | set(ref[stage]["params"]))
             if mine[stage]["params"].get(k) != ref[stage]["params"].get(k)),
            "ran other code: " + ", ".join(p for p in sorted(set(mine[stage]["code"]) | set(ref[stage]["code"]))
                                           if mine[stage]["code"].get(p) != ref[stage]["code"].get(p)))
        raise ReportError(f"{folder}/seed-{r.seed}.json: stage {stage} {what}; rerun that seed, or, if a refactor "
                          "proven byte-identical changed the code, record it with tools/relock.py")
