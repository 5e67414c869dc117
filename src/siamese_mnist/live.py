"""Training progress as DVC sees it: live per-epoch curves through dvclive, and a runtime record."""

from __future__ import annotations

import pandas as pd
import torch
from dvclive import Live
from dvclive.serialize import dump_json

from .runtime import cpu_features, cpu_name, peak_rss_mb


class _Live(Live):
    def make_summary(self) -> None:
        # The summary is nested under the model's name and carries its own epoch: three models'
        # files then sit side by side in `dvc exp show` as cnn.epoch, siamese.epoch, ... instead
        # of three path-prefixed copies of dvclive's bare "step".
        dump_json(self.summary, self.metrics_file)


class LiveHistory:
    """Per-epoch ``loss``, ``lr`` and ``images_per_s`` of one model through ``dvclive.Live``.

    ``<dir>/plots/metrics/<name>.tsv`` holds one row per epoch (DVC plots); ``<dir>/metrics.json``
    holds ``{model: {"epoch", "train_loss"}}``, rewritten after every epoch, so `dvc exp show` and
    `dvc plots show` follow a run while it trains. Wall-clock throughput is a plot, never a metric.
    """

    def __init__(self, model: str, out_dir: str, replay=None):
        """``replay``: the TrainState of a resumed run, whose finished epochs are written first."""
        self.model = model
        self.live = _Live(out_dir, dvcyaml=False, save_dvc_exp=False, report=None)
        if replay is not None:
            self.replay(replay.history)

    def log(self, row: dict) -> None:
        self.live.step = int(row["epoch"])
        for key in ("loss", "lr", "images_per_s"):
            self.live.log_metric(key, float(row[key]))
        self.live.summary = {self.model: {"epoch": int(row["epoch"]), "train_loss": float(row["loss"])}}
        self.live.make_summary()

    def replay(self, history: list[dict]) -> None:
        """Write the epochs a resumed run already has, so its files equal an uninterrupted run's."""
        for row in history:
            self.log(row)

    def on_epoch_end(self, state, *_) -> None:
        """A training callback: log the epoch just finished (nothing at epoch 0, which has no history row)."""
        if state.history and state.history[-1]["epoch"] == state.epoch:
            self.log(state.history[-1])

    def end(self) -> None:
        self.live.end()


def runtime_summary(history: list[dict], device: torch.device, threads: int, amp: bool = False) -> dict:
    seconds = [h["seconds"] for h in history]
    return {
        "device": str(device),
        "precision": "bf16-autocast" if amp else "fp32",
        "cpu_features": cpu_features() if device.type == "cpu" else None,
        "peak_rss_mb": peak_rss_mb(),
        "torch_version": torch.__version__,
        "threads": threads,
        "cpu": cpu_name(),
        "epochs_timed": len(seconds),
        "train_seconds": round(sum(seconds), 2),
        "seconds_per_epoch_median": round(float(pd.Series(seconds).median()), 3) if seconds else None,
        "images_per_s_median": round(float(pd.Series([h["images_per_s"] for h in history]).median()), 1)
        if history else None,
    }
