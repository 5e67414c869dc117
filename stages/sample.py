"""Stage `sample@<model>`: draw every epoch's training items of one model into its index file.

``items`` (epochs, n, k) int32 indices into the training split, in training order: single images
for the CNN, pairs (with ``targets``, the same-class flags) for the Siamese network, triplets for
the triplet network. Validation images and held-out classes never appear; epoch e depends on (seed, e) alone.
"""

import argparse
import logging
import time

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import write_npz
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.datasets.splits import load_train_val, training_pool
from siamese_mnist.models import MODEL_CLASSES
from siamese_mnist.runtime import run_stage

log = logging.getLogger("stages.sample")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("raw_dir")
    ap.add_argument("out")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    (_, labels), _ = load_train_val(args.raw_dir, p.data.train_limit, p.data.val_size, p.seed)
    t0 = time.perf_counter()
    pool = training_pool(labels, p.data.holdout_classes)
    arrays = MODEL_CLASSES[args.model].sample(labels, p.train.epochs, p.section(args.model), p.seed, pool)
    log.info("%s: drew %s items in %.2f s", args.model, "x".join(map(str, arrays["items"].shape)),
             time.perf_counter() - t0)
    write_npz(args.out, **arrays)


if __name__ == "__main__":
    run_stage(main)
