"""The result tables of README.md and docs/results.md, written from the tracked files they cite.

    python tools/readme_tables.py headline    # README: the default run's logistic regression and MAP@R
    python tools/readme_tables.py final       # final metrics of the default run
    python tools/readme_tables.py retrieval   # retrieval and one-shot, with the raw-pixel baseline
    python tools/readme_tables.py per-epoch   # logistic-regression accuracy per epoch, test and validation
    python tools/readme_tables.py seeds       # the seeds report: final metrics over replicates
    python tools/readme_tables.py seed-diffs  # the seeds report: paired differences to the CNN, by epoch
    python tools/readme_tables.py search      # the equal-budget search: budget, winner and runner-up per model
    python tools/readme_tables.py unseen      # the unseen-digits report: each model and the pixels, and model − pixels
    python tools/readme_tables.py omniglot    # the Omniglot seeds report: the 20 runs, episodes, transfer, baselines
    python tools/readme_tables.py omniglot-search  # the Omniglot search: budget, winner and runner-up per model
    python tools/readme_tables.py omniglot-run     # the Omniglot default run (one seed): each model and the baselines

``python tools/readme_tables.py --write`` rewrites every such table in place after a new run.
``tests/pipeline/test_readme.py`` regenerates every table whose "Source:" line names one of these commands, in
README.md or any page under docs/, and requires the page to hold exactly that table: a figure edited
by hand, or left behind by a new run, fails the test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from siamese_mnist.config import MODELS  # noqa: E402 - the one model list

MINING = {"none": "random triplets", "semihard": "semi-hard negatives", "hardest": "hardest negatives"}


def long_names(root: Path = ROOT) -> dict[str, str]:
    """Each model with the settings that define it, as params.yaml has them."""
    import yaml

    p = yaml.safe_load((root / "params.yaml").read_text())
    return {"cnn": "CNN (2-D bottleneck)", "siamese": f"Siamese (contrastive, margin {p['siamese']['margin']:g})",
            "triplet": f"Triplet (margin {p['triplet']['margin']:g}, {MINING[p['triplet']['mining']]})"}


LONG = long_names()
SHORT = {"cnn": "CNN", "siamese": "Siamese", "triplet": "Triplet"}
EPOCHS = (0, 1, 2, 5, 10, 20, 30, 40, 50)


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    return {m: pd.read_csv(root / f"plots/eval/{m}.csv") for m in MODELS}


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _bold_best(finals: dict, key: str, model: str, text: str) -> str:
    return f"**{text}**" if model == max(finals, key=lambda m: finals[m][key]) else text


def headline(root: Path = ROOT) -> str:
    """The README's one results table: final logistic regression and MAP@R, test and validation."""
    f = {m: t.iloc[-1] for m, t in _tables(root).items()}
    px = json.loads((root / "metrics/pixels.json").read_text())["pixels"]
    rows = ["| model | logistic regression, test | validation | MAP@R, test | validation |",
            "|---|---|---|---|---|",
            f"| raw pixels (784-D) | – | – | {_pct(px['map_at_r'])} | – |"]
    for m in MODELS:
        r = f[m]
        rows.append(f"| {SHORT[m]} | {_bold_best(f, 'logreg_acc', m, _pct(r.logreg_acc))} | "
                    f"{_bold_best(f, 'val_logreg_acc', m, _pct(r.val_logreg_acc))} | "
                    f"{_bold_best(f, 'map_at_r', m, _pct(r.map_at_r))} | "
                    f"{_bold_best(f, 'val_map_at_r', m, _pct(r.val_map_at_r))} |")
    return "\n".join(rows)


