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
import dataclasses
import math
import stat
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import load_checkpoint, read_json
from .config import MODELS, ModelConfig, params_from_dict
from .datasets.folder import MAX_FILE_BYTES as MAX_IMAGE_BYTES
from .datasets.splits import load_split
from .errors import DataError, ParamsError, UnsafeCheckpointError
from .integrity import MismatchError, check_provenance
from .losses import pair_distance
from .models import build_model
from .training import Normalizer

SIZE = 28
MAX_CHECKPOINT_BYTES = 4 * 2**30  # the largest model check's limits let a config build, with room


class CompareError(ValueError):
    """An input the compare command cannot use; the message names it."""


def regular_file(path: Path, what: str, limit: int, missing: str = "no such file") -> int:
    """``path``'s size, once it is a regular file of at most ``limit`` bytes; else one line saying what it is
    (a folder, a FIFO would block a read forever, a sparse 6 GB file would be read whole)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CompareError(f"{path}: {missing}") from None
    except OSError as exc:
        raise CompareError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CompareError(f"{path}: is a folder, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise CompareError(f"{path}: not a regular file (a FIFO, socket or device), not {what}")
    if st.st_size > limit:
        raise CompareError(f"{path}: {st.st_size} bytes, over the limit of {limit} for {what}")
    return st.st_size


def read_input(path: Path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, read up to the limit whatever happens meanwhile."""
    regular_file(path, what, limit)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise CompareError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(data) > limit:  # it grew since stat
        raise CompareError(f"{path}: over the limit of {limit} bytes for {what}")
    return data


def load_image(path: str | Path, size: int = SIZE, drawing: bool = False) -> np.ndarray:
    """(size, size) uint8 from any image file, prepared exactly as the folder ingest prepares one (``drawing``:
    as Omniglot's drawings are, for a model trained on them)."""
    from .datasets.folder import prepare_image

    path = Path(path)
    try:
        return prepare_image(read_input(path, "an image", MAX_IMAGE_BYTES), size, str(path), drawing)
    except DataError as exc:
        raise CompareError(str(exc)) from None


def resolve_inputs(specs: list[str], raw_dir: str | Path, image_size: int = SIZE,
                   classes: list[str] | None = None, drawing: bool = False) -> tuple[np.ndarray, list[str]]:
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
                if test[0].shape[1:] != (image_size, image_size):  # data of another dataset than the model's
                    raise CompareError(f"{raw_dir}: test images are {test[0].shape[1]}x{test[0].shape[2]}; "
                                       f"the model takes {image_size}x{image_size}")
            idx = int(spec)
            if idx >= len(test[0]):
                raise CompareError(f"test index {idx} is out of range; the test split has {len(test[0])} images")
            images.append(test[0][idx])
            label = int(test[1][idx])
            named = classes and label < len(classes)  # a checkpoint's list may not cover this data's labels
            names.append(f"test #{idx} (class {classes[label] if named else label})")
        else:
            images.append(load_image(spec, image_size, drawing))
            names.append(spec)
    return np.stack(images), names


def _shown(value: object) -> str:
    """A bad value in one short line: numbers and short strings as written, anything else by its type
    (a tensor's repr spans lines; a JSON integer can have thousands of digits)."""
    if value is None or isinstance(value, float) or (isinstance(value, int) and abs(value) < 10**15) \
            or (isinstance(value, str) and len(value) <= 40):
        return repr(value)
    return f"<{type(value).__name__}>"


_KINDS = {dict: "a dict", list: "a list", str: "a string", int: "an integer", (int, float): "a number"}


