"""Stage `render`: the comparison grid (rows = epochs, columns = models) and one image per model and epoch."""

import argparse
import shutil
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from siamese_mnist.config import ParamsError, load_params
from siamese_mnist.data import class_names
from siamese_mnist.io import load_npz, read_json, write_bytes
from siamese_mnist.plotting import ModelRun, comparison_grid, write_epoch_images
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs=4, action="append", required=True,
                    metavar=("NAME", "EMBEDDINGS", "PER_EPOCH_CSV", "LOGREG_JSON"))
    ap.add_argument("--grid-out", required=True)
    ap.add_argument("--epochs-dir", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)  # rejects render.epochs beyond train.epochs before any plotting
    runs = []
    for name, emb_path, csv_path, logreg_path in args.model:
        emb = load_npz(emb_path)
        last = emb["test"].shape[0] - 1
        beyond = [e for e in p.render.epochs if e > last]
        if beyond:
            raise ParamsError(f"render.epochs: epoch {beyond[0]} is beyond the {last} epochs dumped in {emb_path}")
        table = pd.read_csv(csv_path)
        runs.append(ModelRun(name, emb["test"], emb["test_labels"],
                             dict(zip(table["epoch"].astype(int), table["logreg_acc"])), read_json(logreg_path)))
    names = class_names(p.data.dataset)
    epochs = list(p.render.epochs)
    write_bytes(args.grid_out, comparison_grid(runs, epochs, names, p.render.dpi, p.render.point_size,
                                               p.render.grid_resolution))
    # Build the per-epoch images beside the output folder, then swap it in whole.
    out = Path(args.epochs_dir)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_epoch_images(tmp, runs, epochs, names, p.render.dpi, p.render.point_size)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


if __name__ == "__main__":
    run_stage(main)
