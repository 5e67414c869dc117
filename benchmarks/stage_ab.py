"""The real training stage of two code revisions, side by side: peak memory and seconds per epoch.

    python benchmarks/stage_ab.py BASE_REV [--epochs 1] [--rounds 2] [--models cnn siamese triplet]

Runs `stages/train.py <model>` of this checkout and of BASE_REV (a temporary git worktree) on the same
`data/raw`, index files (`data/index/<model>.npz`, from `dvc repro`) and params (the default ones,
`train.epochs` lowered), alternating A/B/A/B… so that drift of a shared machine falls on both; prints the
median peak RSS and median epoch seconds per model and revision, and the ratios. Both trees must accept
the same stage command line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_stage(tree: Path, model: str, params: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TQDM_DISABLE": "1"}
    # A fresh wrapper per run: its children's ru_maxrss is this one stage's peak RSS (any revision).
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, str(tree / "stages/train.py"), model, str(ROOT / "data/raw"),
                    str(ROOT / f"data/index/{model}.npz"), "--model-out", str(out / "m.pt"),
                    "--embeddings-out", str(out / "e.npz"), "--live-dir", str(out / "live"),
                    "--runtime-out", str(out / "r.json"), "--resume-point", str(out / "c.pt"),
                    "--params", str(params)], check=True, env=env, capture_output=True, text=True)
    runtime = json.loads((out / "r.json").read_text())
    return {"peak_rss_mb": int(proc.stdout.split()[-1]) / 1024, "seconds_per_epoch": runtime["seconds_per_epoch_median"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["cnn", "siamese", "triplet"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="stage-ab-") as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "-q", str(base), args.base], check=True)
        try:
            params = yaml.safe_load((ROOT / "params.yaml").read_text())
            params["train"]["epochs"] = args.epochs
            params["render"]["epochs"] = [0, args.epochs]
            for tree in (ROOT, base):  # each tree reads only the keys it knows: write each its own file
                known = yaml.safe_load((tree / "params.yaml").read_text())
                mine = {s: ({k: v for k, v in params[s].items() if k in known[s]} if isinstance(known[s], dict)
                            else params[s]) for s in known}
                (tmp / f"params-{tree.name}.yaml").write_text(yaml.safe_dump(mine))
            results = {m: {"A": [], "B": []} for m in args.models}
            for r in range(args.rounds):
                for model in args.models:
                    for label, tree in (("A", ROOT), ("B", base)) if r % 2 == 0 else (("B", base), ("A", ROOT)):
                        res = run_stage(tree, model, tmp / f"params-{tree.name}.yaml", tmp / f"out-{label}-{model}-{r}")
                        results[model][label].append(res)
                        print(f"round {r} {model} {label}: {res}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(f"\nA = this checkout, B = {args.base}; medians of {args.rounds} runs, {args.epochs} epoch(s) each")
    print(f"{'model':<8} {'peak RSS A':>11} {'peak RSS B':>11} {'s/epoch A':>10} {'s/epoch B':>10} {'A/B time':>9}")
    for model, res in results.items():
        med = {k: {f: statistics.median(x[f] for x in v) for f in ("peak_rss_mb", "seconds_per_epoch")}
               for k, v in res.items()}
        print(f"{model:<8} {med['A']['peak_rss_mb']:>11.0f} {med['B']['peak_rss_mb']:>11.0f} "
              f"{med['A']['seconds_per_epoch']:>10.2f} {med['B']['seconds_per_epoch']:>10.2f} "
              f"{med['A']['seconds_per_epoch'] / med['B']['seconds_per_epoch']:>9.3f}")


if __name__ == "__main__":
    main()
