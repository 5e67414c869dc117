"""Stage `evaluate@<model>`: score every dumped epoch's embeddings; the final epoch's headline figures
become DVC metrics under the model's name (test split; ``val`` holds what selection reads), its test
ROC curve and confusion matrix DVC plots. The probe's C and the threshold are chosen on validation."""

import argparse

import pandas as pd
from threadpoolctl import threadpool_limits

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import load_npz, write_csv, write_json
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.evaluation import HEADLINE, HEADLINE_HOLDOUT, HEADLINE_VAL, evaluate_run
from siamese_mnist.probe import probe_record
from siamese_mnist.runtime import machine_settings, run_stage, set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("embeddings")
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--per-epoch-out", required=True)
    ap.add_argument("--probe-out", required=True, help="final logistic regression and verification threshold")
    ap.add_argument("--roc-out", required=True)
    ap.add_argument("--confusion-out", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    threads = set_threads(machine_settings()[1])  # SIAMESE_MNIST_THREADS, as training: two queued runs share the cores
    with threadpool_limits(threads):  # numpy's, scipy's and sklearn's pools too (each defaulted to every core)
        report = evaluate_run(load_npz(args.embeddings), p.evaluate, p.seed, p.data.holdout_classes,
                              desc=f"evaluate {args.model}")
    final = report.table.iloc[-1]
    def value(key):
        return None if pd.isna(final[key]) else round(float(final[key]), 6)

    headline = {k: value(k) for k in HEADLINE + (HEADLINE_HOLDOUT if p.data.holdout_classes else ())}
    headline["val"] = {k: value(f"val_{k}") for k in HEADLINE_VAL}
    write_csv(args.per_epoch_out, report.table)
    write_csv(args.roc_out, report.roc)
    write_csv(args.confusion_out, report.predictions)
    write_json(args.probe_out, probe_record(report.logreg, final["logreg_c"], report.threshold,
                                            report.table["logreg_acc"]))
    write_json(args.metrics_out, {args.model: headline})


if __name__ == "__main__":
    run_stage(main)
