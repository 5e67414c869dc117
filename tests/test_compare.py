"""`python -m siamese_mnist compare`: the real command line on real MNIST images and a saved model."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from siamese_mnist.checkpointing import training_config
from siamese_mnist.compare import load_image
from siamese_mnist.config import ModelConfig, Params
from siamese_mnist.data import load_split
from siamese_mnist.io import save_checkpoint
from siamese_mnist.models import build_model

SMALL = ModelConfig(conv_channels=(4, 8), hidden=16)


@pytest.fixture
def workdir(tmp_path, raw_dir):
    """A folder laid out like the repo after `dvc repro`: models/ (weights, probe), data/raw, two test digits."""
    torch.manual_seed(0)
    params = Params(model=SMALL)
    model = build_model("siamese", SMALL, params.siamese)
    (tmp_path / "models").mkdir()
    save_checkpoint(tmp_path / "models/siamese.pt", {
        "model": "siamese", "state_dict": model.state_dict(), "config": training_config("siamese", params),
        "normalizer": [0.13, 0.31]})
    (tmp_path / "models/siamese_probe.json").write_text(json.dumps({"threshold": 0.5}))
    (tmp_path / "data").mkdir()
    (tmp_path / "data/raw").symlink_to(raw_dir)
    images, _ = load_split(raw_dir, "test")
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    Image.fromarray(images[0]).save(tmp_path / "a_copy.png")
    Image.fromarray(images[0]).convert("RGB").save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return tmp_path


def compare(cwd, *args):
    return subprocess.run([sys.executable, "-m", "siamese_mnist", "compare", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_identical_images_are_the_same(workdir):
    out = compare(workdir, "a.png", "a_copy.png")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(": same")
    assert "distance 0.0000, threshold 0.5000 (models/siamese_probe.json)" in out.stdout


def test_colour_palette_alpha_and_16_bit_copies_of_a_digit_give_the_same_pixels(workdir, raw_dir):
    digit = load_split(raw_dir, "test")[0][0]
    pal = Image.fromarray(digit, "P")
    pal.putpalette([level for i in range(256) for level in (i, i, i)])  # index i is grey level i
    pal.save(workdir / "p.png")
    Image.fromarray(digit).convert("RGBA").save(workdir / "rgba.png")  # opaque: alpha 255 keeps each level
    Image.fromarray(digit.astype(np.uint16) * 257).save(workdir / "deep.png")  # 16-bit: v * 257 * 255 / 65535 = v
    for name in ("a.png", "rgb.png", "p.png", "rgba.png", "deep.png"):
        assert np.array_equal(load_image(workdir / name), digit), name  # R = G = B = v has luma v
    assert load_image(workdir / "big.png").tolist() == [[0] * 28] * 28  # 32x32 black: resized, not refused
    out = compare(workdir, "rgb.png", "a.png")
    assert out.returncode == 0, out.stderr
    assert "distance 0.0000" in out.stdout and out.stdout.strip().endswith(": same")


def test_test_set_indices_are_read_from_data_raw(workdir):
    out = compare(workdir, "0", "0")
    assert out.returncode == 0, out.stderr
    assert "test #0 (class 7)" in out.stdout and out.stdout.strip().endswith(": same")


@pytest.mark.parametrize("args, message", [
    (["broken.png", "a.png"], "error: broken.png: not a readable image"),
    (["missing.png", "a.png"], "error: missing.png: no such file"),
    (["a.png", "a.png", "--model", "models/none.pt"], "error: models/none.pt: no trained model"),
    (["0", "10000"], "error: test index 10000 is out of range; the test split has 10000 images"),
])
def test_bad_input_exits_2_with_one_clear_line(workdir, args, message):
    out = compare(workdir, *args)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
