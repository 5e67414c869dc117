"""bfloat16 against fp32 on the final metrics: one experiment against the workspace, or paired over seeds.

    python benchmarks/bf16_vs_fp32.py REV
    python benchmarks/bf16_vs_fp32.py --fp32 18472d8 seed-1 seed-2 --bf16 f685464 bf16-seed-1 bf16-seed-2

One REV: for each model, validation (what may decide a default) and test (reported only) logistic-regression
accuracy and MAP@R of REV's `plots/eval/<model>.csv` minus the workspace's, and that difference divided by the
sample standard deviation over seeds in `metrics/seeds.json` (written when the committed default was fp32 and
REV a bf16 experiment; with `train.amp: auto` the committed run is itself bf16 on a CPU with AVX-512 BF16 or
AMX, so there REV is a `-S train.amp=false` experiment and the signs flip).

--fp32/--bf16: runs of the two precisions (git revisions or experiment names, as `python -m siamese_mnist
seeds` takes them), matched by the seed their dvc.lock records. Both runs of one seed share its data split,
validation and test pairs and episodes, so the difference bf16 - fp32 is taken per seed and summarised like the
seeds report: mean ± sample sd [95 % t-interval], in points. Prints a markdown table.
"""

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from siamese_mnist.config import MODELS  # noqa: E402
from siamese_mnist.studies.experiments import RepoReader  # noqa: E402
from siamese_mnist.studies.replicates import ReportError, find_runs  # noqa: E402
from siamese_mnist.studies.stats import interval  # noqa: E402

METRICS = ("val_logreg_acc", "val_map_at_r", "logreg_acc", "map_at_r")


def one_rev(rev: str) -> None:
    seeds = json.load(open("metrics/seeds.json"))
    for m in MODELS:
        shown = subprocess.run(["git", "show", f"{rev}:plots/eval/{m}.csv"], capture_output=True, text=True, check=True)
        other, base = pd.read_csv(io.StringIO(shown.stdout)).iloc[-1], pd.read_csv(f"plots/eval/{m}.csv").iloc[-1]
        print(m)
        for k in METRICS:
            sd, d = seeds["final"][m][k]["sd"], other[k] - base[k]
            print(f"  {k:<15} base {100 * base[k]:.2f}  {rev[-20:]} {100 * other[k]:.2f}  diff {100 * d:+.2f} points"
                  f"  (seed sd {100 * sd:.2f}: {abs(d) / sd:.2f} sd)")


def paired_over_seeds(fp32: list[str], bf16: list[str]) -> str:
    reader = RepoReader(".")
    try:
        a, b = ({r.seed: r for r in find_runs(reader, revs)} for revs in (fp32, bf16))
    except ReportError as exc:
        sys.exit(f"bf16_vs_fp32: {exc}")
    finally:
        reader.close()
    if sorted(a) != sorted(b):
        sys.exit(f"bf16_vs_fp32: the fp32 runs have seeds {sorted(a)}, the bf16 runs {sorted(b)}: they must match")
    seeds = sorted(a)
    lines = [f"bf16 - fp32, final epoch, paired by seed ({', '.join(map(str, seeds))}); points: "
             "mean ± sd [95 % t-interval] (per seed)",
             f"fp32: {' '.join(a[s].name for s in seeds)}; bf16: {' '.join(b[s].name for s in seeds)}", "",
             "| model | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for m in MODELS:
        cells = []
        for k in METRICS:
            d = [100 * (float(b[s].tables[m][k].iloc[-1]) - float(a[s].tables[m][k].iloc[-1])) for s in seeds]
            i = interval(d)
            cells.append(f"{i['mean']:+.2f} ± {i['sd']:.2f} [{i['ci95'][0]:+.2f}, {i['ci95'][1]:+.2f}] "
                         f"({', '.join(f'{x:+.2f}' for x in d)})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", nargs="?", help="one experiment, against the workspace")
    ap.add_argument("--fp32", nargs="+", help="fp32 runs, one per seed")
    ap.add_argument("--bf16", nargs="+", help="bf16 runs, one per seed")
    args = ap.parse_args()
    if bool(args.fp32) != bool(args.bf16) or bool(args.rev) == bool(args.fp32):
        ap.error("give either one REV or both --fp32 and --bf16")
    if args.rev:
        one_rev(args.rev)
    else:
        print(paired_over_seeds(args.fp32, args.bf16))


if __name__ == "__main__":
    main()
