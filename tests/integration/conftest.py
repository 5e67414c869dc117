"""One way to make a temporary git + DVC repo of this project on a tiny config, and to drive the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ["stages", "src", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", "data/images"]

TINY = {
    "data": {"train_limit": 2000, "test_limit": 1000, "val_size": 500, "fit_samples": 1000},
    "train": {"epochs": 2},
    "triplet": {"per_epoch": None},
    "evaluate": {"silhouette_samples": 500},
    "render": {"epochs": [0, 1, 2], "grid_resolution": 60},
}


class Repo:
    def __init__(self, path: Path, env: dict[str, str]):
        self.path = path
        self.env = env

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args, check=check)

    def git(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("git", *args)

    def status(self) -> dict:
        return json.loads(self.dvc("status", "--json").stdout or "{}")

    def params(self) -> dict:
        """params.yaml as the repo holds it now (tests vary a param away from its default and back)."""
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_params(self, **sections: dict) -> None:
        """Update params.yaml: a section's keys from a dict, or a top-level value (``seed=1``)."""
        path = self.path / "params.yaml"
        raw = yaml.safe_load(path.read_text())
        for section, values in sections.items():
            if isinstance(values, dict):
                raw[section].update(values)
            else:
                raw[section] = values
        path.write_text(yaml.safe_dump(raw, sort_keys=False))

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-qm", message)

    def copy(self, dest: Path) -> "Repo":
        shutil.copytree(self.path, dest, symlinks=True)
        return Repo(dest, self.env)


def base_env(mirror: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DVC_NO_ANALYTICS": "1", "MNIST_MIRROR": mirror, "MNIST_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1",
    })
    return env


def make_repo(path: Path, mirror: str, **overrides: dict) -> Repo:
    """A fresh git + DVC repo holding this project's pipeline, on the tiny config plus ``overrides``."""
    path.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, path / name)
    repo = Repo(path, base_env(mirror))
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.name", "test")
    repo.git("config", "user.email", "test@example.invalid")
    repo.dvc("init", "-q")
    shutil.copy(ROOT / ".dvc/config", path / ".dvc/config")
    shutil.copytree(ROOT / ".dvc/plots", path / ".dvc/plots")  # the plot template that names series by model
    repo.set_params(**{k: {**TINY.get(k, {}), **overrides.get(k, {})} for k in TINY.keys() | overrides.keys()})
    repo.git("add", "-A")
    repo.git("commit", "-qm", "tiny pipeline")
    return repo


@pytest.fixture
def new_repo(tmp_path):
    """new_repo(mirror, **overrides) -> a fresh tiny repo under this test's tmp_path."""
    return lambda mirror, **overrides: make_repo(tmp_path / "repo", mirror, **overrides)


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory, mnist_dir, worker_id) -> Repo:
    """The whole tiny pipeline, reproduced once with the real `dvc repro`; copy it before changing it.

    Under pytest-xdist the first worker to ask builds it (about 100 CPU-seconds, mostly imports) in the run's
    shared temporary folder, and every worker takes its own copy, in which it may run dvc.
    """
    def build(path: Path) -> Repo:
        repo = make_repo(path, str(mnist_dir))
        repo.dvc("repro")
        return repo

    if worker_id == "master":
        return build(tmp_path_factory.mktemp("pipeline") / "repo")
    shared = tmp_path_factory.getbasetemp().parent / "pipeline"  # one folder per run, beside the workers'
    with FileLock(f"{shared}.lock"):
        if not (shared / "built").exists():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker's failed build left
            build(shared / "repo")
            (shared / "built").touch()
    return Repo(shared / "repo", base_env(str(mnist_dir))).copy(tmp_path_factory.mktemp("pipeline") / "repo")


OMNIGLOT_FILES = ["omniglot/.dvc/config", "omniglot/.dvcignore", "omniglot/dvc.yaml", "omniglot/params.yaml"]
OMNIGLOT_TINY = {"data": {"test_limit": 1977},  # 3 drawings of each evaluation character
                 "train": {"epochs": 1},
                 "evaluate": {"episodes": 10},
                 "omniglot": {"background": "small1", "val_alphabets": 1, "ways": [5], "shots": [1, 2]}}


def make_omniglot_repo(path: Path, mnist_dir: Path, omniglot_dir: Path) -> Repo:
    """A fresh git repo holding both pipelines, the Omniglot one on its tiny config (a minimal split, 2 epochs)."""
    path.mkdir(parents=True)
    for name in ["stages", "src", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore", *OMNIGLOT_FILES]:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, path / name)
    env = {**base_env(str(mnist_dir)), "OMNIGLOT_MIRROR": str(omniglot_dir)}
    repo = Repo(path, env)
    repo.git("init", "-q", "-b", "main")
    repo.dvc("init", "-q")
    params = yaml.safe_load((path / "omniglot/params.yaml").read_text())
    for section, values in OMNIGLOT_TINY.items():
        params[section].update(values)
    (path / "omniglot/params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "tiny omniglot pipeline")
    return repo


@pytest.fixture
def omniglot_repo(tmp_path, mnist_dir, omniglot_dir) -> Repo:
    return make_omniglot_repo(tmp_path / "repo", mnist_dir, omniglot_dir)
