"""live.py: what DVC reads while a model trains (dvclive files), and the runtime record; numbers by hand."""

from __future__ import annotations

import json

import torch

from siamese_mnist.live import LiveHistory, runtime_summary

ROWS = [{"epoch": 1, "loss": 0.5, "lr": 0.01, "images_per_s": 100.0, "seconds": 4.0},
        {"epoch": 2, "loss": 0.25, "lr": 0.005, "images_per_s": 300.0, "seconds": 1.0},
        {"epoch": 3, "loss": 0.125, "lr": 0.0025, "images_per_s": 110.0, "seconds": 1.0}]


def test_each_epoch_is_a_plot_row_and_the_summary_is_nested_under_the_model(tmp_path):
    live = LiveHistory("siamese", str(tmp_path / "live"))
    for row in ROWS:
        live.log(row)
    live.end()
    loss = (tmp_path / "live/plots/metrics/loss.tsv").read_text().splitlines()
    assert loss[0].split("\t")[:2] == ["step", "loss"]
    assert [line.split("\t")[:2] for line in loss[1:]] == [["1", "0.5"], ["2", "0.25"], ["3", "0.125"]]
    # the last epoch's figures, under the model's name: `dvc exp show` shows siamese.epoch, not a bare step
    assert json.loads((tmp_path / "live/metrics.json").read_text()) == {"siamese": {"epoch": 3, "train_loss": 0.125}}
    # wall-clock throughput is a plot, never a metric (it would make every rerun look like a change)
    assert (tmp_path / "live/plots/metrics/images_per_s.tsv").exists()


def test_a_resumed_run_replays_its_epochs_into_the_same_files(tmp_path):
    whole = LiveHistory("cnn", str(tmp_path / "whole"))
    for row in ROWS:
        whole.log(row)

    class Resumed:  # the TrainState of a run that stopped after epoch 2
        history = ROWS[:2]

    resumed = LiveHistory("cnn", str(tmp_path / "resumed"), replay=Resumed())
    resumed.log(ROWS[2])
    for name in ("loss", "lr", "images_per_s"):
        tsv = f"plots/metrics/{name}.tsv"
        assert [r.split("\t")[:2] for r in (tmp_path / "resumed" / tsv).read_text().splitlines()] == \
               [r.split("\t")[:2] for r in (tmp_path / "whole" / tsv).read_text().splitlines()]


def test_the_runtime_record_takes_medians_and_sums_by_hand():
    out = runtime_summary(ROWS, torch.device("cpu"), threads=2, amp=True)
    assert out["train_seconds"] == 6.0  # 4 + 1 + 1
    assert out["seconds_per_epoch_median"] == 1.0  # median of 4, 1, 1 (their mean is 2)
    assert out["images_per_s_median"] == 110.0  # median of 100, 300, 110 (their mean is 170)
    assert out["epochs_timed"] == 3 and out["threads"] == 2 and out["precision"] == "bf16-autocast"
    assert out["device"] == "cpu" and isinstance(out["cpu_features"], list)
    empty = runtime_summary([], torch.device("cpu"), threads=1)
    assert empty["seconds_per_epoch_median"] is None and empty["precision"] == "fp32"
