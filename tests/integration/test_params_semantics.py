"""params.yaml read as DVC reads it (YAML 1.2), through the real `dvc repro`: what dvc.lock records is what the
stages ran on, so the run cache cannot be poisoned — the values YAML 1.1 reads otherwise (010, 1:30, on, yes) and
a repeated key, each one case."""

import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.integration


def runs(repo) -> list[str]:
    """The run-cache entries DVC holds (one file per stage run it saved)."""
    return sorted(str(p.relative_to(repo.path)) for p in (repo.path / ".dvc/cache/runs").rglob("*") if p.is_file())


def with_line(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_each_value_yaml_1_1_reads_otherwise_runs_as_dvc_records_it_or_is_refused(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    params = repo.path / "params.yaml"
    base = params.read_text()
    base_seed = re.search(r"^seed: \S+", base, re.M).group(0)

    # 010: DVC (YAML 1.2) reads 10, and so does every stage (PyYAML read 8): the lock and the bytes agree
    params.write_text(with_line(base, base_seed, "seed: 010"))
    repo.dvc("repro", "sample@cnn")
    lock = yaml.safe_load((repo.path / "dvc.lock").read_text())
    assert lock["stages"]["sample@cnn"]["params"]["params.yaml"]["seed"] == 10
    index = (repo.path / "data/index/cnn.npz").read_bytes()
    ten = tmp_path / "ten.yaml"
    ten.write_text(with_line(base, base_seed, "seed: 10"))
    subprocess.run([sys.executable, "stages/sample.py", "cnn", "data/raw", str(tmp_path / "ten.npz"), "--params",
                    str(ten)], cwd=repo.path, env=repo.env, check=True, capture_output=True)
    with np.load(tmp_path / "ten.npz") as a, np.load(repo.path / "data/index/cnn.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files) and a.files == b.files  # seed 10's draw
    # and a genuine `seed: 10` is what the run cache rightly holds: only check reruns (it reads the file's bytes)
    params.write_text(ten.read_text())
    assert "Running stage 'sample@cnn'" not in repo.dvc("repro", "sample@cnn").stdout
    assert (repo.path / "data/index/cnn.npz").read_bytes() == index

    # the rest YAML 1.1 would read as numbers or booleans: strings to DVC, refused by check, nothing run or cached
    saved = runs(repo)
    for old, new, message in [
        ("seed: 10", "seed: 1:30", "error: seed: '1:30' should be an integer"),
        ("  amp: auto", "  amp: on", "error: train.amp: 'on' should be true or false or auto"),
        ("  deterministic: false", "  deterministic: yes", "error: train.deterministic: 'yes' should be true or false"),
    ]:
        params.write_text(with_line(ten.read_text(), old, new))
        proc = repo.dvc("repro", "sample@cnn", check=False)
        assert proc.returncode != 0
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert errors and errors[0].startswith(message), proc.stderr
        assert "Running stage 'sample@cnn'" not in proc.stdout, proc.stdout
        assert runs(repo) == saved and (repo.path / "data/index/cnn.npz").read_bytes() == index

    # a key twice: DVC refuses the file, and the check says which key and line when run by hand
    params.write_text(ten.read_text() + "seed: 11\n")
    proc = repo.dvc("repro", "sample@cnn", check=False)
    assert proc.returncode != 0 and "Running stage 'sample@cnn'" not in proc.stdout, proc.stdout + proc.stderr
    check = subprocess.run([sys.executable, "stages/check.py", "params.yaml", "data/params.ok"], cwd=repo.path,
                           env=repo.env, capture_output=True, text=True)
    assert check.returncode == 2 and check.stderr.startswith("error: params.yaml: ") and "seed" in check.stderr, \
        check.stderr
    assert check.stderr.count("\n") == 1, check.stderr
    assert runs(repo) == saved and (repo.path / "data/index/cnn.npz").read_bytes() == index
