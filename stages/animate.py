"""Stage `animate`: per model, a GIF of the test embeddings at every epoch on fixed axes."""

import argparse
import shutil
from pathlib import Path

import _bootstrap  # noqa: F401

from siamese_mnist.config import load_params
from siamese_mnist.data import class_names
from siamese_mnist.io import load_npz, write_bytes
from siamese_mnist.plotting import animation
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs=2, action="append", required=True, metavar=("NAME", "EMBEDDINGS"))
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--dpi", type=int, default=80)
    ap.add_argument("--point-size", type=float, default=1.0)
    ap.add_argument("--frame-ms", type=int, default=250, help="milliseconds per epoch frame")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    names = class_names(p.data.dataset)
    out = Path(args.out_dir)
    tmp = out.with_name(f".{out.name}.tmp")  # built beside the output folder, then swapped in whole
    shutil.rmtree(tmp, ignore_errors=True)
    for name, path in args.model:
        emb = load_npz(path)
        write_bytes(tmp / f"{name}.gif", animation(name, emb["test"], emb["test_labels"], names,
                                                    args.dpi, args.point_size, args.frame_ms))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


if __name__ == "__main__":
    run_stage(main)
