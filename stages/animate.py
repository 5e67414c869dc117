"""Stage `animate`: per model, a GIF of the test embeddings at every epoch on fixed axes."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import atomic_folder, load_npz, write_bytes
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.datasets.splits import load_class_names
from siamese_mnist.plotting import animation
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs="+", choices=MODELS, required=True)
    ap.add_argument("--embeddings-dir", required=True, help="holds <model>.npz from the train stages")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--raw-dir", required=True, help="a folder dataset's class names (classes.json)")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    names = load_class_names(args.raw_dir, p.data.dataset)
    with atomic_folder(args.out_dir) as tmp:
        for name in args.model:
            emb = load_npz(Path(args.embeddings_dir) / f"{name}.npz")
            write_bytes(tmp / f"{name}.gif", animation(name, emb["test"], emb["test_labels"], names,
                                                        p.render.dpi, p.render.point_size, p.render.frame_ms))


if __name__ == "__main__":
    run_stage(main)
