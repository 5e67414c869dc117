"""Omniglot as the pipeline's splits, class-disjoint from end to end: what the download stage writes for
``data.dataset: omniglot``.

- ``train``: the background characters (all 30 alphabets, or a minimal split's 5: ``omniglot.background``) but
  ``omniglot.val_alphabets`` whole alphabets, held out as ``val`` — validation never shares a character, nor an
  alphabet, with training, and never touches the evaluation set;
- ``test``: the evaluation set (20 other alphabets, 659 characters), only ever reported;
- ``runs``: Lake et al.'s 20 runs, 40 images a run (its 20 training images, then its 20 test images), labelled
  ``20 × run + class`` (:func:`siamese_mnist.lake_runs.runs_split` and ``runs_error`` read them);
- ``transfer``: 2 000 MNIST test digits (class-stratified, seed 0), for the Omniglot-trained models' 10-way one-shot.

Each split's labels count from 0 in name order; ``classes.json`` names the training characters (the CNN's
outputs), ``characters.json`` every split's, as ``<alphabet>/<character>``. Images are ``data.image_size``
squares, ink bright on black (``omniglot.ink_square``: Pillow's box filter from 105 × 105).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..atomic import atomic_folder
from .idx import idx_bytes, parse_idx, split_files
from .splits import stratified_subset

BACKGROUND_ZIP = {"all": "images_background.zip", "small1": "images_background_small1.zip",
                  "small2": "images_background_small2.zip"}
EVALUATION_ZIP, RUNS_ZIP = "images_evaluation.zip", "all_runs.zip"
DRAWERS = 20  # images of every character
EVALUATION_CHARACTERS = 659
TRANSFER_DIGITS = 2000

# Characters per alphabet of each background zip (upstream's folders; read from the zips once, pinned by their
# member digests): what the check stage counts before anything is downloaded.
_ALL = {"Alphabet_of_the_Magi": 20, "Anglo-Saxon_Futhorc": 29, "Arcadian": 26, "Armenian": 41,
        "Asomtavruli_(Georgian)": 40, "Balinese": 24, "Bengali": 46, "Blackfoot_(Canadian_Aboriginal_Syllabics)": 14,
        "Braille": 26, "Burmese_(Myanmar)": 34, "Cyrillic": 33, "Early_Aramaic": 22, "Futurama": 26, "Grantha": 43,
        "Greek": 24, "Gujarati": 48, "Hebrew": 22, "Inuktitut_(Canadian_Aboriginal_Syllabics)": 16,
        "Japanese_(hiragana)": 52, "Japanese_(katakana)": 47, "Korean": 40, "Latin": 26, "Malay_(Jawi_-_Arabic)": 40,
        "Mkhedruli_(Georgian)": 41, "N_Ko": 33, "Ojibwe_(Canadian_Aboriginal_Syllabics)": 14, "Sanskrit": 42,
        "Syriac_(Estrangelo)": 23, "Tagalog": 17, "Tifinagh": 55}
ALPHABETS = {"all": _ALL,
             "small1": {a: _ALL[a] for a in ("Balinese", "Early_Aramaic", "Greek", "Korean", "Latin")},
             "small2": {a: _ALL[a] for a in ("Greek", "Japanese_(katakana)", "Latin", "Sanskrit", "Tagalog")}}


def val_alphabets(background: str, count: int) -> list[str]:
    """The ``count`` background alphabets held out as validation: evenly spaced in name order (fixed, whatever the
    seed: every replicate validates on the same characters)."""
    names = sorted(ALPHABETS[background])
    if not 1 <= count < len(names):
        raise ValueError(f"omniglot.val_alphabets: {count} is out of range for background {background}; "
                         f"allowed 1..{len(names) - 1}")
    return [names[int((i + 0.5) * len(names) / count)] for i in range(count)]


def split_characters(background: str, count: int) -> dict[str, int]:
    """Characters of ``train``, ``val`` and ``test`` (every one drawn 20 times)."""
    held = set(val_alphabets(background, count))
    alphabets = ALPHABETS[background]
    return {"train": sum(n for a, n in alphabets.items() if a not in held),
            "val": sum(alphabets[a] for a in held), "test": EVALUATION_CHARACTERS}


def _write(out: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    images_path, labels_path = split_files(out, split)
    images_path.write_bytes(idx_bytes(images))
    labels_path.write_bytes(idx_bytes(labels.astype(np.int32)))


def _relabel(labels: np.ndarray, names: list[str], keep: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the images whose class is in ``keep``, their labels renumbered 0.. in ``keep``'s order)."""
    new = {names.index(k): i for i, k in enumerate(keep)}
    rows = np.flatnonzero(np.isin(labels, list(new)))
    return rows, np.array([new[int(c)] for c in labels[rows]], dtype=np.int32)


