"""Stage `baselines` of the Omniglot pipeline: what an embedding must beat, on the same draws as the models'.

Raw pixels (at data.image_size, what the models see; scaled to [0, 1]) through the whole one-shot protocol
(oneshot.py), and Lake's 20 runs by the Modified Hausdorff Distance between the 105 x 105 strokes' inked pixels
(38.8 % in Lake et al. 2015; lake_runs.py).
"""

import argparse
from pathlib import Path

import numpy as np

import _bootstrap  # noqa: F401
from siamese_mnist import lake_runs, oneshot
from siamese_mnist.atomic import write_json
from siamese_mnist.config import load_params
from siamese_mnist.datasets.omniglot_splits import RUNS_ZIP, read_runs
from siamese_mnist.datasets.splits import load_split, load_splits
from siamese_mnist.runtime import machine_settings, run_stage, set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw_dir")
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    set_threads(machine_settings()[1])  # SIAMESE_MNIST_THREADS, as training: two queued runs share the cores
    splits = load_splits(args.raw_dir, p.data.train_limit, p.data.test_limit, p.data.val_size, p.seed)
    sets = {"val": splits.val, "test": splits.test, **{s: load_split(args.raw_dir, s) for s in ("runs", "transfer")}}
    protocol = oneshot.Protocol({s: labels for s, (_, labels) in sets.items()}, p.omniglot, p.evaluate.episodes, p.seed)
    row = protocol.score({s: images.reshape(len(images), -1).astype(np.float32) / 255.0
                          for s, (images, _) in sets.items()})
    hausdorff = lake_runs.score(read_runs(Path(args.raw_dir, RUNS_ZIP)), lake_runs.hausdorff_costs)
    write_json(args.metrics_out, {"pixels": {k: round(row[k], 6) for k in oneshot.headline(p.omniglot)},
                                  "hausdorff": {"lake_error": round(float(hausdorff.mean()), 6)}})


if __name__ == "__main__":
    run_stage(main)
