"""Stage `evaluate@<model>` of the Omniglot pipeline: score every dumped epoch by the one-shot protocol (oneshot.py:
Lake's 20 runs, N-way K-shot episodes, retrieval, verification, MNIST transfer); the final epoch's test figures
become DVC metrics under the model's name (``val`` holds what selection reads). No scored class is ever trained
on, so nothing is fitted: the probe file holds the verification threshold alone, chosen on validation pairs."""

import argparse

import _bootstrap  # noqa: F401
from siamese_mnist import oneshot
from siamese_mnist.atomic import load_npz, write_csv, write_json
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.runtime import machine_settings, run_stage, set_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("embeddings")
    for out in ("--metrics-out", "--per-epoch-out", "--probe-out", "--roc-out"):
        ap.add_argument(out, required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    set_threads(machine_settings()[1])  # SIAMESE_MNIST_THREADS, as training: two queued runs share the cores
    table, threshold, roc = oneshot.evaluate_oneshot_run(load_npz(args.embeddings), p.omniglot, p.evaluate.episodes,
                                                         p.seed, desc=f"evaluate {args.model}")
    final = table.iloc[-1]
    headline = {k: round(float(final[k]), 6) for k in oneshot.headline(p.omniglot)}
    headline["val"] = {k: round(float(final[f"val_{k}"]), 6) for k in oneshot.HEADLINE_VAL}
    write_csv(args.per_epoch_out, table)
    write_csv(args.roc_out, roc)
    write_json(args.probe_out, {"model": args.model, "threshold": threshold})
    write_json(args.metrics_out, {args.model: headline})


if __name__ == "__main__":
    run_stage(main)
