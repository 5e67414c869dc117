"""`python -m siamese_mnist search`: the equal-budget search on validation, run as DVC experiments.

``search.yaml`` states the space, the number of trials, the rungs (successive halving) and the selection
metric. A trial is one experiment that trains every model, each with its own draw (trial 3's CNN, Siamese and
triplet settings are independent draws from the same ranges), so every model gets the same trials, epochs
and rule by construction:

    python -m siamese_mnist search queue             # rung 0: one `dvc exp run --queue -n search-r0-tNN -S ...` a trial
    SIAMESE_MNIST_THREADS=1 dvc queue start -j 2     # `dvc queue status` until every task is done
    python -m siamese_mnist search select --write    # -> metrics/search.json, metrics/search.md: the ranking
    python -m siamese_mnist search queue --rung 1    # each model's best `keep` of rung 0, for rung 1's epochs
    SIAMESE_MNIST_THREADS=1 dvc queue start -j 2
    python -m siamese_mnist search select --write    # the winners: the last rung's best on validation
    python -m siamese_mnist search apply             # the winners into params.yaml, each line saying its trial

Selection reads validation figures only (the ``val`` block of ``metrics/<model>.json``), at a rung's final
epoch; the test figures the same files hold are never read (tests/test_search.py scrambles them). ``queue``
skips trials that finished (an experiment of that name, of any baseline) or wait in the queue, so after a
stop the same command queues only what is missing. Several machines sharing a git and a DVC remote each take a
share (``--share 1/2``, ``--share 2/2``), push (``dvc exp push origin -A --run-cache``), and whoever selects
pulls them first (``dvc exp pull origin -A``); ``select`` reads every experiment it finds, of any baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .config import MODELS, Params, ParamsError, params_from_dict, read_yaml
from .queueing import queue_runs, waiting_names

SPEC_FILE = "search.yaml"
METRICS = ("logreg_acc", "map_at_r", "roc_auc")  # the validation figures each trial keeps (metrics/<model>.json)
SELECTABLE = tuple(f"val_{m}" for m in METRICS)
TIE_BREAK = "val_map_at_r"  # then the lower trial number
NAME = re.compile(r"^search-r(\d+)-(t|k)(\d+)$")  # rung 0: trial tNN; rung r > 0: its k-th kept setting


class SearchError(RuntimeError):
    """A search that cannot go on as asked; the message names the file, trial or rung and what to do."""


@dataclass(frozen=True)
class Spec:
    seed: int
    trials: int
    epochs: tuple[int, ...]  # per rung
    keep: tuple[int, ...]  # per rung: how many of the rung before it reruns (rung 0: every trial)
    select: str
    space: dict[str, dict[str, dict]]  # model -> param -> distribution (every_model merged in)
    raw: dict


def load_spec(path: str | Path = SPEC_FILE) -> Spec:
    """search.yaml, checked: every searched key is a param of the model's section, every range drawable."""
    path = Path(path)
    try:
        raw = read_yaml(path.read_text())
    except FileNotFoundError:
        raise SearchError(f"{path}: no such file; the search space lives in search.yaml") from None
    except yaml.YAMLError as exc:
        raise SearchError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    where = f"{path}: "
    if not isinstance(raw, dict):
        raise SearchError(f"{where}should be a mapping")
    unknown = set(raw) - {"seed", "trials", "rungs", "select", "space"}
    if unknown:
        raise SearchError(f"{where}{sorted(unknown)[0]}: unknown key; known: seed, trials, rungs, select, space")
    seed, trials = raw.get("seed", 0), raw.get("trials")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise SearchError(f"{where}seed: {seed!r} should be an integer in 0..{2**32 - 1}")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise SearchError(f"{where}trials: {trials!r} should be an integer >= 1")
    rungs = raw.get("rungs")
    if not isinstance(rungs, list) or not rungs or not all(isinstance(r, dict) for r in rungs):
        raise SearchError(f"{where}rungs: should be a list of {{epochs: N}} (then {{epochs: N, keep: K}})")
    epochs, keep, before = [], [], trials
    for i, r in enumerate(rungs):
        e, k = r.get("epochs"), r.get("keep", before if i == 0 else None)
        if set(r) - {"epochs", "keep"} or (i == 0 and "keep" in r):
            raise SearchError(f"{where}rungs[{i}]: {'keys are epochs' + ('' if i == 0 else ' and keep')}")
        if not isinstance(e, int) or isinstance(e, bool) or e < 1 or (epochs and e <= epochs[-1]):
            raise SearchError(f"{where}rungs[{i}].epochs: {e!r} should be an integer >= 1, more than the rung before")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= before:
            raise SearchError(f"{where}rungs[{i}].keep: {k!r} should be an integer in 1..{before}")
        epochs.append(e)
        keep.append(k)
        before = k
    if raw.get("select") not in SELECTABLE:
        raise SearchError(f"{where}select: {raw.get('select')!r} is not one of {', '.join(SELECTABLE)}")
    space_raw = raw.get("space") or {}
    if not isinstance(space_raw, dict) or set(space_raw) - {"every_model", *MODELS}:
        raise SearchError(f"{where}space: its sections are every_model, {', '.join(MODELS)}")
    space = {m: {**(space_raw.get("every_model") or {}), **(space_raw.get(m) or {})} for m in MODELS}
    for m, keys in space.items():
        known = {f.name for f in fields(Params().section(m))}
        for key, dist in keys.items():
            if key not in known:
                raise SearchError(f"{where}space: {m}.{key} is not a param of {m} (known: {', '.join(sorted(known))})")
            _check_dist(dist, f"{where}space.{key}")
    spec = Spec(seed, trials, tuple(epochs), tuple(keep), raw["select"], space, raw)
    for t in range(1, trials + 1):  # every draw must be a valid params file: found now, not in a queued run
        settings = draw(spec, t)
        try:
            params_from_dict({**settings, "train": {"epochs": epochs[-1]}, "render": {"epochs": [0]}})
        except ParamsError as exc:
            raise SearchError(f"{where}trial {t} draws an invalid setting: {exc}") from None
    return spec


