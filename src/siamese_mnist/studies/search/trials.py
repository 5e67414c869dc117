"""The search's finished trials, read back from its experiments (or from the committed metrics/search.json), and
the runs recorded as failed."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...config import MODELS
from ...typed_yaml import read_yaml
from .spec import NAME, SearchError, Spec, draw, experiment_name


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
            # in search.yaml's order, as an experiment's are (the JSON file sorts its keys): the table's columns
            settings = {mm: {k: t["settings"][mm][k] for k in draw(spec, t["trial_of"][mm])[mm]} for mm in MODELS}
            out.setdefault(rung, {})[slot] = Trial(t["name"], t["rev"], rung, slot, t["trial_of"], settings,
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
