"""Stage `render`: the comparison grid (rows = epochs, columns = models) and one image per model and epoch."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import atomic_folder, load_npz, write_bytes
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.datasets.splits import load_class_names
from siamese_mnist.errors import ParamsError
from siamese_mnist.plotting import ModelRun, comparison_grid, write_epoch_images
from siamese_mnist.probe import read_probe
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs="+", choices=MODELS, required=True, help="the grid's columns, in order")
    ap.add_argument("--embeddings-dir", required=True, help="holds <model>.npz from the train stages")
    ap.add_argument("--probe-dir", required=True, help="holds <model>_probe.json from the evaluate stages")
    ap.add_argument("--grid-out", required=True)
    ap.add_argument("--epochs-dir", required=True)
    ap.add_argument("--raw-dir", required=True, help="a folder dataset's class names (classes.json)")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)  # rejects render.epochs beyond train.epochs before any plotting
    runs = []
    for name in args.model:
        emb_path = Path(args.embeddings_dir) / f"{name}.npz"
        emb = load_npz(emb_path)
        last = emb["test"].shape[0] - 1
        beyond = [e for e in p.render.epochs if e > last]
        if beyond:
            raise ParamsError(f"render.epochs: epoch {beyond[0]} is beyond the {last} epochs dumped in {emb_path} "
                              "(a stale input: `dvc repro` trains first)")
        probe = read_probe(Path(args.probe_dir) / f"{name}_probe.json")
        runs.append(ModelRun(name, emb["test"], emb["test_labels"], dict(enumerate(probe["logreg_acc"])),
                             probe["logreg"]))
    names = load_class_names(args.raw_dir, p.data.dataset)
    epochs = list(p.render.epochs)
    write_bytes(args.grid_out, comparison_grid(runs, epochs, names, p.render.dpi, p.render.point_size,
                                               p.render.grid_resolution))
    with atomic_folder(args.epochs_dir) as tmp:
        write_epoch_images(tmp, runs, epochs, names, p.render.dpi, p.render.point_size)


if __name__ == "__main__":
    run_stage(main)
