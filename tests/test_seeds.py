"""The seeds report: its statistics against values worked out by hand, its files and its command line."""

import math

import pandas as pd
import pytest

from siamese_mnist.studies.replicates import ReportError, Run, read_replicates, write_replicates
from siamese_mnist.studies.spread import FINAL_METRICS, main, markdown, summarise
from siamese_mnist.studies.stats import interval, paired

T_975_2DF = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom (tables: 4.303)
T_975_1DF = 12.706204736174698  # the same, 1 degree of freedom (tables: 12.706)


def test_interval_of_three_values():
    s = interval([1.0, 2.0, 3.0])
    # mean 2, sample sd sqrt(((1-2)² + 0 + (3-2)²) / 2) = 1, half-width t·sd/√3
    half = T_975_2DF / math.sqrt(3)
    assert s["n"] == 3 and s["mean"] == 2.0 and s["sd"] == pytest.approx(1.0)
    assert s["ci95"] == pytest.approx([2 - half, 2 + half])
    assert interval([0.5]) == {"n": 1, "mean": 0.5, "sd": None, "ci95": None}


def test_paired_difference_pairs_each_replicate_with_itself():
    # per-seed differences 2, 3, 1: mean 2, sd 1. Unpaired (or misaligned) they would spread far wider.
    s = paired([3.0, 5.0, 4.0], [1.0, 2.0, 3.0])
    assert s["mean"] == pytest.approx(2.0) and s["sd"] == pytest.approx(1.0)
    assert s["ci95"][0] == pytest.approx(2 - T_975_2DF / math.sqrt(3))


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"epoch": range(n), **values})


def _run(seed: int, cnn: list[float], siamese: list[float], triplet: list[float]) -> Run:
    def table(acc):
        return _table({k: acc for k in FINAL_METRICS})
    return Run(f"exp-{seed}", f"rev{seed}", seed, {"cnn": table(cnn), "siamese": table(siamese),
                                                  "triplet": table(triplet)},
               {"cnn": 10.0 + seed, "siamese": 20.0 + 2 * seed, "triplet": 30.0})


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


def test_one_run_is_not_a_spread():
    with pytest.raises(ReportError, match="1 run"):
        summarise([_run(0, [0.1, 0.9], [0.1, 0.9], [0.1, 0.9])], epochs=[1])


def _lock(seed=0, lr=0.003, md5="aaa", stale=False):
    stages = {"train@cnn": {"cmd": "python stages/train.py cnn",
                            "deps": [{"path": "src/siamese_mnist/losses.py", "md5": md5},
                                     {"path": "data/index/cnn.npz", "md5": f"index-of-seed-{seed}"}],
                            "params": {"params.yaml": {"seed": seed, "cnn": {"lr": lr}}}},
              "check": {"deps": [{"path": "params.yaml", "md5": f"file-of-seed-{seed}"}]}}
    if stale:  # an entry left in dvc.lock by a stage that dvc.yaml no longer has
        stages["train_cnn"] = {"deps": [{"path": "src/old.py", "md5": "zzz"}], "params": {"params.yaml": {"x": 1}}}
    return {"schema": "2.0", "stages": stages}


def test_replicate_identity_ignores_seed_data_and_stale_stages_but_not_params_or_code():
    from siamese_mnist.studies.replicates import identity, lock_seed

    stages = {"train", "check"}
    ref = identity(_lock(seed=0, stale=True), stages)
    assert identity(_lock(seed=1), stages) == ref  # another seed: other data hashes, same identity
    assert identity(_lock(seed=1, lr=0.01), stages) != ref  # another param
    assert identity(_lock(seed=1, md5="bbb"), stages) != ref  # other code
    assert lock_seed(_lock(seed=3)) == 3
    mixed = _lock(seed=3)
    mixed["stages"]["evaluate@cnn"] = {"params": {"params.yaml": {"seed": 4}}}
    with pytest.raises(ReportError, match="several seeds"):
        lock_seed(mixed)


def test_an_interval_is_clipped_to_the_range_of_its_metric():
    # 0.97, 0.98, 0.99: mean 0.98, sd 0.01, half-width 4.3027 · 0.01 / √3 = 0.02484: [0.95516, 1.00484] -> high end 1
    s = interval([0.97, 0.98, 0.99], (0.0, 1.0))
    assert s["ci95"] == pytest.approx([0.98 - 0.0248414, 1.0]) and s["clipped"] == [False, True]
    assert interval([0.97, 0.98, 0.99])["clipped"] == [False, False]  # unbounded: the t-interval as it is


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


def _runs_with_gaps() -> list[Run]:
    runs = [_run(0, [0.1, 0.5, 0.90], [0.1, 0.7, 0.93], [0.1, 0.4, 0.91]),
            _run(1, [0.1, 0.6, 0.92], [0.1, 0.8, 0.94], [0.1, 0.5, 0.90]),
            _run(2, [0.1, 0.4, 0.94], [0.1, 0.6, 0.98], [0.1, 0.3, 0.95])]
    for r in runs:  # as the evaluate stage writes it without holdout classes: an empty column
        r.tables["cnn"]["oneshot_holdout_acc"] = float("nan")
    del runs[2].seconds_per_epoch["triplet"]
    return runs


