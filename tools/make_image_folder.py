"""Write an ImageFolder-style dataset from MNIST-format files, to try `data.dataset: folder` on.

    python tools/make_image_folder.py ../shared/data/fashion-mnist /tmp/fashion-photos \
        --dataset fashion-mnist --train 100 --test 40 --size 64x48 --invert --format jpg

Class folders are named by words (the dataset's class names, lower case, "/" and spaces as "-"); each
image is resized to WxH (so not square), optionally inverted (dark on white, like drawings on paper)
and saved as RGB JPEG or grayscale PNG. Images are a seeded random pick per class.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from siamese_mnist.datasets.catalog import class_names  # noqa: E402
from siamese_mnist.datasets.idx import parse_idx  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mirror", help="folder with the four .gz IDX files")
    ap.add_argument("out")
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--train", type=int, default=100, help="images per class in train/")
    ap.add_argument("--test", type=int, default=40, help="images per class in test/")
    ap.add_argument("--size", default="64x48", help="WxH of the written images")
    ap.add_argument("--invert", action="store_true", help="dark on white")
    ap.add_argument("--format", default="jpg", choices=["jpg", "png"])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    names = [n.replace("/", "-").replace(" ", "-").lower() for n in class_names(args.dataset)]
    rng = np.random.default_rng(args.seed)
    for split, prefix, n in (("train", "train", args.train), ("test", "t10k", args.test)):
        images = parse_idx(gzip.decompress((Path(args.mirror) / f"{prefix}-images-idx3-ubyte.gz").read_bytes()))
        labels = parse_idx(gzip.decompress((Path(args.mirror) / f"{prefix}-labels-idx1-ubyte.gz").read_bytes()))
        for c, name in enumerate(names):
            folder = Path(args.out) / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, idx in enumerate(rng.choice(np.flatnonzero(labels == c), n, replace=False)):
                im = Image.fromarray(255 - images[idx] if args.invert else images[idx]).resize((w, h))
                if args.format == "jpg":
                    im.convert("RGB").save(folder / f"{name}-{i:03d}.jpg", quality=90)
                else:
                    im.save(folder / f"{name}-{i:03d}.png")
    print(f"wrote {len(names)} classes x ({args.train} train + {args.test} test) images to {args.out}")


if __name__ == "__main__":
    main()
