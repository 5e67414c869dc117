"""An experiment's final metrics against the committed run's, in units of the seed-to-seed spread.

    python benchmarks/bf16_vs_fp32.py REV     # e.g. the ref of `dvc exp run -n bf16-seed0 -S train.amp=true`

For each model: validation (what may decide a default) and test (reported only) logistic-regression
accuracy and MAP@R of REV's `plots/eval/<model>.csv` minus the workspace's, and that difference divided by
the sample standard deviation over seeds in `metrics/seeds.json`. Written when the committed default was
fp32 (REV = a bf16 experiment); with `train.amp: auto` the committed run is itself bf16 on a CPU with
AVX-512 BF16 or AMX, so there REV is a `-S train.amp=false` experiment and the signs flip.
"""

import io
import json
import subprocess
import sys

import pandas as pd


def main() -> None:
    rev = sys.argv[1]
    seeds = json.load(open("metrics/seeds.json"))
    for m in ("cnn", "siamese", "triplet"):
        shown = subprocess.run(["git", "show", f"{rev}:plots/eval/{m}.csv"], capture_output=True, text=True, check=True)
        other, base = pd.read_csv(io.StringIO(shown.stdout)).iloc[-1], pd.read_csv(f"plots/eval/{m}.csv").iloc[-1]
        print(m)
        for k in ("val_logreg_acc", "val_map_at_r", "logreg_acc", "map_at_r"):
            sd, d = seeds["final"][m][k]["sd"], other[k] - base[k]
            print(f"  {k:<15} base {100 * base[k]:.2f}  {rev[-20:]} {100 * other[k]:.2f}  diff {100 * d:+.2f} points"
                  f"  (seed sd {100 * sd:.2f}: {abs(d) / sd:.2f} sd)")


if __name__ == "__main__":
    main()
