"""The seed-spread report of the Omniglot pipeline (`cd omniglot && python -m siamese_mnist seeds --write`): what
``seeds`` writes where params.yaml says ``data.dataset: omniglot``. The replicates are found and kept as MNIST's are
(``replicates``); the figures are the one-shot protocol's (``siamese_mnist.oneshot``): Lake's 20 runs, the
N-way K-shot episodes, retrieval, verification and the MNIST transfer, per model and for the baselines (raw pixels;
the Modified Hausdorff Distance on the 20 runs), each as mean ± sd [95 % t-interval] over seeds, and the paired
differences (model - CNN, model - pixels: the same seed, the same episodes)."""

from __future__ import annotations

from .replicates import ReportError, Run, final_column, same_seeds, trained_with
from .stats import interval, paired
from .tables import arm, cell, table

BASELINE = "cnn"
LAKE = "lake_error"  # per cent wrong of 400 trials


def test_metrics(run: Run) -> list[str]:
    """The test figures of the runs' tables, in their order: the 20 runs first, then episodes, retrieval, transfer."""
    cols = list(next(iter(run.tables.values())).columns)
    keep = [c for c in cols if c == LAKE or c.startswith("way") or c in ("map_at_r", "roc_auc", "transfer_acc")]
    return keep


VAL_METRICS = ("val_oneshot_acc", "val_map_at_r", "val_roc_auc")


def bounds(metric: str) -> tuple[float, float]:
    return (0.0, 100.0) if metric == LAKE else (0.0, 1.0)


def summarise(runs: list[Run], models: tuple[str, ...]) -> dict:
    """The report as plain data (metrics/seeds.json of the Omniglot pipeline)."""
    if len(runs) < 2:
        raise ReportError(f"{len(runs)} run(s) found; a spread needs at least 2 seeds")
    metrics = test_metrics(runs[0])
    lacking = [r.name for r in runs if not all(k in r.pixels for k in metrics)]
    if lacking:
        raise ReportError(f"{lacking[0]}: metrics/baselines.json lacks a pixel figure; rerun its baselines stage")

    def column(model: str, metric: str) -> list[float]:
        return final_column(runs, model, metric, bounds(metric))

    pixels = {k: [float(r.pixels[k]) for r in runs] for k in metrics}
    final = {m: {k: interval(column(m, k), bounds(k)) for k in (*metrics, *VAL_METRICS)} for m in models}
    final["pixels"] = {k: interval(pixels[k], bounds(k)) for k in metrics}
    final["hausdorff"] = {LAKE: interval([float(r.pixels["hausdorff_lake_error"]) for r in runs], bounds(LAKE))}
    return {
        "runs": [{"seed": r.seed, "name": r.name, "rev": r.rev, "trained_with": trained_with(r)} for r in runs],
        "final": final,
        "paired": {**{f"{m} - {BASELINE}": {k: paired(column(m, k), column(BASELINE, k), bounds(k))
                                            for k in (*metrics, *VAL_METRICS)} for m in models if m != BASELINE},
                   **{f"{m} - pixels": {k: paired(column(m, k), pixels[k], bounds(k)) for k in metrics}
                      for m in models}},
    }


def against(runs: list[Run], base: list[Run], models: tuple[str, ...], folder: str) -> dict:
    """This report's runs minus ``base``'s (the replicate files of another arm, say without rotations), seed by seed:
    each model's every figure; a seed of ``runs`` that ``base`` lacks is one line naming it."""
    matched = same_seeds(runs, base, folder)
    metrics = [*test_metrics(runs[0]), *VAL_METRICS]
    return {"folder": folder, "seeds": [r.seed for r in runs], "trained_with": [trained_with(r) for r in matched],
            "paired": {m: {k: paired(final_column(runs, m, k, bounds(k)), final_column(matched, m, k, bounds(k)),
                                     bounds(k)) for k in metrics} for m in models}}


