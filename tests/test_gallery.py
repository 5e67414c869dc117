"""`python -m siamese_mnist gallery`: enrol one or a few images per class, name the class of new images or say
"unknown" — the nearest-image rule worked by hand, the real command line on MNIST images and a saved model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from siamese_mnist.datasets.splits import load_split
from siamese_mnist.gallery import Gallery, identify
from test_compare import save_small_model  # the saved model compare is tested with


def test_the_nearest_enrolled_image_names_the_class_and_the_threshold_says_unknown():
    g = Gallery(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]]), np.array([0, 1, 1]), ["a", "b"], [])
    out = identify(g, np.array([[0.1, 0.0], [2.5, 0.0], [10.0, 10.0]]), ["q1", "q2", "q3"], threshold=1.0)
    assert [(m.nearest, m.known) for m in out] == [("a", True), ("b", True), ("b", False)]
    # q3 to (0, 4): sqrt(10² + 6²) = 11.66, nearer than (3, 0) at sqrt(7² + 10²) = 12.21 and (0, 0) at 14.14
    assert [round(m.distance, 2) for m in out] == [0.1, 0.5, 11.66]
    assert identify(g, np.array([[1.0, 0.0]]), ["q"], threshold=1.0)[0].known  # at the threshold: known


@pytest.fixture
def workdir(tmp_path, raw_dir):
    """models/ (a small Siamese model, its probe), a gallery of three digits, queries."""
    save_small_model(tmp_path)
    images, labels = load_split(raw_dir, "test")
    for digit in (3, 5, 8):
        (tmp_path / "gallery" / f"digit-{digit}").mkdir(parents=True)
        for k in np.flatnonzero(labels == digit)[:2]:  # two images a class
            Image.fromarray(images[k]).save(tmp_path / "gallery" / f"digit-{digit}" / f"{k}.png")
    (tmp_path / "queries").mkdir()
    first_five = int(np.flatnonzero(labels == 5)[0])
    Image.fromarray(images[first_five]).save(tmp_path / "queries" / "five.png")  # an enrolled image itself
    return tmp_path


def gallery(cwd, *args):
    return subprocess.run([sys.executable, "-m", "siamese_mnist", "gallery", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_an_enrolled_image_is_its_class_at_distance_zero_and_reject_all_says_unknown(workdir):
    out = gallery(workdir, "gallery", "queries")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "gallery gallery: 3 classes, 6 images; threshold 0.5000 (models/siamese_probe.json)"
    assert lines[1] == ("note: models/siamese_probe.json is named by no dvc.lock: not verified as fitted on "
                        "models/siamese.pt")  # a folder outside any DVC project
    assert lines[2] == "queries/five.png: digit-5, distance 0.0000"
    (workdir / "never.json").write_text(json.dumps({"threshold": -1.0}))  # probe.REJECT_ALL: nothing is "same"
    out = gallery(workdir, "gallery", "queries/five.png", "--probe", "never.json")
    assert out.stdout.splitlines()[2] == "queries/five.png: unknown (nearest: digit-5), distance 0.0000"


@pytest.mark.parametrize("setup, args, message", [
    ("empty", ("empty", "queries"), "error: empty: no class folders; enrol one folder per class, each with its images"),
    ("no image", ("gallery", "queries"), "error: gallery/digit-9: no image to enrol"),
    ("missing", ("nowhere", "queries"), "error: nowhere: no such gallery folder"),
    ("broken query", ("gallery", "broken.png"), "error: broken.png: "),
    ("missing query", ("gallery", "gone.png"), "error: gone.png: no such file"),
])
def test_bad_input_exits_2_with_one_line_naming_it(workdir, setup, args, message):
    (workdir / "empty").mkdir()
    (workdir / "gallery/digit-9").mkdir()
    (workdir / "gallery/digit-9/notes.txt").write_text("not an image")
    if setup != "no image":
        (workdir / "gallery/digit-9/notes.txt").unlink()
        (workdir / "gallery/digit-9").rmdir()
    (workdir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = gallery(workdir, *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1, out.stderr


def test_a_query_that_would_pad_to_gigapixels_is_one_line(workdir):
    Image.new("L", (1, 80_000)).save(workdir / "strip.png")  # a few hundred bytes of PNG
    out = gallery(workdir, "gallery", "strip.png")
    assert out.returncode == 2 and out.stderr.startswith("error: strip.png: 1x80000 pads to a 80000x80000 square")
    assert out.stderr.count("\n") == 1
