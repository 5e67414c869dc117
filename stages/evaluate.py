"""Stage `evaluate_<model>`: score every dumped epoch's embeddings; final values become DVC metrics."""

import argparse

import _bootstrap  # noqa: F401
import pandas as pd

from siamese_mnist.config import load_params
from siamese_mnist.evaluation import evaluate_run
from siamese_mnist.io import load_npz, write_csv, write_json
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("embeddings")
    ap.add_argument("test_pairs")
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--per-epoch-out", required=True)
    ap.add_argument("--logreg-out", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    emb = load_npz(args.embeddings)
    tp = load_npz(args.test_pairs)
    table, logreg = evaluate_run(emb, tp["pairs"], tp["same"], p.evaluate, p.data.holdout_classes,
                                 desc=f"evaluate {args.embeddings}")
    final = {k: None if pd.isna(v) else round(float(v), 6) for k, v in table.iloc[-1].items()}
    final["epoch"] = int(final["epoch"])
    write_csv(args.per_epoch_out, table)
    write_json(args.logreg_out, logreg)
    write_json(args.metrics_out, final)


if __name__ == "__main__":
    run_stage(main)
