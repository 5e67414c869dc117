"""`dvc exp` with a queue of two experiments run at once, and `dvc plots diff` over them."""

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def exp_metrics(show: list, name: str) -> tuple[str, dict]:
    """(commit, {metrics file: data}) of the experiment called ``name`` in `dvc exp show --json`."""
    for baseline in show:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs", []):
                if rev.get("name") == name:
                    return rev["rev"], {k: v["data"] for k, v in rev["data"]["metrics"].items()}
    raise AssertionError(f"experiment {name} not in dvc exp show")


def start_queue(repo, jobs: int = 2) -> None:
    """`dvc queue start -j N`, its output to a file: the workers it forks keep any pipe open until they exit."""
    with open(repo.path.parent / "queue-start.log", "a") as log:
        subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)], cwd=repo.path,
                       env=repo.env, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=True)


def run_queue(repo, timeout: float = 600) -> str:
    """Start the workers and wait until no task is queued or running; the last `dvc queue status`."""
    start_queue(repo)
    return wait_queue(repo, timeout)


def wait_queue(repo, timeout: float = 600) -> str:
    """Wait until no task of ``repo``'s queue is queued or running; the last `dvc queue status`.

    DVC's workers may exit while a task is still queued (treeverse/dvc#10562); as its users do,
    start them again when that happens.
    """
    deadline = time.monotonic() + timeout
    pause = 2.0
    while time.monotonic() < deadline:
        status = repo.dvc("queue", "status").stdout
        if "Running" not in status and "Queued" not in status:
            return status
        if "Running" not in status and "0 active" in status:
            start_queue(repo)
        # each `dvc queue status` costs about a CPU-second, taken from the experiments it waits for: poll
        # every 2 s at first, then less often (a tiny experiment takes a minute or more)
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 15.0)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (repo.path / ".dvc/tmp/exps").rglob("*.out"))
    raise AssertionError(f"queue still busy after {timeout} s:\n{status}\nworker logs:\n{logs}")


