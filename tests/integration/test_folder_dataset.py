"""Your own images, through the real `dvc repro`: a folder dataset the test writes itself.

550 MNIST digits of 5 classes, written as 40x40 PNGs (a few as RGB, a few non-square) into class
folders named by words, outside the repo; `data.image_size: 32`, validation carved as a fraction.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from siamese_mnist.datasets.splits import load_split

pytestmark = pytest.mark.integration
WORDS = {3: "three", 5: "five", 6: "six", 8: "eight", 9: "nine"}  # sorted names: eight five nine six three
PER_CLASS = {"train": 80, "test": 30}


def write_dataset(root, raw_dir) -> None:
    for split, n in PER_CLASS.items():
        images, labels = load_split(raw_dir, split)
        for digit, word in WORDS.items():
            folder = root / split / word
            folder.mkdir(parents=True)
            for i, idx in enumerate(np.flatnonzero(labels == digit)[:n]):
                im = Image.fromarray(images[idx]).resize((40, 40), Image.Resampling.BILINEAR)
                if i % 10 == 1:
                    im = im.convert("RGB")
                if i % 10 == 2:
                    im = im.crop((0, 4, 40, 36))  # 40 wide, 32 high: padded back to a square
                im.save(folder / f"{word}_{i:03d}.png")
    (root / "train" / "five" / "README.txt").write_text("not an image: skipped and counted\n")


@pytest.fixture
def folder_repo(tmp_path, new_repo, mnist_dir, raw_dir):
    root = tmp_path / "digits-as-words"
    write_dataset(root, raw_dir)
    repo = new_repo(str(mnist_dir), data={"dataset": "folder", "root": str(root), "image_size": 32,
                                          "val_size": 0.2, "train_limit": None, "test_limit": None},
                    triplet={"per_epoch": None})
    return repo, root


def metrics(repo) -> dict:
    """{path: data} of the workspace's metrics, as `dvc metrics show` reads them."""
    shown = json.loads(repo.dvc("metrics", "show", "--json").stdout)
    return {path: entry["data"] for rev in shown.values() for path, entry in rev["data"].items()}


def ran_stages(proc) -> list[str]:
    return sorted(line.split("'")[1] for line in proc.stdout.splitlines() if line.startswith("Running stage"))


