"""The equal-budget search: its draws, the runs it queues, and a selection that reads validation figures only."""

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from siamese_mnist.config import MODELS, load_params
from siamese_mnist.studies.search.cli import queue
from siamese_mnist.studies.search.selection import markdown, rank, summarise
from siamese_mnist.studies.search.spec import SearchError, draw, experiment_name, load_spec, overrides
from siamese_mnist.studies.search.trials import Trial, read_trial, recorded

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
seed: 7
trials: 3
rungs:
- epochs: 2
- epochs: 4
  keep: 2
select: val_logreg_acc
space:
  every_model:
    lr: {log_uniform: [0.0001, 0.01]}
    batch_size: {choice: [64, 128]}
  triplet:
    mining: {choice: [none, hardest]}
"""


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "search.yaml").write_text(SPEC)
    return load_spec(tmp_path / "search.yaml")


def test_the_tracked_search_space_loads_and_gives_every_model_the_same_trials_and_epochs():
    spec = load_spec(ROOT / "search.yaml")
    assert spec.select == "val_logreg_acc" and spec.trials == 8 and spec.epochs == (10, 50) and spec.keep == (8, 2)
    trial = draw(spec, 1)
    assert set(trial) == set(MODELS)
    shared = {"lr", "weight_decay", "batch_size", "shift", "block"}
    assert set(trial["cnn"]) == shared and set(trial["siamese"]) == shared | {"margin"}
    assert set(trial["triplet"]) == shared | {"margin", "mining"}


def test_draws_are_seeded_per_trial_and_model_and_stay_in_range(spec, tmp_path):
    assert draw(spec, 2) == draw(spec, 2)
    more = yaml.safe_load(SPEC) | {"trials": 5}
    (tmp_path / "more.yaml").write_text(yaml.safe_dump(more, sort_keys=False))  # draws follow the file's order
    assert draw(load_spec(tmp_path / "more.yaml"), 2) == draw(spec, 2)  # more trials leave earlier draws alone
    lrs = [draw(spec, t)[m]["lr"] for t in range(1, 4) for m in MODELS]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == len(lrs)  # models draw apart
    assert all(lr == float(f"{lr:.3g}") for lr in lrs)  # 3 significant digits
    assert {draw(spec, t)["triplet"]["mining"] for t in range(1, 4)} <= {"none", "hardest"}


@pytest.mark.parametrize("edit, message", [
    ({"space": {"cnn": {"margin": {"choice": [1.0]}}}}, "space: cnn.margin is not a param of cnn"),
    ({"space": {"every_model": {"lr": {"log_uniform": [0, 1]}}}}, "space.lr.log_uniform: should be [low, high] with 0 <"),
    ({"space": {"every_model": {"lr": {"normal": [0, 1]}}}}, "space.lr: 'normal' is not one of choice, log_uniform"),
    ({"space": {"every_model": {"batch_size": {"choice": [0]}}}}, "trial 1 draws an invalid setting: cnn.batch_size: 0"),
    ({"select": "logreg_acc"}, "select: 'logreg_acc' is not one of val_logreg_acc, val_map_at_r, val_roc_auc"),
    ({"rungs": [{"epochs": 2}, {"epochs": 2, "keep": 1}]}, "rungs[1].epochs: 2 should be an integer >= 1, more than"),
    ({"rungs": [{"epochs": 2}, {"epochs": 4, "keep": 4}]}, "rungs[1].keep: 4 should be an integer in 1..3"),
    ({"trial": 3}, "trial: unknown key"),
])
def test_a_bad_search_file_is_one_line_naming_the_key(tmp_path, edit, message):
    raw = yaml.safe_load(SPEC) | edit
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(SearchError) as err:
        load_spec(tmp_path / "search.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_overrides_round_trip_through_dvc_into_the_params_the_stages_read(spec, tmp_path):
    from dvc.utils.hydra import apply_overrides

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    sets = overrides(spec, 0, {m: 2 for m in MODELS}, [0, 1, 2, 5, 10, 20, 50])
    assert sets[-2:] == ["train.epochs=2", "render.epochs=[0,1,2]"]
    apply_overrides(str(tmp_path / "params.yaml"), sets + ["cnn.weight_decay=0.000001"])  # DVC writes 1e-06 back
    p = load_params(tmp_path / "params.yaml")
    for m in MODELS:
        for k, v in draw(spec, 2)[m].items():
            assert getattr(p.section(m), k) == v
    assert p.cnn.weight_decay == 1e-6 and p.train.epochs == 2 and p.render.epochs == (0, 1, 2)


def _trial(spec, rung, slot, trial_of, val, test):
    """A finished run whose models all score ``val``/``test`` figures (per model dicts of logreg, map)."""
    metrics = {m: {"logreg_acc": test[m], "map_at_r": test[m], "roc_auc": 0.9,
                   "val": {"logreg_acc": val[m][0], "map_at_r": val[m][1], "roc_auc": 0.99}} for m in MODELS}
    settings = {m: draw(spec, trial_of[m])[m] for m in MODELS}
    return Trial(experiment_name(rung, slot), f"{rung}{slot}" * 20, rung, slot, trial_of, settings, metrics,
                 {m: 60.0 * slot for m in MODELS})


def _rung0(spec):
    # val (logreg, MAP@R): cnn ranks 2 > 3 > 1; siamese 1 and 3 tie on logreg, 3 wins on MAP@R; triplet 3 and 1
    # tie on both, the lower trial first. Test figures rank the other way round.
    val = {1: {"cnn": (0.90, 0.8), "siamese": (0.95, 0.8), "triplet": (0.97, 0.9)},
           2: {"cnn": (0.99, 0.8), "siamese": (0.94, 0.9), "triplet": (0.96, 0.9)},
           3: {"cnn": (0.95, 0.8), "siamese": (0.95, 0.9), "triplet": (0.97, 0.9)}}
    test = {t: {m: 1.0 - v[m][0] for m in MODELS} for t, v in val.items()}
    return {0: {t: _trial(spec, 0, t, {m: t for m in MODELS}, val[t], test[t]) for t in (1, 2, 3)}}


def test_ranking_by_validation_worked_out_by_hand(spec):
    found = _rung0(spec)
    trials = list(found[0].values())
    assert [t.slot for t in rank(trials, "cnn", "val_logreg_acc")] == [2, 3, 1]
    assert [t.slot for t in rank(trials, "siamese", "val_logreg_acc")] == [3, 1, 2]
    assert [t.slot for t in rank(trials, "triplet", "val_logreg_acc")] == [1, 3, 2]
    report = summarise(spec, found)
    assert report["rungs"][0]["kept"] == {"cnn": [2, 3], "siamese": [3, 1], "triplet": [1, 3]}
    assert report["rungs"][1] | {"trials": []} == {"rung": 1, "epochs": 4, "runs": 2, "finished": 0, "trials": [],
                                                    "complete": False}
    assert report["budget"]["epochs_per_model"] == 3 * 2 + 2 * 4 and "winners" not in report


def test_the_selection_never_reads_a_test_figure(spec):
    """Scrambled test figures give the same search.json, byte for byte; scrambled validation ones do not
    (so the comparison can fail)."""
    found = _rung0(spec)
    before = json.dumps(summarise(spec, found), sort_keys=True)
    scrambled = copy.deepcopy(found)
    for t in scrambled[0].values():
        for m in MODELS:
            for k in t.metrics[m]:
                if k != "val":
                    t.metrics[m][k] = -t.metrics[m][k] if isinstance(t.metrics[m][k], float) else "x"
    assert json.dumps(summarise(spec, scrambled), sort_keys=True) == before
    for t in scrambled[0].values():
        t.metrics["cnn"]["val"]["logreg_acc"] = 1.0 - t.metrics["cnn"]["val"]["logreg_acc"]
    assert summarise(spec, scrambled)["rungs"][0]["kept"]["cnn"] == [1, 3]


def test_the_last_rung_picks_the_winners_and_the_table_shows_them(spec):
    found = _rung0(spec)
    kept = summarise(spec, found)["rungs"][0]["kept"]
    # rung 1: slot k runs each model's k-th kept trial; the second-kept CNN (trial 3) now beats the first (2)
    val = {1: {"cnn": (0.96, 0.9), "siamese": (0.99, 0.9), "triplet": (0.98, 0.9)},
           2: {"cnn": (0.98, 0.9), "siamese": (0.97, 0.9), "triplet": (0.97, 0.9)}}
    found[1] = {k: _trial(spec, 1, k, {m: kept[m][k - 1] for m in MODELS}, val[k], {m: 0.5 for m in MODELS})
                for k in (1, 2)}
    report = summarise(spec, found)
    assert report["rungs"][1]["ranking"] == {"cnn": [3, 2], "siamese": [3, 1], "triplet": [1, 3]}
    assert {m: w["trial"] for m, w in report["winners"].items()} == {"cnn": 3, "siamese": 3, "triplet": 1}
    assert report["winners"]["cnn"]["experiment"] == "search-r1-k2"
    assert report["winners"]["cnn"]["settings"] == draw(spec, 3)["cnn"]
    text = markdown(report)
    assert "## Winners" in text and "| cnn | 3 | lr=" in text and "| 2 (kept) |" in text
    assert "test" not in text.replace("no test figure", "")


def test_queue_skips_what_finished_or_waits_and_shares_split_the_rest(spec):
    render = [0, 1, 2, 5]
    names = [n for n, _ in queue(spec, 0, None, set(), set(), render)]
    assert names == ["search-r0-t01", "search-r0-t02", "search-r0-t03"]
    assert [n for n, _ in queue(spec, 0, None, {"search-r0-t01"}, {"search-r0-t03"}, render)] == ["search-r0-t02"]
    one = [n for n, _ in queue(spec, 0, None, set(), set(), render, (1, 2))]
    two = [n for n, _ in queue(spec, 0, None, set(), set(), render, (2, 2))]
    assert one == ["search-r0-t01", "search-r0-t03"] and two == ["search-r0-t02"]
    with pytest.raises(SearchError, match="rung 1 needs rung 0 finished and selected first"):
        queue(spec, 1, None, set(), set(), render)
    report = summarise(spec, _rung0(spec))
    (name, sets), (name2, _) = queue(spec, 1, report, set(), set(), render)
    assert (name, name2) == ("search-r1-k1", "search-r1-k2")
    assert f"cnn.lr={draw(spec, 2)['cnn']['lr']}" in sets and f"siamese.lr={draw(spec, 3)['siamese']['lr']}" in sets
    assert sets[-2:] == ["train.epochs=4", "render.epochs=[0,1,2,4]"]


def load_spec_epochs(spec, epochs):
    """``spec`` with rung 1 as long as rung 0 (so one fake file serves both)."""
    from dataclasses import replace

    return replace(spec, epochs=(epochs, epochs))


class FakeReader:
    def __init__(self, files):
        self.files = files

    def read(self, path, rev):
        return self.files[path]


def test_a_trial_that_ran_other_settings_than_the_file_draws_is_refused(spec):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for m in MODELS:
        params[m].update(draw(spec, 1)[m])
    params["train"]["epochs"] = 2
    files = {"params.yaml": yaml.safe_dump(params), "plots/eval/cnn.csv": "epoch\n0\n1\n2\n"}
    for m in MODELS:
        files[f"metrics/{m}.json"] = json.dumps({m: {"val": {"logreg_acc": 0.9, "map_at_r": 0.8, "roc_auc": 0.9}}})
        files[f"plots/eval/{m}.csv"] = "epoch\n0\n1\n2\n"
    plan = {1: {m: 1 for m in MODELS}}
    assert read_trial(FakeReader(files), "search-r0-t01", "a" * 40, spec, plan).settings == draw(spec, 1)
    cut = dict(files, **{"plots/eval/siamese.csv": "epoch\n0\n1\n"})  # stopped after epoch 1: not finished
    assert read_trial(FakeReader(cut), "search-r0-t01", "a" * 40, spec, plan) is None
    params["cnn"]["lr"] = 0.5
    files["params.yaml"] = yaml.safe_dump(params)
    # a rung-1 run of a setting the rung before no longer keeps is skipped, not fatal
    assert read_trial(FakeReader(files), "search-r1-k1", "a" * 40, load_spec_epochs(spec, 2), plan) is None
    with pytest.raises(SearchError, match=r"search-r0-t01 \(aaaaaaa\) ran cnn.lr=0.5, but search.yaml draws"):
        read_trial(FakeReader(files), "search-r0-t01", "a" * 40, spec, plan)


def test_the_committed_record_stands_in_for_experiments_this_clone_lacks(spec, tmp_path):
    found = _rung0(spec)
    saved = json.loads(json.dumps(summarise(spec, found)))  # metrics/search.json as committed
    again = recorded(spec, saved, {})
    assert sorted(again[0]) == [1, 2, 3]
    assert json.dumps(summarise(spec, again), sort_keys=True) == json.dumps(saved, sort_keys=True)
    saved["rungs"][0]["trials"][1]["settings"]["cnn"]["lr"] = 0.5  # recorded under another space: not taken
    assert sorted(recorded(spec, saved, {})[0]) == [1, 3]


def test_a_run_recorded_as_failed_ranks_last_and_lets_its_rung_complete(spec):
    from siamese_mnist.studies.search.trials import add_failed

    found = _rung0(spec)
    del found[0][2]  # trial 2 diverged: no experiment; without --failed the rung waits for it forever
    assert not summarise(spec, found)["rungs"][0]["complete"]
    add_failed(spec, found, ["search-r0-t02"], {}, final=True)
    report = summarise(spec, found)
    # the hand ranking of the other two (see _rung0) with trial 2 last for every model, cnn's best included
    assert report["rungs"][0]["ranking"] == {"cnn": [3, 1, 2], "siamese": [3, 1, 2], "triplet": [1, 3, 2]}
    assert report["rungs"][0]["kept"] == {"cnn": [3, 1], "siamese": [3, 1], "triplet": [1, 3]}
    entry = report["rungs"][0]["trials"][1]
    assert entry["failed"] is True and entry["val"] is None and entry["settings"] == draw(spec, 2)
    assert "| 2 | " in markdown(report) and "| failed | failed | failed |" in markdown(report)
    saved = json.loads(json.dumps(report))  # committed: every clone sees the failure and queues nothing for it
    assert json.dumps(summarise(spec, recorded(spec, saved, {})), sort_keys=True) == json.dumps(saved, sort_keys=True)
    assert [n for n, _ in queue(spec, 0, saved, {t.name for t in recorded(spec, saved, {})[0].values()}, set(),
                                [0])] == []
    with pytest.raises(SearchError, match=r"--failed search-r0-t01: it finished"):
        add_failed(spec, found, ["search-r0-t01"], {}, final=True)
    with pytest.raises(SearchError, match=r"--failed search-r0-t09: rung 0 has no run 9"):
        add_failed(spec, found, ["search-r0-t09"], {}, final=True)
    with pytest.raises(SearchError, match=r"--failed search-r1-k1: .*rung 1 needs rung 0 finished"):
        add_failed(spec, {}, ["search-r1-k1"], {}, final=True)


APPLY_BEFORE = """seed: 0                   # one knob
cnn:
  lr: 0.003
  shift: 2                # random translation augmentation, pixels
  block: conv_bn_relu_pool  # | conv_pool_bn_relu