def test_two_queued_experiments_run_at_once_and_diff(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    # one thread each, set for the workers only: two experiments at once on a 2-core machine, no param touched
    repo.env = {**repo.env, "SIAMESE_MNIST_THREADS": "1"}
    repo.commit("baseline results")  # dvc.lock in git: the queued copies start from it
    repo.dvc("exp", "run", "--queue", "-n", "margin-half", "-S", "siamese.margin=0.5")
    repo.dvc("exp", "run", "--queue", "-n", "margin-one", "-S", "siamese.margin=1.0")
    status = run_queue(repo)
    assert status.count("Success") == 2, status + repo.dvc("queue", "logs", "margin-half", check=False).stdout

    for name in ("margin-half", "margin-one"):  # what DVC ran, from its own log of each task
        log = repo.dvc("queue", "logs", name).stdout
        stages = set(re.findall(r"Running stage '([^']+)'", log))
        assert stages == {"check", "sample@siamese", "train@siamese", "evaluate@siamese", "render", "animate"}, log
        assert "Stage 'train@cnn' didn't change, skipping" in log
        assert "Stage 'train@triplet' didn't change, skipping" in log

    show = json.loads(repo.dvc("exp", "show", "--json").stdout)
    (half_rev, half), (_, one) = exp_metrics(show, "margin-half"), exp_metrics(show, "margin-one")
    assert half["metrics/siamese.json"] != one["metrics/siamese.json"]
    import dvc.api  # the runtime record is a DVC output of the experiment's commit, read from the shared cache
    runtime = json.loads(dvc.api.read("metrics/runtime/siamese.json", repo=str(repo.path), rev=half_rev))
    assert runtime["threads"] == 1
    params = json.loads(repo.dvc("params", "diff", "margin-half", "margin-one", "--json").stdout)
    margin = params["params.yaml"]["siamese.margin"]
    assert (margin["old"], margin["new"]) == (0.5, 1.0)
    assert set(params["params.yaml"]) == {"siamese.margin"}  # the thread count is no param
    metrics = json.loads(repo.dvc("metrics", "diff", "margin-half", "margin-one", "--json").stdout)
    assert "siamese.logreg_acc" in metrics["metrics/siamese.json"]

    # The README's `dvc exp show` line fits a 160-column terminal and shows the changed param and the three
    # models' validation accuracy, what selection reads, and no test figure.
    readme = (ROOT / "README.md").read_text()
    line, = [ln for ln in readme.splitlines() if ln.startswith("dvc exp show ") and "--keep" in ln]
    wide = type(repo)(repo.path, {**repo.env, "COLUMNS": "160"})
    table = wide.run(*shlex.split(line.split("  #")[0])).stdout
    assert max(len(row) for row in table.splitlines()) <= 160, table
    assert "margin-half" in table and "margin-one" in table and "siamese.margin" in table, table
    assert all(f"{m}.val.logreg_acc" in table for m in ("cnn", "siamese", "triplet")), table
    assert "siamese.logreg_acc" not in table.replace("val.logreg_acc", "") and "map_at_r" not in table, table

    out = tmp_path / "plots"
    repo.dvc("plots", "diff", "margin-half", "margin-one", "-o", str(out))
    html = (out / "index.html").read_text()
    assert "margin-half" in html and "margin-one" in html
    assert "logreg_acc" in html and "Training loss per epoch" in html and "Verification ROC" in html
    assert "confusion" in html.lower()
    assert html.count('"title": "model"') >= 9 and "labelExpr" in html  # series named by model (by_model.json)
    assert "comparison_grid.png" in html and "siamese_epoch002.png" in html
    assert len(list(out.rglob("*.png"))) >= 2 * (1 + 6)  # grid + 6 epoch images, per experiment


def test_seed_report_gathers_the_replicates_of_head_and_nothing_else(pipeline_repo, tmp_path):
    """HEAD (seed 0) plus a `-S seed=1` experiment are replicates; a `-S siamese.margin` one is not. A clone,
    which has no experiments, rebuilds the same report from the replicate files the report wrote."""
    import pandas as pd

    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.commit("baseline results")
    repo.dvc("exp", "run", "-n", "seed-1", "-S", "seed=1")
    # newer, same seed, another margin: only the Siamese stages rerun (the rest is in the run cache), and
    # it must not replace seed-1 as the seed-1 replicate
    repo.dvc("exp", "run", "-n", "other-margin", "-S", "seed=1", "-S", "siamese.margin=0.5")
    repo.git("checkout", "--", ".")  # the workspace back at HEAD's results (exp run left its own there)
    repo.dvc("checkout", "-f")
    few = repo.run(sys.executable, "-m", "siamese_mnist", "seeds", check=False)
    assert few.returncode == 2 and few.stderr.count("\n") == 1 and "2 replicate(s) found (seeds 0, 1)" in few.stderr
    out = repo.run(sys.executable, "-m", "siamese_mnist", "seeds", "--allow-few", "--write")
    assert "2 replicates (seeds 0, 1)" in out.stdout, out.stdout + out.stderr
    report = json.loads((repo.path / "metrics/seeds.json").read_text())
    assert [r["seed"] for r in report["runs"]] == [0, 1] and report["runs"][1]["name"] == "seed-1"
    import dvc.api
    finals = {}
    for rev in ("HEAD", "seed-1"):
        for model in ("cnn", "siamese"):
            table = pd.read_csv(__import__("io").StringIO(
                dvc.api.read(f"plots/eval/{model}.csv", repo=str(repo.path), rev=rev)))
            finals[rev, model] = table["logreg_acc"].iloc[-1]
    s = report["final"]["siamese"]["logreg_acc"]
    assert s["n"] == 2 and s["mean"] == pytest.approx((finals["HEAD", "siamese"] + finals["seed-1", "siamese"]) / 2)
    d = report["paired"]["siamese - cnn"]["logreg_acc"]
    diffs = [finals[r, "siamese"] - finals[r, "cnn"] for r in ("HEAD", "seed-1")]
    assert d["mean"] == pytest.approx(sum(diffs) / 2)
    assert d["sd"] == pytest.approx(abs(diffs[0] - diffs[1]) / 2 ** 0.5)
    assert "| logreg_acc |" in (repo.path / "metrics/seeds.md").read_text()
    shown = json.loads(repo.dvc("metrics", "show", "metrics/seeds.json", "--json").stdout)
    assert "metrics/seeds.json" in json.dumps(shown)  # DVC reads it as a metrics file
    one = repo.run(sys.executable, "-m", "siamese_mnist", "seeds", "--allow-few", "seed-1", check=False)
    assert one.returncode == 2 and "a spread needs at least 2 seeds" in one.stderr
    bad = repo.run(sys.executable, "-m", "siamese_mnist", "report", "HEAD", "no-such-exp", check=False)  # old name
    assert bad.returncode == 2 and bad.stderr.strip() == \
        "seeds: no-such-exp: cannot read its results (unknown Git revision 'no-such-exp')"

    replicates = sorted(p.name for p in (repo.path / "metrics/replicates").iterdir())
    assert replicates == ["seed-0.json", "seed-1.json"]
    repo.commit("seeds report and its replicates")
    clone = type(repo)(tmp_path / "clone", repo.env)
    repo.git("clone", "-q", str(repo.path), str(clone.path))
    fresh = clone.run(sys.executable, "-m", "siamese_mnist", "seeds", "--allow-few")
    assert "reading metrics/replicates/seed-*.json" in fresh.stderr, fresh.stderr
    assert fresh.stdout == (repo.path / "metrics/seeds.md").read_text()
