"""Omniglot's splits as the pipeline reads them: class-disjoint by whole alphabets, on the real zips."""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict

import numpy as np
import pytest

from siamese_mnist.datasets.fetch import download
from siamese_mnist.datasets.idx import parse_idx, split_files
from siamese_mnist.datasets.omniglot_splits import (ALPHABETS, BACKGROUND_ZIP, EVALUATION_CHARACTERS, split_characters,
                                                    val_alphabets, write_splits)


def test_validation_alphabets_are_evenly_spaced_in_name_order():
    # 30 names, 5 held out: indices int((i + 0.5) * 30 / 5) = 3, 9, 15, 21, 27
    assert val_alphabets("all", 5) == ["Armenian", "Burmese_(Myanmar)", "Gujarati", "Latin", "Syriac_(Estrangelo)"]
    assert val_alphabets("small1", 1) == ["Greek"]  # Balinese, Early_Aramaic, Greek, Korean, Latin: index 2
    # Armenian 41 + Burmese 34 + Gujarati 48 + Latin 26 + Syriac 23 = 172 characters; 964 - 172 = 792 to train on
    assert split_characters("all", 5) == {"train": 792, "val": 172, "test": 659}
    with pytest.raises(ValueError, match=r"omniglot.val_alphabets: 5 is out of range for background small2; "
                                         r"allowed 1..4"):
        val_alphabets("small2", 5)


def test_the_alphabet_table_is_what_the_zips_hold(omniglot_dir):
    for background, name in BACKGROUND_ZIP.items():
        chars = defaultdict(set)
        with zipfile.ZipFile(omniglot_dir / name) as zf:
            for member in zf.namelist():
                if member.endswith(".png"):
                    chars[member.split("/")[1]].add(member.split("/")[2])
        assert {a: len(c) for a, c in chars.items()} == ALPHABETS[background], background


def test_the_splits_share_no_character_and_no_alphabet(tmp_path, omniglot_dir, mnist_dir):
    download("mnist", tmp_path / "mnist", [str(mnist_dir)])
    write_splits(omniglot_dir, tmp_path / "mnist", tmp_path / "raw", "small1", 1, 28)
    raw = tmp_path / "raw"

    def read(split):
        return tuple(parse_idx(p.read_bytes()) for p in split_files(raw, split))

    characters = json.loads((raw / "characters.json").read_text())
    assert json.loads((raw / "classes.json").read_text()) == characters["train"]  # the CNN's outputs
    alphabets = {s: {n.split("/")[0] for n in names} for s, names in characters.items()}
    assert alphabets["val"] == {"Greek"} and alphabets["train"] == {"Balinese", "Early_Aramaic", "Korean", "Latin"}
    assert len(characters["test"]) == EVALUATION_CHARACTERS and not alphabets["test"] & alphabets["train"]
    counts = {"train": 24 + 22 + 40 + 26, "val": 24, "test": EVALUATION_CHARACTERS}
    for split, n in counts.items():
        images, labels = read(split)
        assert images.shape == (20 * n, 28, 28) and labels.dtype == np.int32
        assert (np.bincount(labels) == 20).all() and len(np.bincount(labels)) == n  # labels 0..n-1, 20 each
        assert np.median(images[:, 0, :]) == 0 and images.max() == 255  # ink bright on black
    images, labels = read("runs")
    assert images.shape == (800, 28, 28) and list(labels[:20]) == list(range(20))
    assert sorted(labels[780:800]) == list(range(380, 400))  # run 20: its test images, classes 380..399
    digits, digit_labels = read("transfer")
    # a fifth of each digit's test images (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009), by largest remainder
    assert digits.shape == (2000, 28, 28)
    assert list(np.bincount(digit_labels)) == [196, 227, 206, 202, 196, 178, 192, 206, 195, 202]
    assert (raw / "all_runs.zip").read_bytes() == (omniglot_dir / "all_runs.zip").read_bytes()


def test_a_drawing_is_prepared_for_the_gallery_exactly_as_the_pipeline_prepares_omniglot(omniglot_dir):
    # gallery and compare read a user's files through folder.prepare_image; for a model trained on Omniglot it must
    # give the very pixels the pipeline trained and scored on (inverted, box filter), or identification drifts
    from io import BytesIO

    from PIL import Image

    from siamese_mnist.datasets.folder import prepare_image
    from siamese_mnist.datasets.omniglot_splits import ink_square, read_runs

    run = read_runs(omniglot_dir / "all_runs.zip")[0]
    for png in run.train + run.test:
        assert (prepare_image(png, 28, "x.png", drawing=True) == ink_square(png, 28)).all()
    assert not (prepare_image(run.train[0], 28, "x.png") == ink_square(run.train[0], 28)).all()  # MNIST-style: not
    bright = BytesIO()  # a drawing already bright on black is not inverted again
    Image.fromarray(ink_square(run.train[0], 105)).save(bright, format="PNG")
    assert (prepare_image(bright.getvalue(), 28, "x.png", drawing=True) == ink_square(run.train[0], 28)).all()
