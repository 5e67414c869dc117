"""The search's command line: the runs it queues, planned and from a fresh repo."""

import shutil

import pytest
from search_common import ROOT, SPEC, _rung0

from siamese_mnist.studies.search.cli import queue
from siamese_mnist.studies.search.selection import summarise
from siamese_mnist.studies.search.spec import SearchError, draw


def test_queue_skips_what_finished_or_waits_and_shares_split_the_rest(spec):
    render = [0, 1, 2, 5]
    names = [n for n, _ in queue(spec, 0, None, set(), set(), render)]
    assert names == ["search-r0-t01", "search-r0-t02", "search-r0-t03"]
    assert [n for n, _ in queue(spec, 0, None, {"search-r0-t01"}, {"search-r0-t03"}, render)] == ["search-r0-t02"]
    one = [n for n, _ in queue(spec, 0, None, set(), set(), render, (1, 2))]
    two = [n for n, _ in queue(spec, 0, None, set(), set(), render, (2, 2))]
    assert one == ["search-r0-t01", "search-r0-t03"] and two == ["search-r0-t02"]
    with pytest.raises(SearchError, match=r"^share 4/4: rung 0 has 3 run\(s\), so shares past 3 get none$"):
        queue(spec, 0, None, set(), set(), render, (4, 4))  # three trials: a fourth machine would idle silently
    with pytest.raises(SearchError, match="rung 1 needs rung 0 finished and selected first"):
        queue(spec, 1, None, set(), set(), render)
    report = summarise(spec, _rung0(spec))
    (name, sets), (name2, _) = queue(spec, 1, report, set(), set(), render)
    assert (name, name2) == ("search-r1-k1", "search-r1-k2")
    assert f"cnn.lr={draw(spec, 2)['cnn']['lr']}" in sets and f"siamese.lr={draw(spec, 3)['siamese']['lr']}" in sets
    assert sets[-2:] == ["train.epochs=4", "render.epochs=[0,1,2,4]"]


def test_queue_dry_run_plans_rung_0_in_a_repo_with_no_record_yet(spec, tmp_path, monkeypatch, capsys):
    # the command line, not only the planner: a fresh repo has no metrics/search.json, and `queue` then
    # ranks nothing (no --failed/--retry of its own) and prints every trial of rung 0 as a queue command
    import subprocess

    from siamese_mnist.studies.search.cli import main

    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "params.yaml", repo / "params.yaml")
    (repo / "search.yaml").write_text(SPEC)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    assert main(["queue", "--dry-run"]) == 0
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if "dvc exp run --queue" in line]
    assert len(lines) == 3  # 3 trials, each one experiment that trains every model
    assert "rung 0: 3 run(s) to queue" in out.err
