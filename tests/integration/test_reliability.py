"""Bad params, interruptions and reproducibility, through the real `dvc repro`."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

pytestmark = pytest.mark.integration
DELETE = object()  # a key removed from params.yaml

BAD_PARAMS = [
    ("train", {"epoch": 3}, "train.epoch: unknown key; did you mean train.epochs?"),
    ("train", {"epochs": 0}, "train.epochs: 0 is out of range"),
    ("siamese", {"margin": -1}, "siamese.margin: -1.0 is out of range; allowed > 0"),
    ("siamese", {"positive_fraction": 0}, "siamese.positive_fraction: 0.0 is out of range"),
    ("cnn", {"batch_size": 0}, "cnn.batch_size: 0 is out of range"),
    ("triplet", {"mining": "hard"}, "triplet.mining: 'hard' is not one of none, semihard, hardest"),
    ("render", {"epochs": [0, -2]}, "render.epochs: -2 is negative"),
    ("render", {"epochs": [0, 3]}, "render.epochs: epoch 3 is beyond train.epochs=2"),
    ("data", {"dataset": "kmnist"}, "data.dataset: 'kmnist' is not one of"),
    ("data", {"train_limit": 60001}, "data.train_limit: 60001 is out of range"),
    ("data", {"holdout_classes": [3, 3]}, "data.holdout_classes: [3, 3] lists a class twice"),
    ("evaluate", {"knn_k": 0}, "evaluate.knn_k: 0 is out of range"),
    ("model", {"hidden": "wide"}, "model.hidden: 'wide' should be an integer"),
    ("trian", {"epochs": 2}, "trian: unknown key; did you mean train?"),  # a section no stage lists
    # each of these passed check once and failed in a later stage, some after every model had trained
    ("data", {"fit_samples": DELETE}, "data.fit_samples: missing; every param must be in the params file"),
    ("data", {"test_limit": 15}, "data.test_limit: 15 gives class 0 only 1 test image(s); every class needs"),
    ("cnn", {"lr": float("inf")}, "cnn.lr: inf is not a finite number"),
    ("triplet", {"weight_decay": float("nan")}, "triplet.weight_decay: nan is not a finite number"),
    ("seed", 2**40, "seed: 1099511627776 is out of range; allowed 0..4294967295"),
    ("evaluate", {"knn_k": 100000}, "evaluate.knn_k: 100000 is out of range; allowed 1..1000 "),
    ("train", {"epochs": 10**9}, "train.epochs + 1 = 1,000,000,001 embedding dumps of 2,500 images needs about "),
    ("siamese", {"per_epoch": 10**12}, "train.epochs × siamese items (2 × 1,000,000,000,000 of 2 image(s)) needs"),
]


def tree_digest(root) -> dict[str, str]:
    """{path: sha256} of every file of the workspace but git's and DVC's own folders."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts}


def test_bad_params_fail_in_check_before_dvc_touches_any_output(pipeline_repo, tmp_path):
    """Every bad param ends in check with one line naming it: no other stage runs (no training), every workspace
    file stays byte-identical."""
    repo = pipeline_repo.copy(tmp_path / "repo")
    good_text = (repo.path / "params.yaml").read_text()
    before = tree_digest(repo.path)
    good = yaml.safe_load(good_text)
    for section, patch, message in BAD_PARAMS:
        bad = {k: dict(v) if isinstance(v, dict) else v for k, v in good.items()}
        if not isinstance(patch, dict):
            bad[section] = patch
        else:
            bad.setdefault(section, {}).update(patch)
            for key in [k for k, v in patch.items() if v is DELETE]:
                del bad[section][key]
        (repo.path / "params.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
        proc = repo.dvc("repro", check=False)
        assert proc.returncode != 0, (message, proc.stdout)
        assert f"error: {message}" in proc.stderr, (message, proc.stderr)
        assert "Running stage 'check'" in proc.stdout and proc.stdout.count("Running stage") == 1, proc.stdout
        (repo.path / "params.yaml").write_text(good_text)
        after = tree_digest(repo.path)
        assert after == before, (message, {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})
    assert repo.status() == {}


def test_sigkill_during_epoch_2_then_resume_is_byte_identical(new_repo, mnist_dir, tmp_path):
    """Killed in epoch 2, `dvc repro` resumes after epoch 1 and ends byte-identical to an uninterrupted run;
    the same resume point after a change to the loss code is not resumed."""
    repo = new_repo(str(mnist_dir), train={"epochs": 3}, render={"epochs": [0, 3]})
    repo.dvc("repro", "sample@cnn")
    ckpt = repo.path / "checkpoints/cnn.pt"
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train@cnn"], cwd=repo.path, env=repo.env,
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
    edited = repo.copy(tmp_path / "edited")  # the same resume point, then a change to the loss code

    resumed = repo.dvc("repro", "train@cnn")
    assert "resuming from checkpoints/cnn.pt after epoch 1" in resumed.stderr + resumed.stdout
    assert not ckpt.exists()  # removed once the outputs are written
    fresh = repo.copy(tmp_path / "fresh")
    fresh.dvc("repro", "-f", "train@cnn")
    for rel in ("models/cnn.pt", "embeddings/cnn.npz", "dvclive/cnn/metrics.json",
                "dvclive/cnn/plots/metrics/loss.tsv", "dvclive/cnn/plots/metrics/lr.tsv"):
        assert (repo.path / rel).read_bytes() == (fresh.path / rel).read_bytes(), rel

    losses = edited.path / "src/siamese_mnist/losses.py"
    losses.write_text(losses.read_text() + "\n# an edit after the resume point was written\n")
    out = edited.dvc("repro", "train@cnn")
    log = out.stdout + out.stderr
    assert "ignoring resume point checkpoints/cnn.pt: made under other params, data or code" in log
    assert "resuming" not in log


def test_ctrl_c_during_training_is_one_line_exit_130_and_resumes(new_repo, mnist_dir):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, while epoch 2 trains: the stage says
    in one line after which epoch it stopped and dies by SIGINT (a shell's 130), with no traceback; its resume
    point is whole."""
    repo = new_repo(str(mnist_dir), train={"epochs": 3}, render={"epochs": [0, 3]})
    repo.dvc("repro", "sample@cnn")
    ckpt = repo.path / "checkpoints/cnn.pt"
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train@cnn"], cwd=repo.path, env=repo.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if torch.load(ckpt, weights_only=True).get("epoch") == 1:
                break
        except Exception:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    said = [line for line in err.splitlines() if "interrupted" in line]
    assert said and said[0].startswith("cnn interrupted after epoch "), err
    assert said[0].endswith("; `dvc repro` resumes from it"), err
    assert "exited with -2" in err + out, err  # DVC's own line: the stage died by SIGINT, whatever $SHELL is
    assert "Traceback" not in err + out and "Exception ignored" not in err + out, err
    assert not list(repo.path.rglob("*.tmp")), "a half-written file was left"
    saved = torch.load(ckpt, weights_only=True)["epoch"]
    assert said[0] == f"cnn interrupted after epoch {saved}; `dvc repro` resumes from it"
    resumed = repo.dvc("repro", "train@cnn")
    assert f"resuming from checkpoints/cnn.pt after epoch {saved}" in resumed.stderr + resumed.stdout


NONDETERMINISTIC = {path for m in ("cnn", "siamese", "triplet")  # wall-clock seconds, images/s
                    for path in (f"dvclive/{m}/plots", f"metrics/runtime/{m}.json")}


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
