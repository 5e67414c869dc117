"""Stage `triplets`: precompute the triplet network's (anchor, positive, negative) indices for every epoch.

The file holds ``items`` (epochs, T, 3) int32 indices into the training split; held-out classes
never appear in it.
"""

import argparse
import logging
import time

import _bootstrap  # noqa: F401

from siamese_mnist.config import load_params
from siamese_mnist.data import load_subset, training_pool
from siamese_mnist.io import write_npz
from siamese_mnist.pairs import make_epoch_triplets
from siamese_mnist.runtime import run_stage

log = logging.getLogger("stages.triplets")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw_dir")
    ap.add_argument("train_out")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    _, labels = load_subset(args.raw_dir, "train", p.data.train_limit, p.data.subset_seed)
    t0 = time.perf_counter()
    triplets = make_epoch_triplets(labels, p.train.epochs, p.triplets.per_epoch, p.triplets.seed,
                                   training_pool(labels, p.data.holdout_classes))
    log.info("built %s triplets in %.2f s", "x".join(map(str, triplets.shape[:2])), time.perf_counter() - t0)
    write_npz(args.train_out, items=triplets)


if __name__ == "__main__":
    run_stage(main)
