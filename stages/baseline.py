"""Stage `baseline_pixels`: one-shot and retrieval metrics of nearest neighbours on raw pixels.

The same seeded episodes and the same retrieval protocol as the models' evaluate stages, on the
784 raw pixel values (scaled to [0, 1]) instead of a learned embedding: what an embedding must beat.
"""

import argparse

import numpy as np

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import write_json
from siamese_mnist.config import load_params
from siamese_mnist.datasets.splits import load_subset
from siamese_mnist.evaluation import HEADLINE_HOLDOUT, holdout_metrics, oneshot_metrics, retrieval
from siamese_mnist.runtime import run_stage

METRICS = ("precision_at_1", "map_at_r", "oneshot_all_acc", "oneshot_holdout_acc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw_dir")
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    images, labels = load_subset(args.raw_dir, "test", p.data.test_limit, p.seed)
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    row = {**retrieval(x, labels), **oneshot_metrics(x, labels, p.data.holdout_classes, p.evaluate, p.seed),
           **holdout_metrics(x, labels, p.data.holdout_classes, p.seed)}
    keys = METRICS + (HEADLINE_HOLDOUT if p.data.holdout_classes else ())
    write_json(args.metrics_out, {"pixels": {k: None if row[k] is None else round(row[k], 6) for k in keys}})


if __name__ == "__main__":
    run_stage(main)
