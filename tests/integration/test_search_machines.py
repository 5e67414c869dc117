"""The equal-budget search on the tiny config, from two machines sharing one git remote and one DVC remote:
each queues and runs its share of rung 0 and pushes; one pulls everything, selects, and runs rung 1."""

import json
import re

import pytest
import yaml
from test_queued_experiments import run_queue, start_queue, wait_queue

from conftest import Repo

pytestmark = pytest.mark.integration

SEARCH = """
seed: 3
trials: 2
rungs:
- epochs: 1
- epochs: 2
  keep: 1
select: val_logreg_acc
space:
  every_model:
    lr: {log_uniform: [0.001, 0.01]}
    block: {choice: [conv_bn_relu_pool, conv_pool_bn_relu]}
  siamese:
    margin: {choice: [0.5, 2.0]}
"""


def search(repo: Repo, *args: str) -> str:
    return repo.run(repo.env["PYTHON"], "-m", "siamese_mnist", "search", *args).stdout


@pytest.mark.timeout(1800)  # three tiny experiments, two at once then one (about 90 s each on 2 cores), and pushes
def test_the_search_runs_from_two_machines_and_selects_on_validation(pipeline_repo, tmp_path):
    import sys

    a = pipeline_repo.copy(tmp_path / "a")
    a.env = {**a.env, "SIAMESE_MNIST_THREADS": "1", "PYTHON": sys.executable}
    (a.path / "search.yaml").write_text(SEARCH)
    a.dvc("remote", "add", "-d", "storage", str(tmp_path / "dvc-remote"))
    a.commit("baseline results and the search space")
    a.dvc("push")
    upstream = tmp_path / "upstream.git"
    a.run("git", "clone", "-q", "--bare", str(a.path), str(upstream))
    a.git("remote", "add", "origin", str(upstream))
    b_dir = tmp_path / "b"
    a.run("git", "clone", "-q", str(upstream), str(b_dir))
    b = Repo(b_dir, a.env)
    b.dvc("pull")

    # each machine its share of rung 0, both at once, then each pushes its experiments and their runs
    for repo, share, name in ((a, "1/2", "search-r0-t01"), (b, "2/2", "search-r0-t02")):
        queued = search(repo, "queue", "--share", share)
        assert re.findall(r"-n (search-\S+)", queued) == [name]
        start_queue(repo)
    for repo in (a, b):
        assert "Success" in wait_queue(repo, timeout=1500)
        repo.dvc("exp", "push", "origin", "-A", "--run-cache")
    assert "0 run(s)" in a.run(a.env["PYTHON"], "-m", "siamese_mnist", "search", "queue", "--share", "1/2").stderr

    a.dvc("exp", "pull", "origin", "-A")
    search(a, "select", "--write")
    report = json.loads((a.path / "metrics/search.json").read_text())
    rung0 = report["rungs"][0]
    assert rung0["complete"] and [t["name"] for t in rung0["trials"]] == ["search-r0-t01", "search-r0-t02"]
    for m in ("cnn", "siamese", "triplet"):  # the ranking follows validation logistic regression
        vals = {t["trial_of"][m]: t["val"][m]["logreg_acc"] for t in rung0["trials"]}
        assert rung0["ranking"][m][0] == max(vals, key=lambda t: (vals[t], -t))
        assert rung0["kept"][m] == rung0["ranking"][m][:1]
    b_params = yaml.safe_load(b.run("git", "show", f"{rung0['trials'][1]['rev']}:params.yaml").stdout)
    assert b_params["train"]["epochs"] == 1 and b_params["siamese"]["margin"] in (0.5, 2.0)

    # rung 1: each model's best setting of rung 0, for rung 1's epochs; then the winners
    assert re.findall(r"-n (search-\S+)", search(a, "queue", "--rung", "1")) == ["search-r1-k1"]
    assert "Success" in run_queue(a, timeout=1500)
    out = search(a, "select", "--write")
    assert "rung 0 2/2; rung 1 1/1" in out
    report = json.loads((a.path / "metrics/search.json").read_text())
    for m in ("cnn", "siamese", "triplet"):
        assert report["winners"][m]["trial"] == rung0["kept"][m][0]
        assert report["winners"][m]["experiment"] == "search-r1-k1"
    table = (a.path / "metrics/search.md").read_text()
    assert "## Winners" in table and "Rung 1: 2 epochs (complete)" in table
