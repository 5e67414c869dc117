"""The search file: its draws, its checks, and the overrides it gives `dvc exp run`."""

import shutil

import pytest
import yaml
from search_common import ROOT, SPEC

from siamese_mnist.config import MODELS, load_params
from siamese_mnist.studies.search.spec import SearchError, draw, load_spec, overrides


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
    ({"select": "logreg_acc"}, "select: 'logreg_acc' is not one of val_logreg_acc, val_oneshot_acc, val_map_at_r, "
                               "val_roc_auc"),
    ({"space": {}}, "space: searches nothing for cnn; list a param under every_model or cnn"),
    ({"space": {"siamese": {"margin": {"choice": [1.0]}}}}, "space: searches nothing for cnn"),
    ({"trials": 100_000_000}, "trials: 100000000 should be an integer in 1..1000"),
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


def test_a_search_file_without_a_space_or_with_a_key_twice_is_one_line(tmp_path):
    raw = {k: v for k, v in yaml.safe_load(SPEC).items() if k != "space"}
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(SearchError, match=r"space: searches nothing for cnn"):
        load_spec(tmp_path / "search.yaml")
    (tmp_path / "search.yaml").write_text(SPEC + "trials: 3\n")  # a second trials: the first would be lost
    with pytest.raises(SearchError, match=r'not valid YAML \(found duplicate key "trials" with value "3" '):
        load_spec(tmp_path / "search.yaml")


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