def final(root: Path = ROOT) -> str:
    f = {m: t.iloc[-1] for m, t in _tables(root).items()}
    rows = ["| model | logistic regression, test | validation | C chosen | 5-NN, test | silhouette, test | "
            "verification ROC-AUC, test | pair acc., test, at the validation threshold | threshold |",
            "|---|---|---|---|---|---|---|---|---|"]
    for m in MODELS:
        r = f[m]
        rows.append(f"| {long_names(root)[m]} | {_bold_best(f, 'logreg_acc', m, _pct(r.logreg_acc))} | {_pct(r.val_logreg_acc)} | "
                    f"{r.logreg_c:g} | {_pct(r.knn_acc)} | {r.silhouette:.3f} | {r.roc_auc:.4f} | {_pct(r.pair_acc)} | "
                    f"{r.threshold:.3g} |")
    return "\n".join(rows)


def retrieval(root: Path = ROOT) -> str:
    f = {m: t.iloc[-1] for m, t in _tables(root).items()}
    px = json.loads((root / "metrics/pixels.json").read_text())["pixels"]
    rows = ["| model | precision@1 | R-precision | MAP@R | MAP@R, validation | 10-way one-shot |",
            "|---|---|---|---|---|---|",
            f"| raw pixels | {_pct(px['precision_at_1'])} | – | {_pct(px['map_at_r'])} | – | {_pct(px['oneshot_all_acc'])} |"]
    for m in MODELS:
        r = f[m]
        cells = [_bold_best(f, k, m, _pct(r[k])) for k in ("precision_at_1", "r_precision", "map_at_r")]
        rows.append(f"| {SHORT[m]} | {' | '.join(cells)} | {_pct(r.val_map_at_r)} | "
                    f"{_bold_best(f, 'oneshot_all_acc', m, _pct(r.oneshot_all_acc))} |")
    return "\n".join(rows)


def per_epoch(root: Path = ROOT) -> str:
    rows = ["| epoch | " + " | ".join(map(str, EPOCHS)) + " |", "|---" * (len(EPOCHS) + 1) + "|"]
    for m, t in _tables(root).items():
        t = t.set_index("epoch")
        for label, col in (("test", "logreg_acc"), ("validation", "val_logreg_acc")):
            rows.append(f"| {SHORT[m]}, {label} | " + " | ".join(f"{100 * t.loc[e, col]:.2f}" for e in EPOCHS) + " |")
    return "\n".join(rows)


def _seeds(root: Path) -> dict:
    return json.loads((root / "metrics/seeds.json").read_text())


def _ci(s: dict, scale: float, digits: int, signed: bool = False) -> str:
    """mean ± sd [95 % interval] of one report cell; '*' marks an end clipped to the metric's range."""
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    text = f.format(scale * s["mean"])
    if s.get("sd") is not None:
        lo, hi = (f.format(scale * v) + ("*" if c else "") for v, c in zip(s["ci95"], s.get("clipped", (0, 0))))
        text += f" ± {scale * s['sd']:.{digits}f} [{lo}, {hi}]"
    return text


SEED_METRICS = (("logreg_acc", "logistic regression, %", 100, 2), ("val_logreg_acc", "logistic regression, validation, %", 100, 2),
                ("knn_acc", "5-NN, %", 100, 2), ("map_at_r", "MAP@R, %", 100, 2), ("roc_auc", "verification ROC-AUC", 1, 4),
                ("pair_acc", "pair acc. at the validation threshold, %", 100, 2),
                ("oneshot_all_acc", "10-way one-shot, %", 100, 2))


def seeds(root: Path = ROOT) -> str:
    rep = _seeds(root)
    rows = ["| metric (test, final epoch) | " + " | ".join(SHORT[m] for m in MODELS) + " |", "|---" * 4 + "|"]
    for key, label, scale, digits in SEED_METRICS:
        rows.append(f"| {label} | " + " | ".join(_ci(rep["final"][m][key], scale, digits) for m in MODELS) + " |")
    return "\n".join(rows)


