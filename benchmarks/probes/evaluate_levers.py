"""Could the evaluate stage's per-epoch work be faster with the same numbers?

    python benchmarks/probes/evaluate_levers.py [--epochs 8]

1. Retrieval's ranking: `topk` of the R nearest (what `evaluation.retrieval` does) against a full sort,
   on 1 024 queries × 10 000 points of 2-D embeddings, R = 1 135 (MNIST's largest test class − 1).
2. `evaluation.evaluate_epoch` on `--epochs` synthetic epochs (10 Gaussian clusters at the default sizes:
   10 000 fit, 5 000 validation, 10 000 test points), one after another with every thread, and two at a
   time in joblib worker processes with one thread each; whether the rows are equal.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402

from siamese_mnist.config import Params  # noqa: E402
from siamese_mnist.evaluation import evaluate_epoch  # noqa: E402
from siamese_mnist.pairs import make_test_pairs  # noqa: E402
from siamese_mnist.runtime import cpu_features, cpu_name, set_threads  # noqa: E402


def ranking() -> None:
    torch.manual_seed(0)
    x = torch.randn(10_000, 2) * 3
    d = torch.cdist(x[:1024], x, compute_mode="donot_use_mm_for_euclid_dist")
    for name, f in (("topk (used)", lambda: d.topk(1135, dim=1, largest=False).indices),
                    ("full sort", lambda: d.sort(dim=1).indices[:, :1135])):
        f()
        t0 = time.perf_counter()
        for _ in range(5):
            f()
        print(f"ranking, {name:12} {(time.perf_counter() - t0) / 5:.3f} s per 1 024 queries")


def one_epoch(emb, e, pairs, threads):
    if threads:
        torch.set_num_threads(threads)
    sub = {k: (v[e:e + 1] if v.ndim == 3 else v) for k, v in emb.items()}
    return evaluate_epoch(sub, 0, *pairs, Params().evaluate, 0)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    threads = set_threads(0)
    print(f"# {cpu_name()} ({' '.join(cpu_features())}), {threads} threads, torch {torch.__version__}")
    ranking()
    rng = np.random.default_rng(0)
    centres, e_n, emb = rng.normal(0, 5, (10, 2)), args.epochs, {}
    for key, size in (("fit", 10_000), ("val", 5_000), ("test", 10_000)):
        y = np.arange(size) % 10
        emb[key] = np.stack([centres[y] * (e + 1) / e_n + rng.normal(0, 1, (size, 2)) for e in range(e_n)]).astype(
            np.float32)
        emb[f"{key}_labels"] = y
    pairs = (make_test_pairs(emb["val_labels"], 5000, 0), make_test_pairs(emb["test_labels"], 10000, 0))
    t0 = time.perf_counter()
    serial = [one_epoch(emb, e, pairs, None) for e in range(e_n)]
    print(f"evaluate_epoch x {e_n}, serial, {threads} threads: {time.perf_counter() - t0:.1f} s")
    for attempt in ("first (workers start)", "again (workers warm)"):
        t0 = time.perf_counter()
        par = Parallel(n_jobs=threads)(delayed(one_epoch)(emb, e, pairs, 1) for e in range(e_n))
        print(f"evaluate_epoch x {e_n}, {threads} processes x 1 thread, {attempt}: {time.perf_counter() - t0:.1f} s; "
              f"rows equal to serial: {par == serial}")


if __name__ == "__main__":
    main()
