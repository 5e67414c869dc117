"""Stage `pairs`: precompute the Siamese training pairs of every epoch and the fixed test pairs.

The train file holds ``items`` (epochs, P, 2) int32 image indices and ``targets`` (epochs, P) uint8
same-class flags; held-out classes never appear in it. The test file holds ``pairs`` and ``same``
over the whole test split (all classes), for verification metrics.
"""

import argparse
import logging
import time

import _bootstrap  # noqa: F401

from siamese_mnist.config import load_params
from siamese_mnist.data import load_subset, training_pool
from siamese_mnist.io import write_npz
from siamese_mnist.pairs import make_epoch_pairs, make_test_pairs
from siamese_mnist.runtime import run_stage

log = logging.getLogger("stages.pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw_dir")
    ap.add_argument("train_out")
    ap.add_argument("test_out")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    _, train_labels = load_subset(args.raw_dir, "train", p.data.train_limit, p.data.subset_seed)
    _, test_labels = load_subset(args.raw_dir, "test", p.data.test_limit, p.data.subset_seed)

    t0 = time.perf_counter()
    pool = training_pool(train_labels, p.data.holdout_classes)
    pairs, same = make_epoch_pairs(train_labels, p.train.epochs, p.pairs.per_epoch,
                                   p.pairs.positive_fraction, p.pairs.seed, pool)
    test_pairs, test_same = make_test_pairs(test_labels, p.pairs.test_pairs, p.pairs.seed)
    log.info("built %s train pairs and %d test pairs in %.2f s", "x".join(map(str, pairs.shape[:2])),
             len(test_pairs), time.perf_counter() - t0)
    write_npz(args.train_out, items=pairs, targets=same)
    write_npz(args.test_out, pairs=test_pairs, same=test_same)


if __name__ == "__main__":
    run_stage(main)