def _check_dist(dist: Any, where: str) -> None:
    if not isinstance(dist, dict) or len(dist) != 1:
        raise SearchError(f"{where}: should be one of {{choice: [...]}}, {{log_uniform: [low, high]}}, "
                          "{uniform: [low, high]}")
    (kind, arg), = dist.items()
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise SearchError(f"{where}.choice: should be a non-empty list")
    elif kind in ("log_uniform", "uniform"):
        ok = isinstance(arg, list) and len(arg) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                              and math.isfinite(v) for v in arg)
        if not ok or not arg[0] < arg[1] or (kind == "log_uniform" and arg[0] <= 0):
            raise SearchError(f"{where}.{kind}: should be [low, high] with {'0 < ' if kind == 'log_uniform' else ''}"
                              "low < high")
    else:
        raise SearchError(f"{where}: {kind!r} is not one of choice, log_uniform, uniform")


def draw(spec: Spec, trial: int) -> dict[str, dict[str, Any]]:
    """Trial ``trial``'s settings (1-based), per model: draws from ``default_rng([seed, trial, model])`` alone, in
    search.yaml's order, so adding trials leaves earlier draws as they were (editing the space makes a new
    search). Numbers keep 3 significant digits."""
    out = {}
    for i, m in enumerate(MODELS):
        rng = np.random.default_rng([spec.seed, trial, i])
        settings = {}
        for key, dist in spec.space[m].items():
            (kind, arg), = dist.items()
            if kind == "choice":
                settings[key] = arg[int(rng.integers(len(arg)))]
            elif kind == "log_uniform":
                settings[key] = _round3(math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]))))
            else:
                settings[key] = _round3(rng.uniform(arg[0], arg[1]))
        out[m] = settings
    return out


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def _scalar(value: Any) -> str:
    """A value as `dvc exp run -S` and PyYAML both read it back: no exponent (PyYAML reads 1e-05 as a string)."""
    if isinstance(value, float):
        return np.format_float_positional(value, trim="0")
    return str(value).lower() if isinstance(value, bool) else str(value)