def _field(d: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``d[key]``, present and a ``kind`` (a bool is no number); else CompareError '<where><key> ...'."""
    if key not in d:
        raise CompareError(f"{where}{key} missing")
    if isinstance(d[key], bool) or not isinstance(d[key], kind):
        raise CompareError(f"{where}{key} {_shown(d[key])} should be {_KINDS[kind]}")
    return d[key]


def _number(d: dict, key: str, where: str, low: float = -math.inf, high: float = math.inf,
            kind: type | tuple[type, ...] = (int, float)) -> Any:
    """``d[key]``: a finite number (JSON allows NaN and Infinity) in ``low..high``."""
    value = _field(d, key, kind, where)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond float's range
        finite = False
    if not finite:
        raise CompareError(f"{where}{key} {_shown(value)} is not a finite number")
    if not low <= value <= high:
        raise CompareError(f"{where}{key} {_shown(value)} is out of range; allowed {low}..{high}")
    return value


def load_model(path: str | Path):
    """The trained model, its input normaliser and its input description (``{}`` for MNIST-format
    models; ``image_size`` and ``classes`` for a folder dataset's), from a train-stage checkpoint.

    Every field is checked first: a crafted (but safe) file ends in one CompareError naming it."""
    path = Path(path)
    what = "a model checkpoint"
    regular_file(path, what, MAX_CHECKPOINT_BYTES, "no trained model; run `dvc repro` (or `dvc pull`) first")
    if not zipfile.is_zipfile(path):  # torch.save's format; torch's own error for an image is a paragraph
        raise CompareError(f"{path}: not {what} (a .pt file the train stage writes, e.g. models/siamese.pt)")
    try:
        with warnings.catch_warnings(action="ignore"):  # torch warns of sparse tensors: stderr holds one line
            ck = load_checkpoint(path)
    except UnsafeCheckpointError as exc:
        if "Weights only load failed" not in str(exc):  # a zip, but no torch.save archive in it
            raise CompareError(f"{path}: not {what} (a zip without torch.save's data.pkl)") from None
        raise CompareError(f"{path}: holds objects other than tensors and plain data; refused, as loading "
                           "it could run code (a checkpoint the train stage wrote holds none)") from None
    where = f"{path}: "
    if not isinstance(ck, dict):
        raise CompareError(f"{where}not a model written by the train stage (it holds a {type(ck).__name__})")
    name = _field(ck, "model", str, where)
    if name not in MODELS:
        raise CompareError(f"{where}model {_shown(name)} is not one of {', '.join(MODELS)}")
    cfg = _field(ck, "config", dict, where)
    arch = _field(cfg, "model", dict, f"{where}config.")
    section = _field(cfg, name, dict, f"{where}config.") if name in cfg else {}
    # The conv block's order: the model's own param now; saved in config.model for a while; absent before the
    # choice existed, when conv_bn_relu_pool was the only block there was.
    arch = dict(arch)
    section = {"block": arch.pop("block", "conv_bn_relu_pool"), **section}
    missing = [f.name for f in dataclasses.fields(ModelConfig) if f.name not in arch]
    if missing:  # a default would build another architecture than the one trained
        raise CompareError(f"{where}config.model.{missing[0]} missing")
    try:  # types and ranges as params.yaml's are checked; a tensor's repr is flattened to one line
        p = params_from_dict({"model": arch, name: section})
    except ParamsError as exc:
        raise CompareError(f"{where}config.{' '.join(str(exc).split())}") from None
    inputs = dict(_field(ck, "input", dict, where)) if "input" in ck else {}
    data = cfg.get("data")
    inputs["drawing"] = isinstance(data, dict) and data.get("dataset") == "omniglot"  # prepared as its drawings
    size = _number(inputs, "image_size", f"{where}input.", 16, 256, int) if "image_size" in inputs else SIZE
    classes = _field(inputs, "classes", list, f"{where}input.") if "classes" in inputs else [*"0123456789"]  # MNIST
    if len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise CompareError(f"{where}input.classes should list two or more class names")
    pair = _field(ck, "normalizer", list, where)
    if len(pair) != 2:
        raise CompareError(f"{where}normalizer should be [mean, std], not {len(pair)} values")
    norm = dict(zip(("mean", "std"), pair))
    mean = _number(norm, "mean", f"{where}normalizer.", 0.0, 1.0)  # of pixels / 255
    std = _number(norm, "std", f"{where}normalizer.", 1e-6, 1.0)  # divides every pixel: 0 would not
    with torch.device("meta"):  # no memory yet: a crafted config's absurd sizes must allocate nothing
        try:
            model = build_model(name, p.model, p.section(name), size, len(classes))
        except (RuntimeError, TypeError, ValueError):  # sizes past what torch can index
            raise CompareError(f"{where}config.model: sizes too large to build a model") from None
    state = _field(ck, "state_dict", dict, where)
    bad = [k for k in state if not isinstance(k, str)]
    if bad:
        raise CompareError(f"{where}state_dict key {_shown(bad[0])} is not a weight name")
    dtypes = {k: t.dtype for k, t in model.state_dict().items()}
    try:  # torch checks names, tensors and shapes; assign takes the file's tensors into the meta model
        model.load_state_dict(state, assign=True)
    except RuntimeError as exc:  # "Error(s) in loading state_dict for X:", then one line per problem
        first = (str(exc).splitlines()[1:] or [str(exc)])[0].strip()
        raise CompareError(f"{where}state_dict does not fit config.model: {first}") from None
    for key, t in model.state_dict().items():
        if (t.dtype, t.layout) != (dtypes[key], torch.strided):  # assign kept the file's dtype and layout
            raise CompareError(f"{where}state_dict.{key} is {t.dtype} ({t.layout}); the model needs "
                               f"{dtypes[key]} ({torch.strided})")
        if not torch.isfinite(t).all():
            raise CompareError(f"{where}state_dict.{key} holds a non-finite value")
    return model.eval(), Normalizer(mean, std), inputs


def load_threshold(path: str | Path) -> float:
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no verification threshold; run the evaluate stage (`dvc repro`) first")
    try:
        probe = read_json(path)
    except (OSError, ValueError, RecursionError) as exc:  # unreadable, not UTF-8 JSON, nested past the stack
        raise CompareError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(probe, dict):
        raise CompareError(f"{path}: should hold a JSON object with a threshold, not a {type(probe).__name__}")
    # any finite number: -1 (probe.REJECT_ALL) is a valid "never same"; NaN would answer "different" silently
    return float(_number(probe, "threshold", f"{path}: "))


@torch.inference_mode()
def distance(model, norm: Normalizer, images: np.ndarray) -> float:
    x = torch.from_numpy(images).unsqueeze(1)
    e = model.embed(norm(x))
    # finite weights can still overflow float32; pair_distance would call a NaN distance 0 ("same")
    return float(pair_distance(e[:1], e[1:])) if torch.isfinite(e).all() else math.nan


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
                                       inputs.get("classes"), inputs["drawing"])
        probe = args.probe or str(Path(args.model).with_name(f"{Path(args.model).stem}_probe.json"))
        threshold = load_threshold(probe)
        note = check_provenance(args.model, probe)
        d = distance(model, norm, images)
        if math.isnan(d):
            raise CompareError(f"{args.model}: state_dict gives non-finite embeddings; the weights are unusable")
    except (CompareError, MismatchError, ParamsError, UnsafeCheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdict = "same" if d <= threshold else "different"
    print(f"{names[0]}  vs  {names[1]}")
    if note:
        print(f"note: {note}")
    print(f"distance {d:.4f}, threshold {threshold:.4f} ({probe}): {verdict}")
    return 0
