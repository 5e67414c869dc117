"""The seeds report: its statistics over replicates worked out by hand, its files and its command line."""

import pytest
from spread_common import _run, _runs_with_gaps

from siamese_mnist.studies.replicates import ReportError, write_replicates
from siamese_mnist.studies.spread import main, markdown, summarise


def test_summarise_final_epoch_by_epoch_and_speed():
    runs = [_run(0, [0.1, 0.5, 0.90], [0.1, 0.7, 0.93], [0.1, 0.4, 0.91]),
            _run(1, [0.1, 0.6, 0.92], [0.1, 0.8, 0.94], [0.1, 0.5, 0.90]),
            _run(2, [0.1, 0.4, 0.94], [0.1, 0.6, 0.98], [0.1, 0.3, 0.95])]
    r = summarise(runs, epochs=[1, 2])
    assert [x["seed"] for x in r["runs"]] == [0, 1, 2]
    assert r["final"]["cnn"]["logreg_acc"]["mean"] == pytest.approx(0.92)
    assert r["final"]["cnn"]["logreg_acc"]["sd"] == pytest.approx(0.02)  # 0.90, 0.92, 0.94
    d = r["paired"]["siamese - cnn"]["map_at_r"]  # 0.03, 0.02, 0.04
    assert d["mean"] == pytest.approx(0.03) and d["sd"] == pytest.approx(0.01)
    e1 = r["by_epoch"]["logreg_acc"]["1"]["siamese - cnn"]  # 0.2, 0.2, 0.2: no spread at all
    assert e1["mean"] == pytest.approx(0.2) and e1["sd"] == pytest.approx(0.0, abs=1e-12)
    assert r["by_epoch"]["logreg_acc"]["2"]["triplet"]["mean"] == pytest.approx(0.92)
    ratio = r["seconds_per_epoch"]["siamese / cnn"]  # 20/10, 22/11, 24/12 = 2 each
    assert ratio["mean"] == pytest.approx(2.0) and ratio["sd"] == pytest.approx(0.0, abs=1e-12)
    text = markdown(r)
    assert "| logreg_acc | 92.00 ± 2.00 [87.03, 96.97] |" in text  # 2·4.3027/√3 = 4.968 points
    assert "seeds 0, 1, 2" in text
    arm = markdown(r, "metrics/seeds-d64.json", "metrics/replicates-d64", {"model.embedding_dim": 64})
    assert "from the runs listed in `metrics/seeds-d64.json`\n(their per-epoch tables: `metrics/replicates-d64/`)" in arm
    assert "Arm: `--set model.embedding_dim=64`" in arm and "Arm:" not in text


def test_one_run_is_not_a_spread():
    with pytest.raises(ReportError, match="1 run"):
        summarise([_run(0, [0.1, 0.9], [0.1, 0.9], [0.1, 0.9])], epochs=[1])


def test_two_seeds_near_the_bounds_clip_scores_silhouette_and_paired_differences_each_to_its_own_range():
    # cnn 0.578, 0.680 (the 2-seed report that printed 62.90 ± 7.21 [-1.90, 127.70]): mean 0.629, sd 0.102/√2 =
    # 0.07212, half-width 12.706 · 0.07212 / √2 = 12.706 · 0.051 = 0.64802: [-0.01902, 1.27702]
    runs = [_run(0, [0.1, 0.578], [0.1, 0.99], [0.1, 0.5]), _run(1, [0.1, 0.680], [0.1, 0.99], [0.1, 0.5])]
    r = summarise(runs, epochs=[1])
    acc = r["final"]["cnn"]["logreg_acc"]
    assert acc["ci95"] == [0.0, 1.0] and acc["clipped"] == [True, True]  # a score lies in [0, 1]
    sil = r["final"]["cnn"]["silhouette"]  # in [-1, 1]: only the high end passes it
    assert sil["ci95"] == pytest.approx([-0.019016, 1.0], abs=1e-6) and sil["clipped"] == [False, True]
    # siamese - cnn: 0.412, 0.310: mean 0.361, the same half-width: [-0.28702, 1.00902]; a difference of two
    # scores lies in [-1, 1] (its low end is not clipped to 0), of two silhouettes in [-2, 2] (nothing clipped)
    d = r["paired"]["siamese - cnn"]["map_at_r"]
    assert d["ci95"] == pytest.approx([-0.287016, 1.0], abs=1e-6) and d["clipped"] == [False, True]
    d = r["paired"]["siamese - cnn"]["silhouette"]
    assert d["ci95"] == pytest.approx([-0.287016, 1.009016], abs=1e-6) and d["clipped"] == [False, False]
    text = markdown(r)
    assert "| logreg_acc | 62.90 ± 7.21 [0.00*, 100.00*] |" in text
    assert "| silhouette | 0.6290 ± 0.0721 [-0.0190, 1.0000*] |" in text
    assert "*: interval clipped to the metric's range" in text
    far = [_run(0, [0.1, 0.5], [0.1, 0.5], [0.1, 0.5]), _run(1, [0.1, 0.52], [0.1, 0.5], [0.1, 0.5])]
    assert "*" not in markdown(summarise(far, epochs=[1]))  # nothing near a bound: no mark, no footnote