def experiment_name(rung: int, slot: int) -> str:
    """search-r0-t03 = rung 0's trial 3; search-r1-k2 = rung 1's run of each model's second-best setting."""
    return f"search-r{rung}-t{slot:02d}" if rung == 0 else f"search-r{rung}-k{slot}"


def overrides(spec: Spec, rung: int, trial_of: dict[str, int], render_epochs: list[int]) -> list[str]:
    """The `-S` arguments of one experiment: each model's settings of its trial, the rung's epochs, and the
    params.yaml render epochs that the rung reaches (plus its last)."""
    epochs = spec.epochs[rung]
    args = [f"{m}.{k}={_scalar(v)}" for m in MODELS for k, v in draw(spec, trial_of[m])[m].items()]
    shown = sorted({e for e in render_epochs if e <= epochs} | {epochs})
    return args + [f"train.epochs={epochs}", f"render.epochs=[{','.join(map(str, shown))}]"]


# --- reading finished trials ---------------------------------------------------------------------------


@dataclass
class Trial:
    """One finished experiment of the search: which trial each model ran, and its metrics files."""

    name: str
    rev: str
    rung: int
    slot: int
    trial_of: dict[str, int]  # model -> trial number whose settings it ran
    settings: dict[str, dict[str, Any]]  # model -> the searched params as its params.yaml recorded them
    metrics: dict[str, dict]  # model -> metrics/<model>.json (test figures too: selection must not read them)
    train_seconds: dict[str, float]
    failed: bool = False  # recorded as failed (`select --failed NAME`): ranked last for every model, no figures


def failed_trial(spec: Spec, name: str, kept_by_rung: dict[int, dict[str, list[int]]]) -> Trial:
    """The run ``name`` recorded as failed (it diverged or cannot finish): what it would have run, no figures.
    Without it a rung whose run fails never completes; ranked last, it is the worst of its rung for every model."""
    m = NAME.match(name)
    rung, slot = (int(m.group(1)), int(m.group(3))) if m else (-1, 0)
    if not m or rung >= len(spec.epochs) or (m.group(2) == "t") != (rung == 0):
        raise SearchError(f"--failed {name}: not a run of this search (search-r0-tNN, or search-rR-kK for R >= 1)")
    if name != experiment_name(rung, slot):  # the queue knows it by this spelling alone
        raise SearchError(f"--failed {name}: the run is named {experiment_name(rung, slot)}")
    try:
        plan = slot_plan(spec, rung, kept_by_rung.get(rung - 1))
    except SearchError as exc:
        raise SearchError(f"--failed {name}: {exc}") from None
    if slot not in plan:
        raise SearchError(f"--failed {name}: rung {rung} has no run {slot}")
    return Trial(name, "", rung, slot, plan[slot], {mm: draw(spec, plan[slot][mm])[mm] for mm in MODELS},
                 {mm: {"val": None} for mm in MODELS}, {}, failed=True)


def slot_plan(spec: Spec, rung: int, kept: dict[str, list[int]] | None) -> dict[int, dict[str, int]]:
    """slot -> {model: trial}: rung 0 runs every trial; rung r runs the k-th kept trial of each model."""
    if rung == 0:
        return {t: {m: t for m in MODELS} for t in range(1, spec.trials + 1)}
    if kept is None:
        raise SearchError(f"rung {rung} needs rung {rung - 1} finished and selected first: "
                          f"python -m siamese_mnist search select --write")
    return {k: {m: kept[m][k - 1] for m in MODELS} for k in range(1, spec.keep[rung] + 1)}


