"""The evaluate stage's logistic probe (5 C candidates, lbfgs) with one BLAS thread against two, side by side.

Why `probe.select_logreg` pins BLAS to one thread: one is faster on these small problems, and at D = 64 the
fitted weights depend on OpenBLAS's thread count (at D = 16 too on an AVX2-only EPYC; at D = 2 they did not).
Seeded Gaussian classes at the evaluate stage's sizes (10 000 points of 10 classes); run it alone:

    python benchmarks/probe_threads.py [--dims 2 16 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from threadpoolctl import threadpool_limits

from siamese_mnist.probe import fit_logreg
from siamese_mnist.runtime import cpu_name

CANDIDATES = (0.01, 0.1, 1.0, 10.0, 100.0)  # params.yaml's evaluate.logreg_c


def embeddings(dim: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of 10 overlapping Gaussian classes in ``dim`` dimensions, and their labels."""
    rng = np.random.default_rng([seed, dim])
    centres = rng.normal(size=(10, dim))
    y = rng.integers(0, 10, n)
    return (centres[y] + rng.normal(scale=3.0, size=(n, dim))).astype(np.float32), y


def fit_all(x: np.ndarray, y: np.ndarray, threads: int) -> tuple[float, bytes]:
    """Seconds to fit every candidate C with ``threads`` BLAS threads, and the fitted weights' bytes."""
    with threadpool_limits(threads, user_api="blas"):
        t = time.perf_counter()
        weights = b"".join(fit_logreg(x, y, c)[-1].coef_.tobytes() for c in CANDIDATES)
        return time.perf_counter() - t, weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 16, 64])
    ap.add_argument("--repeats", type=int, default=3, help="alternating 1- and 2-thread fits; the median is kept")
    args = ap.parse_args()
    if min(args.dims) < 1 or args.repeats < 1:
        ap.error("--dims and --repeats must be whole numbers >= 1")
    rows = []
    for dim in args.dims:
        x, y = embeddings(dim, 10_000, seed=0)
        fit_all(x, y, 2)  # warm-up: the first fit pays for loading and spawning BLAS threads
        times: dict[int, list[float]] = {1: [], 2: []}
        weights: dict[int, set[bytes]] = {1: set(), 2: set()}
        for _ in range(args.repeats):
            for threads in (1, 2):
                s, w = fit_all(x, y, threads)
                times[threads].append(s)
                weights[threads].add(w)
        one, two = (float(np.median(times[t])) for t in (1, 2))
        rows.append({"dim": dim, "one_thread_s": round(one, 2), "two_threads_s": round(two, 2),
                     "speedup": round(two / one, 2), "same_weights": weights[1] == weights[2]})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"cpu": cpu_name(), "rows": rows}))


if __name__ == "__main__":
    main()
