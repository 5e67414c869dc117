"""studies/experiments.py, the studies' one door to DVC, on a real git + DVC repo."""

from __future__ import annotations

import os
import subprocess

import pytest

from siamese_mnist.studies.experiments import RepoReader, queue_runs, read_output, waiting_names


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}

    def run(*args):
        subprocess.run(args, cwd=tmp_path, env=env, check=True, capture_output=True)

    run("git", "init", "-q", "-b", "main")
    run("dvc", "init", "-q")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01 first")
    run("dvc", "add", "-q", "data.bin")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "first")
    (tmp_path / "params.yaml").write_text("seed: 2\n")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01 second")
    run("dvc", "add", "-q", "data.bin")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "second")
    return tmp_path


def test_files_are_read_at_any_revision_git_tracked_and_dvc_tracked_alike(repo):
    reader = RepoReader(repo)
    try:
        assert reader.read("params.yaml", "HEAD") == "seed: 2\n"
        assert reader.read("params.yaml", "HEAD~1") == "seed: 1\n"
        assert reader.head() == subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                               text=True).stdout.strip()
        assert reader.experiments() == []  # none run in this repo
    finally:
        reader.close()
    assert read_output("data.bin", "HEAD~1", repo) == b"\x00\x01 first"  # from the DVC cache, as bytes
    assert read_output("data.bin", "HEAD", repo) == b"\x00\x01 second"


def test_an_empty_queue_waits_for_nothing(repo):
    assert waiting_names(str(repo)) == set()


def test_a_dry_run_prints_each_queue_command_and_queues_nothing(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    queue_runs([("seed-3", ["seed=3"]), ("unseen-s0", ["seed=0", "data.holdout_classes=[5,6]"])], dry_run=True)
    assert capsys.readouterr().out.splitlines() == [
        "dvc exp run --queue -n seed-3 -S seed=3",
        "dvc exp run --queue -n unseen-s0 -S seed=0 -S data.holdout_classes=[5,6]"]
    assert waiting_names(str(repo)) == set()


def test_a_subprojects_files_are_read_from_its_folder_git_and_dvc_tracked_alike(repo):
    # a DVC project in a subfolder (as omniglot/ is): dvc.api reads from the git root, and misses the subproject's
    # DVC outputs at another revision; the reader finds both, not the top project's files of the same name
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    sub = repo / "sub"
    sub.mkdir()

    def run(*args):
        subprocess.run(args, cwd=sub, env=env, check=True, capture_output=True)

    run("dvc", "init", "-q", "--subdir")
    (sub / "params.yaml").write_text("seed: 7\n")
    (sub / "dvc.yaml").write_text("stages:\n  make:\n    cmd: python -c \"open('out.txt', 'w').write('made')\"\n"
                                  "    outs:\n      - out.txt\n")
    run("dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "sub")
    (sub / "out.txt").unlink()  # only the cache holds it now
    reader = RepoReader(sub)
    try:
        assert reader.prefix == "sub/"
        assert reader.read("params.yaml", "HEAD") == "seed: 7\n"  # not the top project's seed: 2
        assert reader.read("out.txt", "HEAD") == "made"
    finally:
        reader.close()


def test_each_project_lists_its_own_experiments_not_the_other_projects_in_the_same_git_repo(repo):
    # DVC lists every experiment of the git repo: the top project's `search select` read omniglot/'s search-r1-k1
    # and told the user to `dvc exp remove` it. Each project now sees only the runs that changed its own dvc.lock.
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    stage = ("stages:\n  make:\n    cmd: python -c \"import yaml; open('out.txt', 'w')"
             ".write(str(yaml.safe_load(open('params.yaml'))['seed']))\"\n"
             "    params:\n      - seed\n    outs:\n      - out.txt\n")
    sub = repo / "sub"
    sub.mkdir()

    def run(where, *args):
        subprocess.run(args, cwd=where, env=env, check=True, capture_output=True)

    run(sub, "dvc", "init", "-q", "--subdir")
    (sub / "params.yaml").write_text("seed: 7\n")
    for where in (repo, sub):
        (where / "dvc.yaml").write_text(stage)
        run(where, "dvc", "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "two projects")
    # --temp, as queued runs do (a workspace run would leave its params behind for the other project's run to commit)
    run(repo, "dvc", "exp", "run", "-q", "--temp", "-n", "top-seed-5", "-S", "seed=5")
    run(sub, "dvc", "exp", "run", "-q", "--temp", "-n", "sub-seed-8", "-S", "seed=8")
    for where, name, seed in ((repo, "top-seed-5", "5"), (sub, "sub-seed-8", "8")):
        reader = RepoReader(where)
        try:
            assert [n for n, _ in reader.experiments()] == [name]
            assert reader.read("out.txt", reader.experiments()[0][1]) == seed
        finally:
            reader.close()