def read_trial(reader, name: str, sha: str, spec: Spec, plan: dict[int, dict[str, int]]) -> Trial | None:
    """The finished trial ``name`` at ``sha``, or None where it did not finish (a failed or cut-off run).
    Refuses a trial whose recorded settings are not what search.yaml draws for it now."""
    rung, kind, slot = NAME.match(name).groups()
    rung, slot = int(rung), int(slot)
    try:
        params = read_yaml(reader.read("params.yaml", sha))
        metrics = {m: json.loads(reader.read(f"metrics/{m}.json", sha))[m] for m in MODELS}
        last = {m: int(pd.read_csv(io.StringIO(reader.read(f"plots/eval/{m}.csv", sha)))["epoch"].iloc[-1])
                for m in MODELS}
    except Exception:  # noqa: BLE001 - an experiment without the pipeline's files did not finish
        return None
    if params.get("train", {}).get("epochs") != spec.epochs[rung] or set(last.values()) != {spec.epochs[rung]}:
        return None
    trial_of = plan[slot]
    expected = {m: draw(spec, trial_of[m])[m] for m in MODELS}
    settings = {m: {k: params[m].get(k) for k in expected[m]} for m in MODELS}
    for m in MODELS:
        for k, v in expected[m].items():
            if settings[m][k] != v and rung == 0:
                raise SearchError(f"{name} ({sha[:7]}) ran {m}.{k}={settings[m][k]!r}, but search.yaml draws "
                                  f"{v!r} for it now: restore search.yaml, or `dvc exp remove {name}` and queue again")
            if settings[m][k] != v:  # the rung before kept other trials since this run: not a run of this plan
                print(f"search: skipping {name} ({sha[:7]}): it ran {m}.{k}={settings[m][k]!r}, not the setting rung "
                      f"{rung - 1} keeps now ({v!r}); `dvc exp remove {name}` and queue it again", file=sys.stderr)
                return None
    seconds = {}
    for m in MODELS:
        try:
            seconds[m] = float(json.loads(reader.read(f"metrics/runtime/{m}.json", sha))["train_seconds"])
        except Exception:  # noqa: BLE001 - wall time is optional: an output missing from the local cache
            pass
    return Trial(name, sha, rung, slot, trial_of, settings, metrics, seconds)


def recorded(spec: Spec, saved: dict | None, kept_by_rung: dict[int, dict[str, list[int]]]) -> dict[int, dict[int, Trial]]:
    """The finished trials a committed metrics/search.json records (validation figures only), where they are runs
    of the plan: experiments live in one machine's git refs, the tracked file in every clone."""
    out: dict[int, dict[int, Trial]] = {}
    for entry in (saved or {}).get("rungs", []):
        for t in entry.get("trials", []):
            m = NAME.match(str(t.get("name", "")))
            if not m:
                continue
            rung, slot = int(m.group(1)), int(m.group(3))
            try:
                plan = slot_plan(spec, rung, kept_by_rung.get(rung - 1)) if rung < len(spec.epochs) else {}
            except SearchError:
                continue
            if plan.get(slot) != t["trial_of"] or any(t["settings"][mm] != draw(spec, t["trial_of"][mm])[mm]
                                                      for mm in MODELS):
                continue  # recorded under another space or another selection: not a run of this plan
            failed = bool(t.get("failed"))
            out.setdefault(rung, {})[slot] = Trial(t["name"], t["rev"], rung, slot, t["trial_of"], t["settings"],
                                                   {mm: {"val": None if failed else t["val"][mm]} for mm in MODELS},
                                                   dict(t.get("train_seconds", {})), failed)
    return out


def collect(reader, spec: Spec, kept_by_rung: dict[int, dict[str, list[int]]],
            saved: dict | None = None) -> dict[int, dict[int, Trial]]:
    """rung -> slot -> the newest finished experiment of that name (of any baseline), or else the trial as the
    committed ``saved`` report records it."""
    found: dict[int, dict[int, Trial]] = {}
    for name, sha in reader.experiments():  # newest first
        m = NAME.match(name)
        if not m:
            continue
        rung, slot = int(m.group(1)), int(m.group(3))
        if rung >= len(spec.epochs) or (m.group(2) == "t") != (rung == 0) or slot in found.get(rung, {}):
            continue
        try:
            plan = slot_plan(spec, rung, kept_by_rung.get(rung - 1))
        except SearchError:
            continue  # a later rung's run while its rung before is not selected here: read it once it is
        if slot not in plan:
            continue
        trial = read_trial(reader, name, sha, spec, plan)
        if trial is not None:
            found.setdefault(rung, {})[slot] = trial
    for rung, trials in recorded(spec, saved, kept_by_rung).items():
        for slot, trial in trials.items():
            found.setdefault(rung, {}).setdefault(slot, trial)
    return found