siamese:
  lr: 0.003
  margin: 1.0
  per_epoch: 2.0          # the budget rule; an int = pairs
triplet:
  lr: 0.003
  mining: none            # none | semihard | hardest
"""
APPLY_AFTER = """seed: 0                   # one knob
cnn:
  lr: 0.00692             # searched: trial 3
  shift: 1                # searched: trial 3; random translation augmentation, pixels
  block: conv_pool_bn_relu # searched: trial 3; | conv_pool_bn_relu
siamese:
  lr: 0.000336            # searched: trial 1
  margin: 2.0             # searched: trial 1
  per_epoch: 2.0          # the budget rule; an int = pairs
triplet:
  lr: 0.0066              # searched: trial 1
  mining: semihard        # searched: trial 1; none | semihard | hardest
"""


def test_apply_writes_each_winner_into_its_section_with_its_trial_and_keeps_every_other_line():
    from siamese_mnist.studies.search.apply import apply_winners
    from siamese_mnist.typed_yaml import read_yaml

    report = {"winners": {"cnn": {"trial": 3, "settings": {"lr": 0.00692, "shift": 1, "block": "conv_pool_bn_relu"}},
                          "siamese": {"trial": 1, "settings": {"lr": 0.000336, "margin": 2.0}},
                          "triplet": {"trial": 1, "settings": {"lr": 0.0066, "mining": "semihard"}}}}
    after = apply_winners(APPLY_BEFORE, report)
    assert after == APPLY_AFTER
    assert apply_winners(after, report) == APPLY_AFTER  # applying twice changes nothing
    raw = read_yaml(after)
    assert raw["siamese"]["lr"] == 0.000336 and raw["triplet"]["mining"] == "semihard" and raw["cnn"]["shift"] == 1
    with pytest.raises(SearchError, match="no winners yet"):
        apply_winners(APPLY_BEFORE, {"rungs": []})
    with pytest.raises(SearchError, match=r"no line `  weight_decay: ...` in section cnn"):
        apply_winners(APPLY_BEFORE, {"winners": {"cnn": {"trial": 2, "settings": {"weight_decay": 0.001}}}})


def test_a_failed_run_is_never_kept_and_a_recorded_failure_can_be_taken_back(spec):
    from siamese_mnist.studies.search.apply import apply_winners
    from siamese_mnist.studies.search.trials import add_failed, retry

    found = _rung0(spec)
    del found[0][2], found[0][3]
    add_failed(spec, found, ["search-r0-t02", "search-r0-t03"], {}, final=True)
    report = summarise(spec, found)  # rung 1 keeps 2 per model; only trial 1 finished: nothing kept, said so
    assert "kept" not in report["rungs"][0] and "only 1 run(s) of rung 0 finished" in report["rungs"][0]["note"]
    with pytest.raises(SearchError, match=r"rung 0: rung 1 keeps 2, but only 1"):
        queue(spec, 1, report, set(), set(), [0])
    assert "**rung 1 keeps 2, but only 1" in markdown(report)
    saved = json.loads(json.dumps(report))
    again = retry(saved, ["search-r0-t03"])  # taken back: its record is gone, so `queue` runs it again
    done = {t.name for rung in recorded(spec, again, {}).values() for t in rung.values()}
    assert done == {"search-r0-t01", "search-r0-t02"}
    assert [n for n, _ in queue(spec, 0, again, done, set(), [0])] == ["search-r0-t03"]
    with pytest.raises(SearchError, match=r"--retry search-r0-t01: metrics/search.json records no failed run"):
        retry(saved, ["search-r0-t01"])
    with pytest.raises(SearchError, match=r"--failed search-r0-t2: the run is named search-r0-t02"):
        add_failed(spec, {}, ["search-r0-t2"], {}, final=True)
    # every run of the last rung failed: no winners, and apply says why
    found = _rung0(spec)
    kept = summarise(spec, found)["rungs"][0]["kept"]
    add_failed(spec, found, ["search-r1-k1", "search-r1-k2"], {0: kept}, final=True)
    report = summarise(spec, found)
    assert report["rungs"][1]["complete"] and "winners" not in report
    with pytest.raises(SearchError, match="no winners: every run of the last rung failed"):
        apply_winners(APPLY_BEFORE, report)


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