def mnist_transfer(mnist_dir: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """2 000 MNIST test digits (class-stratified, seed 0) as ``size`` squares (Pillow's box filter when not 28)."""
    images = parse_idx((mnist_dir / "t10k-images-idx3-ubyte").read_bytes())
    labels = parse_idx((mnist_dir / "t10k-labels-idx1-ubyte").read_bytes())
    rows = stratified_subset(labels, TRANSFER_DIGITS, seed=0)
    images, labels = images[rows], labels[rows]
    if size != images.shape[1]:
        from PIL import Image

        images = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BOX))
                           for im in images])
    return images, labels


def zips_needed(background: str) -> list[str]:
    return [BACKGROUND_ZIP[background], EVALUATION_ZIP, RUNS_ZIP]


def write_splits(zips: Path, mnist: Path, out_dir: str | Path, background: str, held_out: int, size: int) -> None:
    """Every split into ``out_dir`` (whole, or not at all) from the verified zips in ``zips`` (``omniglot.download``)
    and MNIST's verified files in ``mnist``."""
    val_names = set(val_alphabets(background, held_out))
    with atomic_folder(out_dir) as out:
        images, labels, names = read_characters(zips / BACKGROUND_ZIP[background], size)
        characters = {"train": [n for n in names if n.split("/")[0] not in val_names],
                      "val": [n for n in names if n.split("/")[0] in val_names]}
        for split in ("train", "val"):
            rows, new = _relabel(labels, names, characters[split])
            _write(out, split, images[rows], new)
        images, labels, characters["test"] = read_characters(zips / EVALUATION_ZIP, size)
        _write(out, "test", images, labels)
        _write(out, "runs", *runs_split(zips / RUNS_ZIP, size))
        _write(out, "transfer", *mnist_transfer(mnist, size))
        shutil.copyfile(zips / RUNS_ZIP, out / RUNS_ZIP)  # the Hausdorff baseline reads the strokes
        (out / "classes.json").write_text(json.dumps(characters["train"], indent=1) + "\n")
        (out / "characters.json").write_text(json.dumps(characters, indent=1) + "\n")


@dataclass(frozen=True)
class Run:
    """One of Lake et al.'s 20 runs: 20 training images (one per character of one alphabet) and 20 test images
    of the same characters by other drawers; ``answers[i]`` is the training image test image ``i`` shows."""

    name: str  # run01 … run20
    train: list[bytes]  # PNG bytes of class01 … class20
    test: list[bytes]  # PNG bytes of item01 … item20
    answers: list[int]


def ink_square(png: bytes, size: int) -> np.ndarray:
    """(size, size) uint8 of a 105 x 105 Omniglot PNG with ink bright on black, as MNIST's digits are: inverted,
    then shrunk with Pillow's box filter (each output pixel the mean of the input pixels it covers)."""
    from PIL import Image  # only what reads images pays for Pillow

    with Image.open(io.BytesIO(png)) as im:
        inverted = Image.fromarray(255 - np.asarray(im.convert("L")))
    return np.asarray(inverted.resize((size, size), Image.Resampling.BOX))


def read_characters(path: str | Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(N, size, size) uint8 images, (N,) int32 labels and the class names (``<alphabet>/<character>``, sorted,
    a label's index) of a verified Omniglot image zip; images in member order (alphabet, character, file)."""
    with zipfile.ZipFile(path) as zf:
        members = sorted(n for n in zf.namelist() if n.endswith(".png"))
        names = sorted({"/".join(n.split("/")[1:3]) for n in members})
        index = {name: i for i, name in enumerate(names)}
        images = np.empty((len(members), size, size), np.uint8)
        for i, member in enumerate(tqdm(members, desc=Path(path).name, unit="img", leave=False)):
            images[i] = ink_square(zf.read(member), size)
    labels = np.array([index["/".join(m.split("/")[1:3])] for m in members], dtype=np.int32)
    return images, labels, names


def read_runs(path: str | Path) -> list[Run]:
    """The 20 runs of a verified ``all_runs.zip``, in order; test items and classes in file-name order."""
    with zipfile.ZipFile(path) as zf:
        names = sorted({n.split("/")[0] for n in zf.namelist() if n.startswith("run")})
        runs = []
        for run in names:
            pairs = [line.split() for line in zf.read(f"{run}/class_labels.txt").decode().splitlines() if line.strip()]
            train = sorted(t for _, t in pairs)
            test = sorted(q for q, _ in pairs)
            answer_of = dict(pairs)
            runs.append(Run(run, [zf.read(t) for t in train], [zf.read(q) for q in test],
                            [train.index(answer_of[q]) for q in test]))
    return runs


def runs_split(path: str | Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 20 runs as one split: per run its 20 training images (labels 20r + 0..19), then its 20 test images
    (labelled with their answer's 20r + class)."""
    images, labels = [], []
    for r, run in enumerate(read_runs(path)):
        images += [ink_square(png, size) for png in run.train + run.test]
        labels += [20 * r + c for c in range(len(run.train))] + [20 * r + a for a in run.answers]
    return np.stack(images), np.array(labels, dtype=np.int32)