# --- selection: validation figures only ----------------------------------------------------------------


def rank(trials: list[Trial], model: str, select: str) -> list[Trial]:
    """``trials`` best first for ``model``: by the validation metric ``select`` (val_logreg_acc = the ``val``
    block's logreg_acc), ties by validation MAP@R, then by the lower trial number; failed runs last. Reads
    nothing else."""
    def key(t: Trial):
        if t.failed:
            return (1, 0.0, 0.0, t.trial_of[model])
        val = t.metrics[model]["val"]
        return (0, -val[select.removeprefix("val_")], -val[TIE_BREAK.removeprefix("val_")], t.trial_of[model])
    return sorted(trials, key=key)


def summarise(spec: Spec, found: dict[int, dict[int, Trial]]) -> dict:
    """The content of metrics/search.json: every finished trial of every rung with its settings and validation
    figures, each complete rung's ranking and what it keeps, and the winners once the last rung is complete."""
    rungs, kept = [], None
    for r, epochs in enumerate(spec.epochs):
        plan = slot_plan(spec, r, kept) if r == 0 or kept is not None else {}
        trials = [found.get(r, {})[s] for s in sorted(found.get(r, {})) if s in plan]
        entry = {"rung": r, "epochs": epochs, "runs": len(plan) if plan else spec.keep[r], "finished": len(trials),
                 "trials": [{"name": t.name, "rev": t.rev, "trial_of": t.trial_of, "settings": t.settings,
                             "val": None if t.failed else {m: {k: t.metrics[m]["val"][k] for k in METRICS}
                                                           for m in MODELS},
                             "train_seconds": t.train_seconds, **({"failed": True} if t.failed else {})}
                            for t in trials]}
        complete = bool(plan) and len(trials) == len(plan)
        entry["complete"] = complete
        if complete:
            entry["ranking"] = {m: [t.trial_of[m] for t in rank(trials, m, spec.select)] for m in MODELS}
        rungs.append(entry)
        kept = None
        if complete and r + 1 < len(spec.epochs):  # a failed run is never kept: its setting is known not to train
            failed = {m: {t.trial_of[m] for t in trials if t.failed} for m in MODELS}
            ok = {m: [x for x in entry["ranking"][m] if x not in failed[m]] for m in MODELS}
            if all(len(ok[m]) >= spec.keep[r + 1] for m in MODELS):
                kept = entry["kept"] = {m: ok[m][:spec.keep[r + 1]] for m in MODELS}
            else:
                entry["note"] = (f"rung {r + 1} keeps {spec.keep[r + 1]}, but only {min(map(len, ok.values()))} "
                                 f"run(s) of rung {r} finished: queue a failed one again "
                                 f"(search select --write --retry NAME, then search queue)")
    out = {"select": f"{spec.select} at each rung's final epoch; ties: {TIE_BREAK}, then the lower trial",
           "space": spec.raw["space"], "seed": spec.seed, "trials": spec.trials,
           "rungs": rungs}
    epochs_per_model = sum(e * (spec.trials if r == 0 else spec.keep[r]) for r, e in enumerate(spec.epochs))
    seconds = {m: sum(t["train_seconds"].get(m, 0.0) for e in rungs for t in e["trials"]) for m in MODELS}
    out["budget"] = {"epochs_per_model": epochs_per_model,
                     "train_hours_so_far": {m: round(s / 3600, 2) for m, s in seconds.items()}}
    last = rungs[-1]
    if last["complete"] and all(t.get("failed") for t in last["trials"]):
        last["note"] = "every run of the last rung failed: no winners (search select --write --retry NAME)"
    elif last["complete"]:
        out["winners"] = {}
        for m in MODELS:
            best = last["ranking"][m][0]
            run = next(t for t in last["trials"] if t["trial_of"][m] == best)
            out["winners"][m] = {"trial": best, "experiment": run["name"], "settings": run["settings"][m],
                                 "val": run["val"][m]}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def markdown(report: dict) -> str:
    """metrics/search.md: per rung and model, every finished trial's settings and validation figures, best first
    where the rung is complete; then the winners."""
    lines = ["# The equal-budget search", "",
             "Written by `python -m siamese_mnist search select --write` from the search's experiments "
             "(`metrics/search.json`); the space is `search.yaml`.",
             f"{report['trials']} trials per model (seed {report['seed']}), successive halving over "
             + ", ".join(f"{r['runs']} × {r['epochs']} epochs" for r in report["rungs"])
             + f" = {report['budget']['epochs_per_model']} training epochs per model; selected on "
             f"{report['select']}. Validation figures only: no test figure of a trial is read or shown."]
    for r in report["rungs"]:
        state = "complete" if r["complete"] else f"{r['finished']} of {r['runs']} finished"
        lines += ["", f"## Rung {r['rung']}: {r['epochs']} epochs ({state})"]
        if r.get("note"):
            lines += ["", f"**{r['note']}**"]
        if not r["trials"]:
            lines += ["", "No run of this rung has finished yet."]
            continue
        for m in MODELS:
            rows = r["trials"]
            if r.get("ranking"):
                order = r["ranking"][m]
                rows = sorted(rows, key=lambda t: order.index(t["trial_of"][m]))
            keys = list(rows[0]["settings"][m]) if rows else []
            lines += ["", f"### {m}", "", "| trial | " + " | ".join(keys) + " | val logreg % | val MAP@R % | "
                      "val ROC-AUC | train min |", "|---" * (len(keys) + 5) + "|"]
            kept = set(r.get("kept", {}).get(m, []))
            for t in rows:
                s = t["train_seconds"].get(m)
                mark = " (kept)" if t["trial_of"][m] in kept else ""
                figures = ("failed | failed | failed" if t.get("failed") else
                           f"{_pct(t['val'][m]['logreg_acc'])} | {_pct(t['val'][m]['map_at_r'])} | "
                           f"{t['val'][m]['roc_auc']:.4f}")
                lines.append(f"| {t['trial_of'][m]}{mark} | " + " | ".join(str(t["settings"][m][k]) for k in keys)
                             + f" | {figures} | " + (f"{s / 60:.1f}" if s is not None else "–") + " |")
    if "winners" in report:
        lines += ["", "## Winners (best on validation at the last rung)", "", "| model | trial | settings | val logreg % |",
                  "|---|---|---|---|"]
        for m, w in report["winners"].items():
            settings = ", ".join(f"{k}={v}" for k, v in w["settings"].items())
            lines.append(f"| {m} | {w['trial']} | {settings} | {_pct(w['val']['logreg_acc'])} |")
    return "\n".join(lines) + "\n"


