"""The seeds report: its statistics against values worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from siamese_mnist.report import FINAL_METRICS, ReportError, Run, interval, markdown, paired, summarise

T_975_2DF = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom (tables: 4.303)


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
    from siamese_mnist.report import identity, lock_seed

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
