"""Replicate runs whose figures are worked out by hand, shared by the spread and replicates tests."""

import pandas as pd

from siamese_mnist.studies.replicates import Run
from siamese_mnist.studies.spread import FINAL_METRICS


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"epoch": range(n), **values})


def _run(seed: int, cnn: list[float], siamese: list[float], triplet: list[float]) -> Run:
    def table(acc):
        return _table({k: acc for k in FINAL_METRICS})
    return Run(f"exp-{seed}", f"rev{seed}", seed, {"cnn": table(cnn), "siamese": table(siamese),
                                                  "triplet": table(triplet)},
               {"cnn": 10.0 + seed, "siamese": 20.0 + 2 * seed, "triplet": 30.0})


def _runs_with_gaps() -> list[Run]:
    runs = [_run(0, [0.1, 0.5, 0.90], [0.1, 0.7, 0.93], [0.1, 0.4, 0.91]),
            _run(1, [0.1, 0.6, 0.92], [0.1, 0.8, 0.94], [0.1, 0.5, 0.90]),
            _run(2, [0.1, 0.4, 0.94], [0.1, 0.6, 0.98], [0.1, 0.3, 0.95])]
    for r in runs:  # as the evaluate stage writes it without holdout classes: an empty column
        r.tables["cnn"]["oneshot_holdout_acc"] = float("nan")
    del runs[2].seconds_per_epoch["triplet"]
    return runs