def retry(saved: dict | None, names: list[str]) -> dict | None:
    """``saved`` without the recorded failures of ``names`` (each must be one): they are runs to queue again."""
    recorded_failed = {t["name"] for e in (saved or {}).get("rungs", []) for t in e.get("trials", []) if t.get("failed")}
    for name in names:
        if name not in recorded_failed:
            raise SearchError(f"--retry {name}: metrics/search.json records no failed run of that name")
    if not names:
        return saved
    out = json.loads(json.dumps(saved))
    for e in out["rungs"]:
        e["trials"] = [t for t in e["trials"] if t["name"] not in names]
    return out


def add_failed(spec: Spec, found: dict[int, dict[int, Trial]], names: list[str],
               kept_by_rung: dict[int, dict[str, list[int]]], final: bool) -> None:
    """Record each run of ``names`` as failed in ``found`` where its rung is planned (refused where it finished);
    ``final``: a name whose rung is not planned yet is an error."""
    for name in names:
        try:
            trial = failed_trial(spec, name, kept_by_rung)
        except SearchError:
            if final:
                raise
            continue
        there = found.get(trial.rung, {}).get(trial.slot)
        if there is not None and not there.failed:
            raise SearchError(f"--failed {name}: it finished ({there.rev[:7] or 'recorded'}); only a run that "
                              "cannot finish is recorded as failed")
        found.setdefault(trial.rung, {})[trial.slot] = trial


# --- the winners become the defaults ----------------------------------------------------------------


