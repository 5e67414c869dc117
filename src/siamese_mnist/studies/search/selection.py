"""Selection on validation figures only: each rung's ranking, what it keeps, the winners; metrics/search.{json,md}."""

from __future__ import annotations

from ...config import MODELS
from .spec import PRIMARY, TIE_BREAK, Spec, kept_figures
from .trials import Trial, slot_plan


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
                             "val": None if t.failed else {m: {k: t.metrics[m]["val"][k]
                                                               for k in kept_figures(t.metrics[m]["val"])}
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
            first = next((kept_figures(t["val"][m])[0] for t in rows if not t.get("failed")), "logreg_acc")
            lines += ["", f"### {m}", "", "| trial | " + " | ".join(keys) + f" | {PRIMARY[first]} | val MAP@R % | "
                      "val ROC-AUC | train min |", "|---" * (len(keys) + 5) + "|"]
            kept = set(r.get("kept", {}).get(m, []))
            for t in rows:
                s = t["train_seconds"].get(m)
                mark = " (kept)" if t["trial_of"][m] in kept else ""
                figures = ("failed | failed | failed" if t.get("failed") else
                           f"{_pct(t['val'][m][first])} | {_pct(t['val'][m]['map_at_r'])} | "
                           f"{t['val'][m]['roc_auc']:.4f}")
                lines.append(f"| {t['trial_of'][m]}{mark} | " + " | ".join(str(t["settings"][m][k]) for k in keys)
                             + f" | {figures} | " + (f"{s / 60:.1f}" if s is not None else "–") + " |")
    if "winners" in report:
        first = kept_figures(next(iter(report["winners"].values()))["val"])[0]
        lines += ["", "## Winners (best on validation at the last rung)", "",
                  f"| model | trial | settings | {PRIMARY[first]} |", "|---|---|---|---|"]
        for m, w in report["winners"].items():
            settings = ", ".join(f"{k}={v}" for k, v in w["settings"].items())
            lines.append(f"| {m} | {w['trial']} | {settings} | {_pct(w['val'][first])} |")
    return "\n".join(lines) + "\n"
