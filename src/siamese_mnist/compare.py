"""`python -m siamese_mnist compare A B`: are two images of the same class, by the trained Siamese model?

A and B are image files or indices into the test split (``data/raw``). Any image Pillow reads is
prepared as the folder ingest prepares one (grayscale, 16-bit levels scaled, transparency over black,
padded square) and resized to the model's input: 28×28 for a model trained on MNIST (which expects a
white digit on black, as MNIST's are), ``data.image_size`` for one trained on a folder dataset. Both
are embedded with the trained model; their Euclidean distance is compared with the threshold that
the evaluate stage chose on *validation* pairs (``models/<model>_probe.json``): "same" when
distance <= threshold. No test image chose it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from .config import ParamsError, params_from_dict
from .data import DataError, load_split
from .io import UnsafeCheckpointError, load_checkpoint, read_json
from .losses import pair_distance
from .models import build_model
from .training import Normalizer

SIZE = 28


class CompareError(ValueError):
    """An input the compare command cannot use; the message names it."""


def load_image(path: str | Path, size: int = SIZE) -> np.ndarray:
    """(size, size) uint8 from any image file, prepared exactly as the folder ingest prepares one."""
    from .folder import prepare_image

    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no such file")
    try:
        return prepare_image(path.read_bytes(), size, str(path))
    except DataError as exc:
        raise CompareError(str(exc)) from None


def resolve_inputs(specs: list[str], raw_dir: str | Path, image_size: int = SIZE,
                   classes: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(2, S, S) uint8 images and a description of each: a file path (prepared to ``image_size``), or a
    test-split index."""
    images, names = [], []
    test = None
    for spec in specs:
        if spec.isdigit() and not Path(spec).exists():
            if test is None:
                try:
                    test = load_split(raw_dir, "test")
                except DataError as exc:
                    raise CompareError(str(exc)) from None
            idx = int(spec)
            if idx >= len(test[0]):
                raise CompareError(f"test index {idx} is out of range; the test split has {len(test[0])} images")
            images.append(test[0][idx])
            label = int(test[1][idx])
            names.append(f"test #{idx} (class {classes[label] if classes else label})")
        else:
            images.append(load_image(spec, image_size))
            names.append(spec)
    return np.stack(images), names


def load_model(path: str | Path):
    """The trained model, its input normaliser and its input description (``{}`` for MNIST-format
    models; ``image_size`` and ``classes`` for a folder dataset's), from a train-stage checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no trained model; run `dvc repro` (or `dvc pull`) first")
    ck = load_checkpoint(path)
    if "state_dict" not in ck or "config" not in ck:
        raise CompareError(f"{path}: not a model written by the train stage")
    cfg = ck["config"]
    p = params_from_dict({"model": cfg["model"], ck["model"]: cfg.get(ck["model"], {})})
    inputs = ck.get("input", {})
    model = build_model(ck["model"], p.model, p.section(ck["model"]), inputs.get("image_size", SIZE),
                        len(inputs.get("classes", range(10))))
    model.load_state_dict(ck["state_dict"])
    return model.eval(), Normalizer(*ck["normalizer"]), inputs


def load_threshold(path: str | Path) -> float:
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no verification threshold; run the evaluate stage (`dvc repro`) first")
    threshold = read_json(path).get("threshold")
    if threshold is None:
        raise CompareError(f"{path}: holds no 'threshold'")
    return float(threshold)


@torch.inference_mode()
def distance(model, norm: Normalizer, images: np.ndarray) -> float:
    x = torch.from_numpy(images).unsqueeze(1)
    e = model.embed(norm(x))
    return float(pair_distance(e[:1], e[1:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="image file, or index into the test split")
    ap.add_argument("b", help="image file, or index into the test split")
    ap.add_argument("--model", default="models/siamese.pt", help="trained model (default: %(default)s)")
    ap.add_argument("--probe", default=None,
                    help="file holding the threshold (default: models/<model name>_probe.json)")
    ap.add_argument("--raw-dir", default="data/raw", help="where test indices are read from")
    args = ap.parse_args(argv)
    try:
        model, norm, inputs = load_model(args.model)
        images, names = resolve_inputs([args.a, args.b], args.raw_dir, inputs.get("image_size", SIZE),
                                       inputs.get("classes"))
        probe = args.probe or str(Path(args.model).with_name(f"{Path(args.model).stem}_probe.json"))
        threshold = load_threshold(probe)
    except (CompareError, ParamsError, UnsafeCheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    d = distance(model, norm, images)
    verdict = "same" if d <= threshold else "different"
    print(f"{names[0]}  vs  {names[1]}")
    print(f"distance {d:.4f}, threshold {threshold:.4f} ({probe}): {verdict}")
    return 0