def test_folder_dataset_end_to_end(folder_repo):
    repo, root = folder_repo
    first = repo.dvc("repro")
    raw = repo.path / "data/raw"
    assert json.loads((raw / "classes.json").read_text()) == sorted(WORDS.values())
    assert len((raw / "manifest.csv").read_text().splitlines()) == 1 + 5 * (80 + 30)
    assert "skipped 1 file(s): not an image file" in first.stderr + first.stdout
    images, labels = load_split(raw, "train")
    assert images.shape == (400, 32, 32) and np.bincount(labels).tolist() == [80] * 5
    with np.load(repo.path / "embeddings/siamese.npz") as emb:
        assert emb["test"].shape == (3, 150, 2) and len(emb["val_labels"]) == 80  # 0.2 of 400
    ck = torch.load(repo.path / "models/cnn.pt", weights_only=True)
    assert ck["state_dict"]["classifier.weight"].shape == (5, 2)
    assert ck["input"] == {"image_size": 32, "classes": sorted(WORDS.values())}
    files = metrics(repo)
    for model in ("cnn", "siamese", "triplet"):
        m = files[f"metrics/{model}.json"][model]
        assert 0.0 <= m["logreg_acc"] <= 1.0 and m["oneshot_all_acc"] is not None
    assert (repo.path / "plots/comparison_grid.png").stat().st_size > 10_000

    # compare: any image file, resized as the ingest did; a test index is named by its class
    a, b = root / "test/three/three_000.png", root / "test/three/three_001.png"
    out = subprocess.run([sys.executable, "-m", "siamese_mnist", "compare", str(a), str(b)], cwd=repo.path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith((": same", ": different"))
    out = subprocess.run([sys.executable, "-m", "siamese_mnist", "compare", "0", str(a)], cwd=repo.path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "test #0 (class eight)" in out.stdout, out.stdout + out.stderr

    # nothing changed: nothing reruns
    assert repo.status() == {}
    assert ran_stages(repo.dvc("repro")) == []
    # one more image: the ingest and everything after it rerun
    Image.open(root / "train/six/six_000.png").rotate(5).save(root / "train/six/six_new.png")
    rerun = ran_stages(repo.dvc("repro"))
    assert "download" in rerun and "train@cnn" in rerun and "render" in rerun
    assert len((raw / "manifest.csv").read_text().splitlines()) == 1 + 5 * (80 + 30) + 1
    assert repo.status() == {}


def test_bad_folder_input_is_one_line_exit_2(folder_repo):
    repo, root = folder_repo
    # found by the check stage's scan, before DVC touches data/raw
    (root / "train/nine/nine_004.png").write_bytes(b"")
    proc = repo.dvc("repro", "download", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {root}/train/nine/nine_004.png: empty file (0 bytes)"], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout.count("Running stage") == 1, proc.stdout
    (root / "train/nine/nine_004.png").unlink()
    # Read, a FIFO blocks forever and a device never ends: the ingest skips them. (Under `dvc repro`, DVC itself
    # blocks on them first, hashing data.root; docs/own-images.md says so.)
    os.mkfifo(root / "train/nine/fifo.png")
    (root / "test/six/zero.png").symlink_to("/dev/zero")
    (root / "test/six/inside.png").symlink_to(root / "train/nine/fifo.png")
    proc = subprocess.run([sys.executable, "stages/download.py", "data/raw"], cwd=repo.path, env=repo.env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 2 file(s): not a regular file (FIFO, device, socket or broken link)" in proc.stderr, proc.stderr
    assert "skipped 1 file(s): symlink leaving data.root" in proc.stderr, proc.stderr
    for name in ("train/nine/fifo.png", "test/six/zero.png", "test/six/inside.png"):
        (root / name).unlink()
    repo.dvc("repro", "download")
    raw = {p.name: p.read_bytes() for p in (repo.path / "data/raw").iterdir()}

    # found only by decoding it: the check stage decodes every image, so it fails there, before DVC removes
    # data/raw, which stays as it was. A name that is not UTF-8: DVC itself fails on it hashing data.root, before
    # any stage runs (its message names no file); the check stage's own line names it.
    six = (root / "test/six/six_003.png").read_bytes()
    check = [sys.executable, "stages/check.py", "params.yaml", "data/params.ok"]
    for bad, message in [(lambda: (root / "test/six/six_003.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage"),
                          f"error: {root}/test/six/six_003.png: not a readable image ("),
                         (lambda: (root / "test/six/six_003.png").rename(root / "test/six" / os.fsdecode(b"\xe9.png")),
                          f"error: {root}/test/six/\\xe9.png: the name is not UTF-8; rename it")]:
        bad()
        proc = repo.dvc("repro", "download", check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        assert "Running stage 'download'" not in proc.stdout, proc.stdout
        assert {p.name: p.read_bytes() for p in (repo.path / "data/raw").iterdir()} == raw
        proc = subprocess.run(check, cwd=repo.path, env=repo.env, capture_output=True, text=True, timeout=300)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]  # the rest: a progress bar
        assert proc.returncode == 2 and len(errors) == 1 and errors[0].startswith(message), proc.stderr
        for f in (root / "test/six").iterdir():
            if not f.name.startswith("six_"):
                f.unlink()
        (root / "test/six/six_003.png").write_bytes(six)

    (root / "train").rename(root / "training")
    proc = subprocess.run([sys.executable, "stages/download.py", "data/raw"], cwd=repo.path, env=repo.env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: data.root: {root} has no train/ folder " \
        f"(expected {root}/train/<class name>/<images>); `dvc checkout data/raw` brings back the last run's data, " \
        "if any"