SECTION = re.compile(r"^([A-Za-z_]\w*):")
KEY_LINE = re.compile(r"^  ([A-Za-z_]\w*):[^#]*?(?:#\s?(.*))?$")


def apply_winners(text: str, report: dict) -> str:
    """``params.yaml``'s text with each winner's settings in its model's section, each such line's comment
    starting with where it came from; every other line as it was (PyYAML would drop the comments: a line edit
    keeps them)."""
    winners = report.get("winners")
    if not winners:
        last = (report.get("rungs") or [{}])[-1]
        raise SearchError(f"metrics/search.json has no winners: {last['note']}" if last.get("note") else
                          "metrics/search.json has no winners yet: its last rung is not complete "
                          "(python -m siamese_mnist search select --write)")
    todo = {(m, k): (v, w["trial"]) for m, w in winners.items() for k, v in w["settings"].items()}
    lines, section = text.splitlines(keepends=True), None
    for i, line in enumerate(lines):
        top = SECTION.match(line)
        if top:
            section = top.group(1)
            continue
        kv = KEY_LINE.match(line.rstrip("\n"))
        if kv and (section, kv.group(1)) in todo:
            value, trial = todo.pop((section, kv.group(1)))
            old = kv.group(2) or ""
            if old.startswith("searched: trial "):  # written by an earlier apply: keep what followed it
                old = old.split("; ", 1)[1] if "; " in old else ""
            note = f"searched: trial {trial}" + (f"; {old}" if old else "")
            text_value = _scalar(value)
            if isinstance(value, str) and read_yaml(f"x: {text_value}")["x"] != value:
                text_value = json.dumps(value)  # a string YAML would read as another type (off, null, 1e-3)
            lines[i] = f"  {kv.group(1)}: {text_value}".ljust(25) + f" # {note}\n"
    if todo:
        (m, k), _ = next(iter(todo.items()))
        raise SearchError(f"params.yaml: no line `  {k}: ...` in section {m}: to write the winner's {m}.{k}")
    return "".join(lines)


# --- queueing ------------------------------------------------------------------------------------------


def parse_share(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} should be I/N with 1 <= I <= N, e.g. 1/2")
    return int(m.group(1)), int(m.group(2))