def seed_diffs(root: Path = ROOT) -> str:
    rep = _seeds(root)
    diffs = [d for d in rep["paired"]]
    names = [" − ".join(SHORT[m] for m in d.split(" - ")) for d in diffs]  # "siamese - cnn" -> "Siamese − CNN"
    rows = ["| paired difference, same seed | " + " | ".join(names) + " |", "|---" * (len(diffs) + 1) + "|"]
    for e in ("1", "2", "5", "10", "20", "50"):
        for key, label in (("logreg_acc", "logistic regression"), ("val_logreg_acc", "logistic regression, validation")):
            if e in rep["by_epoch"][key]:
                rows.append(f"| {label}, epoch {e}, points | " +
                            " | ".join(_ci(rep["by_epoch"][key][e][d], 100, 2, signed=True) for d in diffs) + " |")
    for key, label, scale, digits in (("map_at_r", "MAP@R, epoch 50, points", 100, 2),
                                      ("knn_acc", "5-NN, epoch 50, points", 100, 2),
                                      ("roc_auc", "ROC-AUC, epoch 50", 1, 4)):
        rows.append(f"| {label} | " + " | ".join(_ci(rep["paired"][d][key], scale, digits, signed=True) for d in diffs) + " |")
    if "seconds_per_epoch" in rep:
        ratios = [f"{d.split(' - ')[0]} / cnn" for d in diffs]
        rows.append("| training seconds per epoch, ratio to the CNN's (same run) | " +
                    " | ".join(_ci(rep["seconds_per_epoch"][r], 1, 2) for r in ratios) + " |")
    return "\n".join(rows)


def search_table(path: Path, figure: str, label: str) -> str:
    """A search in one table: what each model got and what won; ``figure`` the validation figure it selected on."""
    rep = json.loads(path.read_text())
    rungs, last = rep["rungs"], rep["rungs"][-1]
    rows = [f"| model | trials × epochs | training hours | winner: trial, settings | {label} "
            f"at {last['epochs']} epochs | runner-up |", "|---|---|---|---|---|---|"]
    for m in MODELS:
        w = rep["winners"][m]
        rest = sorted((t for t in last["trials"] if t["trial_of"][m] != w["trial"] and not t.get("failed")),
                      key=lambda t: last["ranking"][m].index(t["trial_of"][m]))
        runner = f"{_pct(rest[0]['val'][m][figure])} (trial {rest[0]['trial_of'][m]})" if rest else "–"
        settings = ", ".join(f"{k} {v}" for k, v in w["settings"].items())
        rows.append(f"| {SHORT[m]} | " + " + ".join(f"{r['runs']} × {r['epochs']}" for r in rungs)
                    + f" | {rep['budget']['train_hours_so_far'][m]:.2f} | {w['trial']}: {settings} | "
                    f"{_pct(w['val'][figure])} | {runner} |")
    return "\n".join(rows)


def search(root: Path = ROOT) -> str:
    """The MNIST search (metrics/search.json), selected on validation logistic regression."""
    return search_table(root / "metrics/search.json", "logreg_acc", "validation logistic regression")


UNSEEN_METRICS = (("oneshot_holdout_acc", "5-way one-shot, %", 100, 2), ("holdout_map_at_r", "MAP@R, %", 100, 2),
                  ("holdout_roc_auc", "verification ROC-AUC", 1, 4))


def unseen(root: Path = ROOT) -> str:
    """The unseen-digits report: each model and the raw pixels, then each model minus the pixels (same seed)."""
    rep = json.loads((root / "metrics/unseen.json").read_text())
    cols = ["pixels", *MODELS]
    diffs = [f"{m} - pixels" for m in MODELS]
    rows = ["| metric (held-out digits, test) | raw pixels | " + " | ".join(SHORT[m] for m in MODELS) + " | "
            + " | ".join(f"{SHORT[m]} − pixels" for m in MODELS) + " |", "|---" * (1 + len(cols) + len(diffs)) + "|"]
    for key, label, scale, digits in UNSEEN_METRICS:
        rows.append(f"| {label} | " + " | ".join(_ci(rep["final"][c][key], scale, digits) for c in cols) + " | "
                    + " | ".join(_ci(rep["paired"][d][key], scale, digits, signed=True) for d in diffs) + " |")
    return "\n".join(rows)


