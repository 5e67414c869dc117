"""`python -m siamese_mnist gallery GALLERY QUERY...`: recognise a class from one (or a few) images of it.

GALLERY holds one folder per class (a face, a signature, a character), each with one or more images: they are
*enrolled*, embedded with the trained model. Each QUERY (an image file, or a folder of them) is given the class
of its nearest enrolled image, with the distance — or "unknown" where even the nearest lies farther than the
verification threshold the evaluate stage chose on validation pairs (``models/<model>_probe.json``, what
``compare`` calls "same"). Images are prepared as the folder ingest and ``compare`` prepare them.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .compare import SIZE, CompareError, load_image, load_model, load_threshold
from .datasets.folder import class_files
from .errors import DatasetError, ParamsError, UnsafeCheckpointError
from .integrity import MismatchError, check_provenance
from .training import Normalizer


@dataclass(frozen=True)
class Gallery:
    """The enrolled images: (N, D) embeddings, (N,) class index of each, the class names and the image paths."""

    embeddings: np.ndarray
    labels: np.ndarray
    classes: list[str]
    paths: list[Path]


@dataclass(frozen=True)
class Match:
    query: str
    nearest: str  # the class of the nearest enrolled image
    distance: float
    known: bool  # distance <= threshold


def gallery_files(root: str | Path) -> tuple[list[str], list[list[Path]]]:
    """(class names, each class's image files) of ``root``/<class>/…; one line naming what is wrong, else."""
    root = Path(root)
    if not root.is_dir():
        raise CompareError(f"{root}: no such gallery folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise CompareError(f"{root}: no class folders; enrol one folder per class, each with its images")
    files = []
    for name in classes:
        try:
            found = class_files(root / name, root.resolve(), Counter())
        except DatasetError as exc:
            raise CompareError(str(exc)) from None
        if not found:
            raise CompareError(f"{root / name}: no image to enrol")
        files.append(found)
    return classes, files


@torch.inference_mode()
def embed_images(model, norm: Normalizer, images: np.ndarray, batch: int = 1024) -> np.ndarray:
    """(N, S, S) uint8 -> (N, D) float32 embeddings; CompareError if the weights give non-finite ones."""
    out = [model.embed(norm(torch.from_numpy(images[i:i + batch]).unsqueeze(1))).float().numpy()
           for i in range(0, len(images), batch)]
    emb = np.concatenate(out)  # a gallery and the queries are never empty: gallery_files and query_files see to it
    if not np.isfinite(emb).all():
        raise CompareError("the model gives non-finite embeddings; its weights are unusable")
    return emb


def enrol(root: str | Path, model, norm: Normalizer, size: int = SIZE, drawing: bool = False) -> Gallery:
    classes, files = gallery_files(root)
    paths = [p for group in files for p in group]
    images = np.stack([load_image(p, size, drawing) for p in paths])
    labels = np.repeat(np.arange(len(classes)), [len(g) for g in files])
    return Gallery(embed_images(model, norm, images), labels, classes, paths)


def identify(gallery: Gallery, queries: np.ndarray, names: list[str], threshold: float) -> list[Match]:
    """Each query embedding's nearest enrolled image: (Q, D) against the gallery's (N, D)."""
    d = np.sqrt(((queries[:, None, :] - gallery.embeddings[None, :, :]) ** 2).sum(-1))  # (Q, N)
    nearest = d.argmin(axis=1)
    return [Match(name, gallery.classes[gallery.labels[j]], float(d[i, j]), bool(d[i, j] <= threshold))
            for i, (name, j) in enumerate(zip(names, nearest))]


def query_files(specs: list[str]) -> list[Path]:
    """Each QUERY argument: an image file, or every image of a folder (sorted)."""
    out = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            try:
                found = class_files(path, path.resolve(), Counter())
            except DatasetError as exc:
                raise CompareError(str(exc)) from None
            if not found:
                raise CompareError(f"{path}: no image to identify")
            out += found
        else:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist gallery", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gallery", help="a folder with one folder per class, each holding one or more images")
    ap.add_argument("queries", nargs="+", metavar="QUERY", help="an image file, or a folder of images")
    ap.add_argument("--model", default="models/siamese.pt", help="trained model (default: %(default)s)")
    ap.add_argument("--probe", default=None, help="file holding the threshold (default: models/<model>_probe.json)")
    args = ap.parse_args(argv)
    try:
        model, norm, inputs = load_model(args.model)
        probe = args.probe or str(Path(args.model).with_name(f"{Path(args.model).stem}_probe.json"))
        threshold = load_threshold(probe)
        note = check_provenance(args.model, probe)
        size, drawing = inputs.get("image_size", SIZE), inputs["drawing"]
        gallery = enrol(args.gallery, model, norm, size, drawing)
        paths = query_files(args.queries)
        matches = identify(gallery, embed_images(model, norm, np.stack([load_image(p, size, drawing) for p in paths])),
                           [str(p) for p in paths], threshold)
    except (CompareError, MismatchError, ParamsError, UnsafeCheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"gallery {args.gallery}: {len(gallery.classes)} classes, {len(gallery.paths)} images; "
          f"threshold {threshold:.4f} ({probe})")
    if note:
        print(f"note: {note}")
    for m in matches:
        verdict = f"{m.nearest}" if m.known else f"unknown (nearest: {m.nearest})"
        print(f"{m.query}: {verdict}, distance {m.distance:.4f}")
    return 0
