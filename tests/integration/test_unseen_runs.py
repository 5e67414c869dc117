"""The unseen-classes protocol on the tiny config: one experiment per seed through the real DVC queue, then
the report, its tracked per-run files and the picture; the report rebuilt from those files alone."""

import json
import sys

import pytest
from test_queued_experiments import run_queue

pytestmark = pytest.mark.integration


@pytest.mark.timeout(1800)
def test_unseen_runs_are_found_by_their_lock_and_reported_against_the_pixels(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.env = {**repo.env, "SIAMESE_MNIST_THREADS": "1"}
    repo.commit("baseline results")
    cli = (sys.executable, "-m", "siamese_mnist", "unseen")
    queued = repo.run(*cli, "queue", "--seeds", "0", "1", "--holdout", "7,8,9").stdout
    assert "-n unseen-s0 -S seed=0 -S data.holdout_classes=[7,8,9]" in queued and "unseen-s1" in queued
    repo.dvc("exp", "run", "--queue", "-n", "other", "-S", "evaluate.knn_k=3")  # no held-out classes: not one
    assert run_queue(repo, timeout=1500).count("Success") == 3  # three tiny runs, two at a time
    assert "0 run(s)" in repo.run(*cli, "queue", "--seeds", "0", "1", "--holdout", "7,8,9").stderr

    out = repo.run(*cli, "report", "--write", "--holdout", "7,8,9").stdout
    assert "2 runs" in out
    report = json.loads((repo.path / "metrics/unseen.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["unseen-s0", "unseen-s1"] and report["holdout_classes"] == [7, 8, 9]
    for m in ("cnn", "siamese", "triplet", "pixels"):
        for k in ("oneshot_holdout_acc", "holdout_map_at_r", "holdout_roc_auc"):
            assert 0.0 <= report["final"][m][k]["mean"] <= 1.0 and report["final"][m][k]["n"] == 2
    files = sorted(p.name for p in (repo.path / "metrics/unseen").iterdir())
    assert files == ["seed-0.json", "seed-1.json"]
    assert (repo.path / "plots/unseen.png").read_bytes()[:4] == b"\x89PNG"
    table = (repo.path / "metrics/unseen.md").read_text()
    again = repo.run(*cli, "report", "--from-files", "--holdout", "7,8,9").stdout  # what a fresh clone gets
    assert again == table
