"""Stage `pictures` of the Omniglot pipeline (oneshot_plots.py), from every model's final-epoch embeddings:
plots/alphabet.png, one evaluation alphabet (that of the 20 runs' first) projected to 2-D per model, and
plots/mistakes.png, each model's first mistakes on Lake's 20 runs (query, the image chosen, the right one)."""

import argparse
import json
from pathlib import Path

import numpy as np

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import load_npz, write_bytes
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.datasets.splits import load_split, load_splits
from siamese_mnist.oneshot_plots import alphabet_picture, mistakes_picture, run_mistakes
from siamese_mnist.runtime import run_stage

ALPHABET = "Atlantean"  # the alphabet of runs 1 and 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs="+", choices=MODELS, required=True, help="the pictures' panels, in order")
    ap.add_argument("--embeddings-dir", required=True, help="holds <model>.npz from the train stages")
    ap.add_argument("--raw-dir", required=True)
    ap.add_argument("--alphabet-out", required=True)
    ap.add_argument("--mistakes-out", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    test_images, test_labels = load_splits(args.raw_dir, p.data.train_limit, p.data.test_limit, p.data.val_size,
                                           p.seed).test  # the rows the train stage embedded
    runs_images, runs_labels = load_split(args.raw_dir, "runs")
    names = json.loads(Path(args.raw_dir, "characters.json").read_text())["test"]
    shown = [i for i, n in enumerate(names) if n.split("/")[0] == ALPHABET]
    rows = np.flatnonzero(np.isin(test_labels, shown))
    embedded, mistakes = {}, {}
    for name in args.model:
        emb = load_npz(Path(args.embeddings_dir) / f"{name}.npz")
        embedded[name] = emb["test"][-1][rows]
        mistakes[name] = run_mistakes(emb["runs"][-1], runs_labels)
    write_bytes(args.alphabet_out, alphabet_picture(embedded, test_labels[rows], test_images[rows], ALPHABET,
                                                    p.render.dpi, p.render.point_size))
    write_bytes(args.mistakes_out, mistakes_picture(mistakes, runs_images, p.render.dpi))


if __name__ == "__main__":
    run_stage(main)