LABELS = {LAKE: "Lake's 20 runs, error %", "map_at_r": "MAP@R %", "roc_auc": "verification ROC-AUC",
          "transfer_acc": "MNIST 10-way one-shot %", "val_oneshot_acc": "val 20-way one-shot %",
          "val_map_at_r": "val MAP@R %", "val_roc_auc": "val ROC-AUC"}


def label(metric: str) -> str:
    if metric.startswith("way"):  # way20_shot5_acc
        way, shot = metric.removeprefix("way").removesuffix("_acc").split("_shot")
        return f"{way}-way {shot}-shot %"
    return LABELS[metric]


def _fmt(metric: str, s: dict | None) -> str:
    if s is None:
        return "–"
    if metric == LAKE:
        return cell(s, 1, 1)
    return cell(s, 1, 4) if metric.endswith("roc_auc") else cell(s, 100, 2)


def machines(seeds: list[int], how: list[str | None]) -> str:
    """'fp32 on AMD EPYC (seeds 0, 1); ...': what each run trained with, grouped (precision changes the figures)."""
    groups: dict[str, list[str]] = {}
    for seed, h in zip(seeds, how):
        groups.setdefault(h or "unrecorded", []).append(str(seed))
    return "; ".join(f"{h} (seed{'s' * (len(s) > 1)} {', '.join(s)})" for h, s in groups.items())


def markdown(report: dict, json_out: str = "metrics/seeds.json", replicates: str = "metrics/replicates",
             vary: dict | None = None) -> str:
    seeds = ", ".join(str(r["seed"]) for r in report["runs"])
    cols = list(report["final"])
    metrics = list(report["final"]["pixels"]) + [k for k in VAL_METRICS if k in report["final"][BASELINE]]
    diffs = list(report["paired"])
    lines = [f"# Omniglot, one-shot: {len(report['runs'])} replicates (seeds {seeds})", "",
             "Written by `python -m siamese_mnist seeds --write` in `omniglot/` from the runs listed in",
             f"`{json_out}` (their per-epoch tables: `{replicates}/`). Each cell: mean ± sample standard",
             "deviation [95 % confidence interval of the mean, Student's t], final epoch. Test = the 20 evaluation",
             "alphabets (never trained on) and Lake's 20 runs drawn from them; `val` = the held-out background",
             "alphabets, on which everything was chosen. Published on the 20 runs (Lake et al. 2015): people 4.5 %,",
             "Koch et al.'s Siamese ConvNet 8.0 %, a deep ConvNet 13.5 %, Modified Hausdorff Distance 38.8 %.",
             *arm(vary), "",
             "Trained with: " + machines([r["seed"] for r in report["runs"]],
                                         [r.get("trained_with") for r in report["runs"]]) + ".", "",
             "## Final epoch", "",
             *table("metric", cols, [(label(k), [_fmt(k, report["final"][c].get(k)) for c in cols]) for k in metrics]),
             "", "## Paired differences (same seed, same episodes)", "",
             *table("metric", diffs, [(label(k), [_fmt(k, report["paired"][d].get(k)) for d in diffs])
                                      for k in metrics])]
    if "against" in report:
        a = report["against"]
        lines += ["", f"## Against `{a['folder']}` (this report − those runs, same seed: "
                  f"{', '.join(str(x) for x in a['seeds'])})", "",
                  *([f"Those runs trained with: {machines(a['seeds'], a['trained_with'])}.", ""]
                    if "trained_with" in a else []),
                  *table("metric", list(a["paired"]), [(label(k), [_fmt(k, a["paired"][m].get(k)) for m in a["paired"]])
                                                      for k in metrics])]
    if any("*" in line for line in lines if line.startswith("|")):  # a table cell marks a clipped end
        lines += ["", "*: interval clipped to the metric's range: from so few replicates the t-interval reaches "
                  "past it."]
    return "\n".join(lines) + "\n"
