"""search.yaml checked, and what each trial draws from it: its settings and its `dvc exp run -S` arguments."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ...config import MODELS, Params, params_from_dict
from ...errors import ParamsError
from ...typed_yaml import read_yaml

SPEC_FILE = "search.yaml"
# The validation figures a trial keeps (metrics/<model>.json): its pipeline's first — MNIST's logistic regression,
# Omniglot's 20-way one-shot accuracy on the held-out alphabets — then MAP@R and ROC-AUC.
PRIMARY = {"logreg_acc": "val logreg %", "oneshot_acc": "val 20-way one-shot %"}
SELECTABLE = tuple(f"val_{m}" for m in (*PRIMARY, "map_at_r", "roc_auc"))


def kept_figures(val: dict) -> tuple[str, ...]:
    """The keys of a trial's validation figures, in the order its tables show them."""
    return (next(k for k in PRIMARY if k in val), "map_at_r", "roc_auc")
TIE_BREAK = "val_map_at_r"  # then the lower trial number
MAX_TRIALS = 1000  # each a run of every model: 1 000 is months of one machine already; more is a typo
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
    except UnicodeDecodeError as exc:
        raise SearchError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
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
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_TRIALS:
        raise SearchError(f"{where}trials: {trials!r} should be an integer in 1..{MAX_TRIALS}")
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
    if empty := [m for m in MODELS if not space[m]]:
        raise SearchError(f"{where}space: searches nothing for {empty[0]}; list a param under every_model or {empty[0]}")
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


def yaml_scalar(value: Any) -> str:
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
    args = [f"{m}.{k}={yaml_scalar(v)}" for m in MODELS for k, v in draw(spec, trial_of[m])[m].items()]
    shown = sorted({e for e in render_epochs if e <= epochs} | {epochs})
    return args + [f"train.epochs={epochs}", f"render.epochs=[{','.join(map(str, shown))}]"]