def test_the_command_refuses_few_replicates_and_writes_only_when_asked(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("render:\n  epochs: [1]\n")
    runs = _runs_with_gaps()[:2]
    write_replicates(runs, "metrics/replicates")
    assert main(["--from-files"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 replicate(s) found (seeds 0, 1)" in err and "--allow-few" in err
    assert "for s in 2; do dvc exp run --queue -n seed-$s -S seed=$s; done" in err

    assert main(["--from-files", "--allow-few"]) == 0
    out = capsys.readouterr()
    assert out.out == markdown(summarise(runs, epochs=[1]))
    assert out.err == "(not written; --write to update metrics/seeds.*)\n"
    assert not (tmp_path / "metrics/seeds.json").exists() and not (tmp_path / "metrics/seeds.md").exists()

    assert main(["--from-files", "--allow-few", "--write"]) == 0
    written = json.loads((tmp_path / "metrics/seeds.json").read_text())
    assert written == json.loads(json.dumps(summarise(runs, epochs=[1])))
    assert (tmp_path / "metrics/seeds.md").read_text() == out.out


def test_the_command_line_lists_its_commands_and_the_seeds_help_queues_one_experiment_per_seed(capsys):
    from siamese_mnist.__main__ import main as cli

    assert cli(["--help"]) == 0 and cli(["-h"]) == 0
    out = capsys.readouterr().out
    assert "usage: python -m siamese_mnist COMMAND" in out and "\n  compare " in out and "\n  seeds " in out
    for argv in ([], ["nope"]):
        assert cli(argv) == 2
        assert capsys.readouterr().err.startswith("usage: python -m siamese_mnist COMMAND")
    with pytest.raises(SystemExit) as exit_:
        cli(["report", "--help"])  # the old name of the command, kept
    help_ = capsys.readouterr().out
    assert exit_.value.code == 0 and help_.startswith("usage: python -m siamese_mnist seeds")
    assert "for s in 1 2 3 4; do dvc exp run --queue -n seed-$s -S seed=$s; done" in help_
    assert "dvc queue start" in help_
    # `dvc exp run -S seed=1 -S seed=2` queues ONE experiment (the last -S wins)
    assert not [line for line in help_.splitlines() if line.count("-S seed=") > 1]


def test_a_later_session_adds_its_seeds_to_the_committed_files_and_loses_none(tmp_path, monkeypatch, capsys):
    # session 1 wrote seeds 0, 1, 2; a fresh clone (its experiment refs gone) runs seeds 3 and 4 beside HEAD's
    # seed 0: the report holds all five, seed 0 from HEAD, 1 and 2 from their files, which stay unchanged
    import json

    from siamese_mnist.studies import replicates

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("render:\n  epochs: [1]\n")
    first = _runs_with_gaps()  # seeds 0, 1, 2, trained in fp32 on one machine
    first[0].name = "HEAD"
    for r in first:
        r.machine = {m: {"precision": "fp32", "cpu": "AMD EPYC"} for m in r.tables}
    write_replicates(first, "metrics/replicates")
    before = {p.name: p.read_bytes() for p in (tmp_path / "metrics/replicates").iterdir()}
    head = _runs_with_gaps()[0]
    head.name, head.rev = "HEAD", "a-later-commit"  # the same run read at a later commit,
    head.seconds_per_epoch = {}  # in a clone without its runtime records (not in this clone's DVC cache)
    later = [head, _run(3, [0.1, 0.5, 0.91], [0.1, 0.7, 0.95], [0.1, 0.4, 0.92]),
             _run(4, [0.1, 0.5, 0.93], [0.1, 0.7, 0.96], [0.1, 0.4, 0.90])]
    for r in later[1:]:  # seeds 3 and 4 on another machine, in bfloat16
        r.machine = {m: {"precision": "bf16-autocast", "cpu": "Intel Xeon"} for m in r.tables}

    class Reader:
        def __init__(self, root):
            pass

        def read(self, path, rev):
            return "render:\n  epochs: [1]\n"

        def close(self):
            pass

    monkeypatch.setattr(replicates, "RepoReader", Reader)
    monkeypatch.setattr(replicates, "find_runs", lambda reader, revs, vary=None: list(later))
    monkeypatch.setattr(replicates, "head_identity", lambda vary=None: None)
    assert main(["--write"]) == 0
    out = capsys.readouterr()
    assert "no experiment here ran seed(s) 1, 2: reading metrics/replicates/seed-*.json" in out.err
    assert "5 replicates (seeds 0, 1, 2, 3, 4)" in out.out
    report = json.loads((tmp_path / "metrics/seeds.json").read_text())
    assert [r["seed"] for r in report["runs"]] == [0, 1, 2, 3, 4]
    assert report["runs"][0]["rev"] == "rev0"  # as committed: a fresh clone rewrites nothing
    assert "seed 0 fp32 on AMD EPYC; seed 1 fp32 on AMD EPYC; seed 2 fp32 on AMD EPYC; seed 3 bf16-autocast on " \
           "Intel Xeon; seed 4 bf16-autocast on Intel Xeon" in (tmp_path / "metrics/seeds.md").read_text()
    files = {p.name: p.read_bytes() for p in (tmp_path / "metrics/replicates").iterdir()}
    assert sorted(files) == [f"seed-{s}.json" for s in range(5)]
    assert all(files[name] == before[name] for name in before)  # seed 0 too: only HEAD's rev moved
    # the named revisions alone are the report's: no file joins them
    assert main(["--allow-few", "exp-3", "exp-4"]) == 0
    assert "reading" not in capsys.readouterr().err