OMNIGLOT_METRICS = (("lake_error", "Lake's 20 runs, error %", 1, 1), ("way20_shot1_acc", "20-way 1-shot, %", 100, 2),
                    ("way5_shot1_acc", "5-way 1-shot, %", 100, 2), ("map_at_r", "MAP@R, %", 100, 2),
                    ("transfer_acc", "MNIST 10-way one-shot, %", 100, 2))


def omniglot(root: Path = ROOT) -> str:
    """The Omniglot seeds report (omniglot/metrics/seeds.json): each model and the baselines, final epoch, test."""
    rep = json.loads((root / "omniglot/metrics/seeds.json").read_text())
    cols = ["pixels", "hausdorff", *MODELS]
    names = {"pixels": "raw pixels", "hausdorff": "Modified Hausdorff", **SHORT}
    rows = ["| metric (evaluation alphabets, test) | " + " | ".join(names[c] for c in cols) + " |",
            "|---" * (len(cols) + 1) + "|"]
    for key, label, scale, digits in OMNIGLOT_METRICS:
        rows.append(f"| {label} | " + " | ".join(_ci(rep["final"][c][key], scale, digits) if key in rep["final"][c]
                                                 else "–" for c in cols) + " |")
    return "\n".join(rows)


def omniglot_run(root: Path = ROOT) -> str:
    """The Omniglot pipeline's committed run (omniglot/metrics/<model>.json, baselines.json): one seed, test."""
    runs = {m: json.loads((root / f"omniglot/metrics/{m}.json").read_text())[m] for m in MODELS}
    base = json.loads((root / "omniglot/metrics/baselines.json").read_text())
    cols = {"raw pixels": base["pixels"], "Modified Hausdorff": base["hausdorff"], **{SHORT[m]: runs[m] for m in MODELS}}
    rows = ["| metric (evaluation alphabets, test) | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, label, scale, digits in OMNIGLOT_METRICS:
        rows.append(f"| {label} | " + " | ".join(f"{scale * c[key]:.{digits}f}" if key in c else "–"
                                                 for c in cols.values()) + " |")
    rows.append("| validation 20-way one-shot, % | – | – | " + " | ".join(f"{100 * runs[m]['val']['oneshot_acc']:.2f}"
                                                                        for m in MODELS) + " |")
    return "\n".join(rows)


def omniglot_search(root: Path = ROOT) -> str:
    """The Omniglot search (omniglot/metrics/search.json), selected on validation 20-way one-shot accuracy."""
    return search_table(root / "omniglot/metrics/search.json", "oneshot_acc", "validation 20-way one-shot")


TABLES = {"headline": headline, "final": final, "retrieval": retrieval, "per-epoch": per_epoch, "seeds": seeds, "seed-diffs": seed_diffs,
          "search": search, "unseen": unseen, "omniglot": omniglot, "omniglot-search": omniglot_search,
          "omniglot-run": omniglot_run}


def write_pages(root: Path = ROOT) -> list[str]:
    """Rewrite, in README.md and every page under docs/, each table whose "Source:" line (within the six lines
    above it) names a table command, with what that command writes now; returns the pages changed."""
    import re

    changed = []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        lines, out, i = page.read_text().splitlines(), [], 0
        while i < len(lines):
            if not lines[i].startswith("|") or (out and out[-1].startswith("|")):
                out.append(lines[i])
                i += 1
                continue
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            window = "\n".join(lines[max(0, i - 6):i])
            name = re.findall(r"python tools/readme_tables\.py ([\w-]+)", window[window.rfind("Source:"):]) \
                if "Source:" in window else []
            out += TABLES[name[-1]](root).splitlines() if name and name[-1] in TABLES else lines[i:end]
            i = end
        text = "\n".join(out) + "\n"
        if text != page.read_text():
            page.write_text(text)
            changed.append(str(page.relative_to(root)))
    return changed


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        print("rewrote: " + (", ".join(write_pages()) or "nothing (every table is current)"))
    elif len(sys.argv) != 2 or sys.argv[1] not in TABLES:
        sys.exit(f"usage: python tools/readme_tables.py {{{','.join(TABLES)}}} | --write")
    else:
        print(TABLES[sys.argv[1]]())