def test_the_replicate_files_give_the_same_report_as_the_runs_they_were_written_from(tmp_path):
    runs = _runs_with_gaps()
    (tmp_path / "seed-7.json").write_text("{}")  # a replicate of an older report: not one of these
    write_replicates(runs, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-0.json", "seed-1.json", "seed-2.json"]
    back = read_replicates(tmp_path)
    assert summarise(back, epochs=[1, 2]) == summarise(runs, epochs=[1, 2])
    for a, b in zip(runs, back):
        assert (a.name, a.rev, a.seed, a.seconds_per_epoch) == (b.name, b.rev, b.seed, b.seconds_per_epoch)
        for m in a.tables:
            pd.testing.assert_frame_equal(a.tables[m], b.tables[m])  # the empty column too: NaN, not None


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


@pytest.mark.parametrize("text, why", [
    ("not json", "JSONDecodeError: Expecting value"),
    ("[]", "TypeError: list indices must be integers or slices, not str"),
    ('{"name": "x", "rev": "y", "seed": 0, "tables": {}}', "KeyError: 'seconds_per_epoch'"),
    ('{"name": "x", "rev": "y", "seed": "zero", "tables": {}, "seconds_per_epoch": {}}', "ValueError: invalid literal"),
])
def test_a_damaged_replicate_file_is_one_line_exit_2(tmp_path, monkeypatch, capsys, text, why):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("render:\n  epochs: [1]\n")
    write_replicates(_runs_with_gaps(), "metrics/replicates")
    (tmp_path / "metrics/replicates/seed-1.json").write_text(text)
    assert main(["--from-files"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seeds: metrics/replicates/seed-1.json: not a replicate file written by `seeds --write` "
                          f"({why}") and err.count("\n") == 1, err


def test_a_change_to_the_plots_code_orphans_no_replicate_and_vary_matches_the_unseen_runs():
    from siamese_mnist.studies.replicates import identity, lock_values

    stages = {"train", "check", "render"}
    ref = _lock(seed=0)
    ref["stages"]["render"] = {"deps": [{"path": "src/siamese_mnist/plotting.py", "md5": "p1"}],
                               "params": {"params.yaml": {"render.dpi": 80}}}
    other = _lock(seed=1)
    other["stages"]["render"] = {"deps": [{"path": "src/siamese_mnist/plotting.py", "md5": "p2"}],
                                 "params": {"params.yaml": {"render.dpi": 120}}}
    assert identity(other, stages) == identity(ref, stages)  # only the plots differ: still a replicate
    held = _lock(seed=2)
    held["stages"]["train@cnn"]["params"]["params.yaml"]["data.holdout_classes"] = [5, 6]
    ref["stages"]["train@cnn"]["params"]["params.yaml"]["data.holdout_classes"] = []
    assert identity(held, stages) != identity(ref, stages)
    vary = ("data.holdout_classes",)
    assert identity(held, stages, vary) == identity(ref, stages, vary)
    assert lock_values(held, "data.holdout_classes") == [[5, 6]] and lock_values(held, "x") == []


def test_a_replicate_file_of_other_params_or_code_is_refused_naming_the_stage_and_what_differs(tmp_path):
    from siamese_mnist.studies.replicates import check_identity, identity

    stages = {"train"}
    ref = identity(_lock(seed=0), stages)
    runs = _runs_with_gaps()
    runs[0].identity = identity(_lock(seed=0), stages)  # same params and code
    runs[1].identity = {}  # written before identities were recorded
    check_identity(runs, "metrics/replicates", ref)
    check_identity(runs, "metrics/replicates", None)  # no pipeline at HEAD to compare with
    runs[2].identity = identity(_lock(seed=2, lr=0.01), stages)
    with pytest.raises(ReportError, match=r"^metrics/replicates/seed-2.json: stage train@cnn ran cnn = \{'lr': 0.01\}, "
                                          r"HEAD \{'lr': 0.003\}; rerun that seed"):
        check_identity(runs, "metrics/replicates", ref)
    runs[2].identity = identity(_lock(seed=2, md5="bbb"), stages)
    with pytest.raises(ReportError, match="stage train@cnn ran other code: src/siamese_mnist/losses.py; rerun"):
        check_identity(runs, "metrics/replicates", ref)
    # the files keep the identity they were written with
    write_replicates(runs, tmp_path)
    assert [r.identity for r in read_replicates(tmp_path)] == [r.identity for r in runs]


def test_relock_records_the_proven_code_in_the_replicate_files_too(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from relock import relock_replicates
    from siamese_mnist.studies.replicates import check_identity, identity

    stages = {"train"}
    runs = _runs_with_gaps()
    for r in runs:
        r.identity = identity(_lock(seed=r.seed, md5="old"), stages)
    write_replicates(runs, tmp_path / "metrics/replicates")
    new = _lock(seed=0, md5="new")  # the refactored code, its outputs proven byte-identical
    new["stages"]["train@cnn"]["params"]["params.yaml"]["cnn.block"] = "conv_bn_relu_pool"  # a param added
    relock_replicates({"train@cnn": new["stages"]["train@cnn"]}, root=tmp_path)
    back = read_replicates(tmp_path / "metrics/replicates")
    check_identity(back, "metrics/replicates", identity(new, stages))  # no replicate orphaned
    assert json.loads((tmp_path / "metrics/replicates/seed-1.json").read_text())["tables"] == \
        json.loads(json.dumps({m: t.astype(object).where(t.notna(), None).to_dict("list")
                               for m, t in runs[1].tables.items()}))


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
