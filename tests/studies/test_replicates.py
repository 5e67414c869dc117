"""The replicate files and the identity of a replicate: what makes two runs replicates of one experiment."""

import pandas as pd
import pytest
from spread_common import _runs_with_gaps

from siamese_mnist.studies.replicates import ReportError, read_replicates, write_replicates
from siamese_mnist.studies.spread import main, summarise


def _lock(seed=0, lr=0.003, md5="aaa", stale=False, rotations=None):
    cnn = {"lr": lr} if rotations is None else {"lr": lr, "rotations": rotations}
    stages = {"train@cnn": {"cmd": "python stages/train.py cnn",
                            "deps": [{"path": "src/siamese_mnist/losses.py", "md5": md5},
                                     {"path": "data/index/cnn.npz", "md5": f"index-of-seed-{seed}"}],
                            "params": {"params.yaml": {"seed": seed, "cnn": cnn}}},
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


def test_vary_reaches_a_param_inside_a_section_the_stage_records_whole():
    from siamese_mnist.studies.replicates import identity, lock_values

    ref, turned = _lock(seed=0), _lock(seed=1)
    ref["stages"]["train@cnn"]["params"]["params.yaml"]["cnn"]["rotations"] = False
    turned["stages"]["train@cnn"]["params"]["params.yaml"]["cnn"]["rotations"] = True
    assert identity(turned, {"train"}) != identity(ref, {"train"})
    vary = ("cnn.rotations",)  # the rest of the cnn section still counts
    assert identity(turned, {"train"}, vary) == identity(ref, {"train"}, vary)
    assert identity(turned, {"train"}, vary)["train@cnn"]["params"]["cnn"] == {"lr": 0.003}
    assert identity(_lock(seed=1, lr=0.01), {"train"}, vary) != identity(ref, {"train"}, vary)
    assert lock_values(turned, "cnn.rotations") == [True] and lock_values(turned, "cnn.margin") == []


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


def test_an_arms_file_is_read_by_a_report_that_also_sets_a_param_the_file_ran_at_that_value():
    # Omniglot's small1 runs were written as the arm {omniglot.background}; once params.yaml turned the Siamese
    # network's rotations on, they are the arm {omniglot.background, siamese.rotations: false}: the same files.
    from siamese_mnist.studies.replicates import check_identity, identity

    def lock(seed, background, turned):
        out = _lock(seed=seed)
        out["stages"]["train@cnn"]["params"]["params.yaml"].update(background=background, cnn={"lr": 0.003,
                                                                                                  "rotations": turned})
        return out

    runs = _runs_with_gaps()
    for r in runs:  # as `seeds --write --set background=small1` recorded them, when rotations were off
        r.identity = identity(lock(r.seed, "small1", False), {"train"}, ("background",))
    head = lock(0, "full", True)  # rotations on at HEAD now
    with pytest.raises(ReportError, match=r"seed-0.json: stage train@cnn ran cnn = \{'lr': 0.003, 'rotations': "
                                          r"False\}, HEAD \{'lr': 0.003, 'rotations': True\}"):
        check_identity(runs, "small1", identity(head, {"train"}, ("background",)), {"background": "small1"})
    arm = {"background": "small1", "cnn.rotations": False}
    check_identity(runs, "small1", identity(head, {"train"}, tuple(arm)), arm)
    with pytest.raises(ReportError, match=r"^small1/seed-0.json: stage train@cnn ran cnn.rotations = False, not the "
                                          r"True this report asks for"):
        check_identity(runs, "small1", identity(head, {"train"}, tuple(arm)), {**arm, "cnn.rotations": True})


def test_relock_records_the_proven_code_in_the_replicate_files_too(tmp_path):
    import json

    from relock import relock_replicates  # tools/relock.py (tests/conftest.py puts tools/ on sys.path)
    from siamese_mnist.studies.replicates import check_identity, identity

    stages = {"train"}
    runs, arm = _runs_with_gaps(), _runs_with_gaps()
    # an arm's folder (seeds --replicates): its identity leaves out the param it set
    for r in arm:
        r.identity = identity(_lock(seed=r.seed, md5="old", rotations=True), stages, ("cnn.rotations",))
    write_replicates(arm, tmp_path / "metrics/replicates-rotations")
    old = _lock(seed=0, md5="old", rotations=False)
    for r in runs:
        r.identity = identity(_lock(seed=r.seed, md5="old", rotations=False), stages)
    write_replicates(runs, tmp_path / "metrics/replicates")
    new = _lock(seed=0, md5="new", rotations=False)  # the refactored code, its outputs proven byte-identical
    new["stages"]["train@cnn"]["params"]["params.yaml"]["cnn.block"] = "conv_bn_relu_pool"  # a param added
    relock_replicates({"train@cnn": new["stages"]["train@cnn"]}, tmp_path,
                      {"train@cnn": old["stages"]["train@cnn"]["params"]})
    check_identity(read_replicates(tmp_path / "metrics/replicates"), "metrics/replicates", identity(new, stages))
    # no replicate orphaned, an arm's neither; nor is the arm's file given HEAD's rotations: false (a clash)
    check_identity(read_replicates(tmp_path / "metrics/replicates-rotations"), "metrics/replicates-rotations",
                   identity(new, stages, ("cnn.rotations",)), {"cnn.rotations": True})
    assert json.loads((tmp_path / "metrics/replicates/seed-1.json").read_text())["tables"] == \
        json.loads(json.dumps({m: t.astype(object).where(t.notna(), None).to_dict("list")
                               for m, t in runs[1].tables.items()}))


def test_a_damaged_replicate_is_one_line_naming_it(tmp_path):
    import json

    import pandas as pd

    from siamese_mnist.studies.replicates import Run, final_column, read_replicates, write_replicates

    table = pd.DataFrame({"epoch": [0, 1], "logreg_acc": [0.1, 0.99]})
    runs = [Run("seed-1", "f" * 40, 1, {"cnn": table}), Run("seed-2", "e" * 40, 2, {"cnn": table.copy()})]
    assert final_column(runs, "cnn", "logreg_acc", (0.0, 1.0)) == [0.99, 0.99]
    runs[1].tables["cnn"].loc[1, "logreg_acc"] = float("nan")
    with pytest.raises(ReportError, match=r"^seed-2 \(seed 2\): cnn logreg_acc = nan, outside \[0.0, 1.0\]"):
        final_column(runs, "cnn", "logreg_acc", (0.0, 1.0))
    runs[1].tables["cnn"].loc[1, "logreg_acc"] = 1e308
    with pytest.raises(ReportError, match=r"cnn logreg_acc = 1e\+308, outside"):
        final_column(runs, "cnn", "logreg_acc", (0.0, 1.0))
    with pytest.raises(ReportError, match=r"^seed-1 \(seed 1\): no logreg_acc of siamese; a damaged or partial"):
        final_column(runs, "siamese", "logreg_acc", (0.0, 1.0))
    # a file whose seed is not its name's: that seed would count twice, the named one not at all
    write_replicates(runs[:1], tmp_path)
    record = json.loads((tmp_path / "seed-1.json").read_text())
    (tmp_path / "seed-3.json").write_text(json.dumps(record))
    with pytest.raises(ReportError, match=r"seed-3.json: holds seed 1; a replicate file is named by its seed$"):
        read_replicates(tmp_path)


def test_a_report_outside_a_project_is_one_line(tmp_path, monkeypatch):
    from siamese_mnist.studies.replicates import gather

    monkeypatch.chdir(tmp_path)  # no .dvc here nor above (pytest's temporary folder)
    with pytest.raises(ReportError, match=r"not a DVC project \(NotDvcRepoError\); run it in the project's folder"):
        gather([], False, tmp_path / "metrics/replicates", tmp_path / "params.yaml")
