"""The datasets the pipeline knows: one table of names, classes, class sizes, mirrors and checksums.

``config`` reads its dataset names and sizes from here, ``fetch`` its mirrors and checksums, ``checks``
its class sizes; a new downloadable dataset is one entry below (plus, if it is not IDX-shaped, a fetcher).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

IMAGE_SIZE = 28  # every IDX dataset's square side


@dataclass(frozen=True)
class IdxFile:
    name: str  # uncompressed file name; the source holds name + ".gz"
    size: int
    sha256: str
    shape: tuple[int, ...]  # expected IDX dimensions


def _files(sha: dict[str, str], train: int, test: int) -> dict[str, IdxFile]:
    shapes = {
        "train-images-idx3-ubyte": (train, IMAGE_SIZE, IMAGE_SIZE),
        "train-labels-idx1-ubyte": (train,),
        "t10k-images-idx3-ubyte": (test, IMAGE_SIZE, IMAGE_SIZE),
        "t10k-labels-idx1-ubyte": (test,),
    }
    return {n: IdxFile(n, 4 * (len(s) + 1) + math.prod(s), sha[n], s) for n, s in shapes.items()}


def _entry(mirrors: list[str], classes: list[str], train: list[int], test: list[int], sha: dict[str, str]) -> dict:
    return {"mirrors": mirrors, "classes": classes, "class_counts": {"train": train, "test": test},
            "files": _files(sha, sum(train), sum(test))}


DATASETS: dict[str, dict] = {
    "mnist": _entry(
        ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        [str(i) for i in range(10)],
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        {"train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
         "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
         "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
         "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}),
    "fashion-mnist": _entry(
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        [6000] * 10,
        [1000] * 10,
        {"train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
         "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
         "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
         "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"}),
}
FOLDER = "folder"  # data.dataset for your own images under data.root (folder.py); its sizes are known once scanned
OMNIGLOT = "omniglot"  # upstream's zips (omniglot.py), split by alphabet (omniglot_splits.py): the one-shot pipeline's
NAMES = (*DATASETS, FOLDER, OMNIGLOT)


def class_names(dataset: str) -> list[str]:
    return list(DATASETS[dataset]["classes"])


def split_size(dataset: str, split: str) -> int:
    """Images in ``train`` or ``test`` of a downloadable dataset."""
    return sum(DATASETS[dataset]["class_counts"][split])
