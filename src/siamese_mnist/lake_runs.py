"""Lake et al.'s 20 runs: 20-way, one-shot classification within one alphabet, 400 trials in all.

Each test image of a run is given the training image of least cost (the first of equal ones), and a run's error
is the share of its 20 test images given the wrong one; the benchmark's figure is the mean over the 20 runs, in
per cent. Costs: the Modified Hausdorff Distance between the inked pixels' coordinates, each image's centred on
their mean (Dubuisson & Jain 1994; 38.8 % in Lake et al. 2015, which the tests hold this loader to), the
Euclidean distance of raw pixels, or any embedding's distance.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np

from .datasets.omniglot_splits import Run


def ink(png: bytes) -> np.ndarray:
    """(H, W) bool of an Omniglot PNG, True where inked (its black pixels)."""
    from PIL import Image  # only what reads images pays for Pillow

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("L")) < 128


def ink_points(png: bytes) -> np.ndarray:
    """(n, 2) float coordinates (row, column) of the inked pixels, centred on their mean."""
    points = np.argwhere(ink(png)).astype(np.float64)
    return points - points.mean(axis=0)


def modified_hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """max(mean distance of a's points to b, of b's to a): (n, 2), (m, 2) -> a cost."""
    from scipy.spatial import cKDTree

    return _mhd(a, cKDTree(a), b, cKDTree(b))


def _mhd(a: np.ndarray, tree_a, b: np.ndarray, tree_b) -> float:
    # nearest-neighbour queries on k-d trees: the n x m distance matrix of every pair would take a minute per 400
    return float(max(tree_b.query(a)[0].mean(), tree_a.query(b)[0].mean()))


def run_error(costs: np.ndarray, answers: Sequence[int]) -> float:
    """Per cent of a run's test images whose least-cost training image is not their answer: (20, 20) costs,
    test images by rows. ``argmin`` takes the first of equal costs."""
    return 100.0 * float(np.mean(np.argmin(costs, axis=1) != np.asarray(answers)))


def score(runs: Sequence[Run], cost: Callable[[list[bytes], list[bytes]], np.ndarray]) -> np.ndarray:
    """(len(runs),) error of each run in per cent; ``cost(test PNGs, training PNGs)`` -> (20, 20) costs."""
    return np.array([run_error(cost(r.test, r.train), r.answers) for r in runs])


def hausdorff_costs(test: list[bytes], train: list[bytes]) -> np.ndarray:
    from scipy.spatial import cKDTree

    q, t = [ink_points(p) for p in test], [ink_points(p) for p in train]
    qt, tt = [cKDTree(a) for a in q], [cKDTree(b) for b in t]
    return np.array([[_mhd(a, ta, b, tb) for b, tb in zip(t, tt)] for a, ta in zip(q, qt)])


def pixel_costs(test: list[bytes], train: list[bytes]) -> np.ndarray:
    """Euclidean distance of the raw pixels (ink 1, paper 0): the nearest-neighbour baseline."""
    q = np.stack([ink(p).ravel() for p in test]).astype(np.float64)
    t = np.stack([ink(p).ravel() for p in train]).astype(np.float64)
    return np.sqrt(((q[:, None, :] - t[None, :, :]) ** 2).sum(-1))


RUN_SIZE = 40  # images of one run in the runs split: its 20 training images, then its 20 test images


def embedding_error(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean error in per cent over the runs of the runs split (``omniglot_splits.runs_split``): (20 × 40, D) points
    and their labels (20 × run + class); each test image is given its nearest training image's class."""
    errors = []
    for start in range(0, len(labels), RUN_SIZE):
        train, test = slice(start, start + RUN_SIZE // 2), slice(start + RUN_SIZE // 2, start + RUN_SIZE)
        costs = np.linalg.norm(x[test, None, :].astype(np.float64) - x[None, train, :], axis=-1)
        errors.append(100.0 * float(np.mean(labels[train][np.argmin(costs, axis=1)] != labels[test])))
    return float(np.mean(errors))
