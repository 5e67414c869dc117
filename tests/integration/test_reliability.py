"""Bad params, interruptions and reproducibility, through the real stage commands and `dvc repro`."""

import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

pytestmark = pytest.mark.integration

BAD_PARAMS = [
    ("train", {"epoch": 3}, "train.epoch: unknown key; did you mean train.epochs?"),
    ("train", {"epochs": 0}, "train.epochs: 0 is out of range"),
    ("siamese", {"margin": -1}, "siamese.margin: -1.0 is out of range"),
    ("pairs", {"positive_fraction": 0}, "pairs.positive_fraction: 0.0 is out of range"),
    ("cnn", {"batch_size": 0}, "cnn.batch_size: 0 is out of range"),
    ("siamese", {"lr": 0}, "siamese.lr: 0.0 is out of range"),
    ("render", {"epochs": [0, -2]}, "render.epochs: -2 is negative"),
    ("render", {"epochs": [0, 3]}, "render.epochs: epoch 3 is beyond train.epochs=2"),
    ("data", {"dataset": "kmnist"}, "data.dataset: 'kmnist' is not one of"),
    ("train", {"device": "gpu"}, "train.device: 'gpu' is not one of"),
    ("data", {"train_limit": 60001}, "data.train_limit: 60001 is out of range"),
    ("data", {"train_limit": 3}, "data.train_limit: 3 is out of range"),
    ("evaluate", {"knn_k": 0}, "evaluate.knn_k: 0 is out of range"),
    ("model", {"hidden": "wide"}, "model.hidden: 'wide' should be an integer"),
]


def stage_cmd(repo, stage: str) -> list[str]:
    cmd = yaml.safe_load((repo.path / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    return shlex.split(cmd)


def tree_digest(root) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_bad_params_exit_2_with_one_line_and_touch_nothing(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    before = tree_digest(repo.path)
    stages = ["download", "pairs", "train_cnn", "evaluate_siamese", "render"]
    good = yaml.safe_load((repo.path / "params.yaml").read_text())
    for i, (section, patch, message) in enumerate(BAD_PARAMS):
        bad = {k: dict(v) for k, v in good.items()}
        bad[section].update(patch)
        path = tmp_path / f"bad{i}.yaml"
        path.write_text(yaml.safe_dump(bad))
        proc = repo.run(*stage_cmd(repo, stages[i % len(stages)]), "--params", str(path), check=False)
        assert proc.returncode == 2, (message, proc.stderr)
        assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr, proc.stderr
    assert tree_digest(repo.path) == before


def test_sigkill_during_epoch_2_then_resume_is_byte_identical(new_repo, mnist_dir, tmp_path):
    repo = new_repo(str(mnist_dir), train={"epochs": 3}, render={"epochs": [0, 3]})
    repo.dvc("repro", "download")
    ckpt = repo.path / "checkpoints/cnn.pt"
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train_cnn"], cwd=repo.path, env=repo.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if torch.load(ckpt, weights_only=True).get("epoch") == 1:
                break  # epoch 1 is saved: training is now inside epoch 2
        except Exception:
            pass  # not written yet
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (repo.path / "models/cnn.pt").exists()

    resumed = repo.dvc("repro", "train_cnn")
    assert "resuming from checkpoints/cnn.pt after epoch 1" in resumed.stderr + resumed.stdout
    fresh = repo.copy(tmp_path / "fresh")
    (fresh.path / "checkpoints/cnn.pt").unlink()
    fresh.dvc("repro", "-f", "train_cnn")
    for rel in ("models/cnn.pt", "embeddings/cnn.npz", "plots/train/cnn.csv"):
        assert (repo.path / rel).read_bytes() == (fresh.path / rel).read_bytes(), rel


NONDETERMINISTIC = {path for m in ("cnn", "siamese", "triplet")  # wall-clock seconds
                    for path in (f"plots/timing/{m}.csv", f"metrics/runtime/{m}.json")}


def lock_hashes(repo) -> dict[str, str]:
    lock = yaml.safe_load((repo.path / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])}


def test_two_clean_runs_give_the_same_output_hashes(pipeline_repo, new_repo, mnist_dir):
    other = new_repo(str(mnist_dir))
    other.dvc("repro")
    a, b = lock_hashes(pipeline_repo), lock_hashes(other)
    assert a.keys() == b.keys() and len(a) > 15
    differ = {k for k in a if a[k] != b[k]}
    assert differ <= NONDETERMINISTIC, differ
