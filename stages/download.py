"""Stage `download`: the raw IDX files of `data.dataset` into OUT_DIR.

MNIST and Fashion-MNIST are fetched and verified; sources: $MNIST_MIRROR (a folder or an http(s)
base URL) when set, then the public mirrors. The mirror is deliberately not a param: switching
mirrors must not rerun anything. `data.dataset: folder` ingests the images under `data.root`
instead (grayscale, `data.image_size` square), with a manifest of every image's sha256.
"""

import argparse
import logging

import _bootstrap  # noqa: F401
from siamese_mnist.config import load_params
from siamese_mnist.datasets.fetch import download, sources_for
from siamese_mnist.datasets.folder import ingest
from siamese_mnist.errors import DataError
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP read (a file: 20 times that in all)")
    args = ap.parse_args()
    params = load_params(args.params)
    try:
        if params.data.dataset == "folder":
            ingest(params.data.root, args.out_dir, params.data.image_size)
            return
        sources = sources_for(params.data.dataset)
        logging.getLogger(__name__).info("sources: %s", ", ".join(sources))
        download(params.data.dataset, args.out_dir, sources, timeout=args.timeout)
    except DataError as exc:  # DVC removed the previous data before running this stage; its cache still holds it
        raise type(exc)(f"{exc}; `dvc checkout {args.out_dir}` brings back the last run's data, if any") from None


if __name__ == "__main__":
    run_stage(main)
