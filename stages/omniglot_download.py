"""Stage `download` of the Omniglot pipeline: upstream's zips ($OMNIGLOT_MIRROR first, then upstream), verified
member by member, and MNIST's files ($MNIST_MIRROR first; the transfer digits), into the one-shot protocol's
splits (datasets/omniglot_splits.py): train and val by whole background alphabets, test = the evaluation set,
Lake's 20 runs, 2 000 MNIST test digits. The mirrors are not params: switching them reruns nothing.
"""

import argparse
import tempfile
from pathlib import Path

import _bootstrap  # noqa: F401
from siamese_mnist.config import load_params
from siamese_mnist.datasets import omniglot, omniglot_splits
from siamese_mnist.datasets.fetch import download, sources_for
from siamese_mnist.errors import DataError, ParamsError
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP read (a file: 20 times that in all)")
    args = ap.parse_args()
    p = load_params(args.params)
    if p.omniglot is None:
        raise ParamsError(f"{args.params}: data.dataset is {p.data.dataset}; this stage downloads Omniglot")
    og = p.omniglot
    try:
        with tempfile.TemporaryDirectory() as scratch:
            zips, mnist = Path(scratch, "zips"), Path(scratch, "mnist")
            omniglot.download(zips, omniglot_splits.zips_needed(og.background), timeout=args.timeout)
            download("mnist", mnist, sources_for("mnist"), timeout=args.timeout)
            omniglot_splits.write_splits(zips, mnist, args.out_dir, og.background, og.val_alphabets,
                                         p.data.image_size)
    except DataError as exc:  # DVC removed the previous data before running this stage; its cache still holds it
        raise type(exc)(f"{exc}; `dvc checkout {args.out_dir}` brings back the last run's data, if any") from None


if __name__ == "__main__":
    run_stage(main)
