"""Share results through a DVC remote: push, a colleague's fresh clone pulls, nothing recomputes."""

import shutil
import subprocess

import pytest

from conftest import Repo

pytestmark = pytest.mark.integration


def round_trip(repo: Repo, tmp_path) -> Repo:
    """Commit and push ``repo``, clone it fresh, pull; returns the clone."""
    repo.commit("results")
    repo.dvc("push")
    clone_dir = tmp_path / "colleague"
    repo.run("git", "clone", "-q", str(repo.path), str(clone_dir))
    clone = Repo(clone_dir, repo.env)
    for rel in (".dvc/config.local",):
        if (repo.path / rel).exists():
            shutil.copy(repo.path / rel, clone_dir / rel)
    assert not (clone_dir / "models/siamese.pt").exists()
    clone.dvc("pull")
    assert clone.status() == {}
    out = clone.dvc("repro").stdout
    assert "Running stage" not in out, out
    return clone


def test_default_local_remote_round_trip(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "work" / "repo")
    # the project's default remote is a folder beside the checkout
    assert repo.dvc("remote", "default").stdout.strip() == "shared"
    clone = round_trip(repo, tmp_path / "work")
    assert (clone.path / "models/siamese.pt").read_bytes() == (repo.path / "models/siamese.pt").read_bytes()
    assert (tmp_path / "work" / "siamese-mnist-dvc-remote").is_dir()