def queue(spec: Spec, rung: int, report: dict | None, done: set[str], waiting: set[str], render_epochs: list[int],
          share: tuple[int, int] = (1, 1)) -> list[tuple[str, list[str]]]:
    """(name, -S arguments) of each run of ``rung`` in this machine's share that is neither done nor waiting."""
    if not 0 <= rung < len(spec.epochs):
        raise SearchError(f"rung {rung}: search.yaml has rungs 0..{len(spec.epochs) - 1}")
    kept = None
    if rung > 0:
        before = (report or {}).get("rungs", [])
        if len(before) >= rung and before[rung - 1].get("note"):
            raise SearchError(f"rung {rung - 1}: {before[rung - 1]['note']}")
        if len(before) < rung or not before[rung - 1].get("kept"):
            raise SearchError(f"rung {rung} needs rung {rung - 1} finished and selected first: run its queue, then "
                              "python -m siamese_mnist search select --write")
        kept = before[rung - 1]["kept"]
    plan = slot_plan(spec, rung, kept)
    i, n = share
    return [(experiment_name(rung, s), overrides(spec, rung, plan[s], render_epochs))
            for k, s in enumerate(sorted(plan)) if k % n == i - 1
            and experiment_name(rung, s) not in done | waiting]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue the runs of a rung that are neither finished nor queued")
    q.add_argument("--rung", type=int, default=0)
    q.add_argument("--share", type=parse_share, default=(1, 1), metavar="I/N",
                   help="this machine's share of the rung's runs: every N-th, from the I-th (default 1/1: all)")
    q.add_argument("--dry-run", action="store_true", help="print the `dvc exp run --queue` commands only")
    q.set_defaults(failed=[], retry=[])  # queue plans from the recorded failures; it records none itself
    a = sub.add_parser("apply", help="write the winners of metrics/search.json into params.yaml, commented")
    a.add_argument("--json-out", default="metrics/search.json")
    a.add_argument("--params", default="params.yaml")
    s = sub.add_parser("select", help="rank the finished trials on validation; --write updates metrics/search.*")
    s.add_argument("--write", action="store_true")
    s.add_argument("--failed", action="append", default=[], metavar="NAME",
                   help="record run NAME (e.g. search-r0-t05) as failed: it diverged or cannot finish; ranked last "
                        "for every model, so its rung can complete (repeatable)")
    s.add_argument("--retry", action="append", default=[], metavar="NAME",
                   help="take back a recorded --failed NAME: `search queue` queues it again (repeatable)")
    for p in (q, s):
        p.add_argument("--spec", default=SPEC_FILE)
        p.add_argument("--json-out", default="metrics/search.json")
        p.add_argument("--markdown-out", default="metrics/search.md")
        p.add_argument("--params", default="params.yaml")
    args = ap.parse_args(argv)
    from .io import DiskFullError, write_bytes, write_json
    from .replicates import RepoReader

    try:
        if args.command == "apply":
            try:
                report = json.loads(Path(args.json_out).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise SearchError(f"{args.json_out}: cannot be read ({exc}); run search select --write first") from None
            text = apply_winners(Path(args.params).read_text(), report)
            params_from_dict(read_yaml(text), complete=True)  # still a valid params file, or nothing is written
            write_bytes(args.params, text.encode())
            print(f"wrote the winners into {args.params}: " + ", ".join(
                f"{m} trial {w['trial']}" for m, w in report["winners"].items()), file=sys.stderr)
            return 0
        spec = load_spec(args.spec)
        saved = json.loads(Path(args.json_out).read_text()) if Path(args.json_out).exists() else None
        reader = RepoReader(".")
        try:
            if args.command == "queue" and saved is not None:
                # what a later rung runs comes from the committed selection, as `queue` plans it: a machine
                # without the other machines' rung-0 experiments still sees its own rung-1 runs as done
                kept = {e["rung"]: e["kept"] for e in saved.get("rungs", []) if e.get("kept")}
                found = collect(reader, spec, kept, saved)
            else:
                if set(args.retry) & set(args.failed):
                    raise SearchError(f"{sorted(set(args.retry) & set(args.failed))[0]}: both --failed and --retry")
                saved = retry(saved, args.retry)
                kept, found = {}, {}
                for r in range(len(spec.epochs)):  # a rung's plan needs the ranking of the rung before
                    found = collect(reader, spec, kept, saved)
                    add_failed(spec, found, args.failed, kept, final=r == len(spec.epochs) - 1)
                    report = summarise(spec, found)
                    kept = {e["rung"]: e["kept"] for e in report["rungs"] if e.get("kept")}
        finally:
            reader.close()
        if args.command == "queue":
            done = {t.name for rung in found.values() for t in rung.values()}
            render_epochs = read_yaml(Path(args.params).read_text())["render"]["epochs"]
            todo = queue(spec, args.rung, saved, done, set() if args.dry_run else waiting_names(), render_epochs,
                         args.share)
            queue_runs(todo, args.dry_run)
            print(f"rung {args.rung}: {len(todo)} run(s) {'to queue' if args.dry_run else 'queued'}"
                  + ("" if args.dry_run or not todo else
                     "; run them: SIAMESE_MNIST_THREADS=1 dvc queue start -j <cores>, then `search select --write`"),
                  file=sys.stderr)
            return 0
        text = markdown(report)
        if not args.write:
            sys.stdout.write(text)
            return 0
        write_json(args.json_out, report)
        write_bytes(args.markdown_out, text.encode())
        print(f"wrote {args.json_out} and {args.markdown_out}: "
              + "; ".join(f"rung {e['rung']} {e['finished']}/{e['runs']}" for e in report["rungs"]))
        return 0
    except SearchError as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 2
    except ParamsError as exc:
        print(f"search: {args.params} with the winners would not load ({exc}); nothing written", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"search: `{' '.join(exc.cmd[:6])} ...` failed (exit {exc.returncode})", file=sys.stderr)
        return 2
    except DiskFullError as exc:
        print(f"search: {exc.strerror}", file=sys.stderr)
        return 2
