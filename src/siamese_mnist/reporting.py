"""Training history as the tables and runtime summary that DVC shows."""

from __future__ import annotations

import torch
import pandas as pd


def history_frames(history: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(epoch, loss, lr) — deterministic — and (epoch, seconds, images_per_s) — wall-clock, not."""
    df = pd.DataFrame(history)
    return df[["epoch", "loss", "lr"]], df[["epoch", "seconds", "images_per_s"]]


def runtime_summary(history: list[dict], device: torch.device, threads: int, cpu: str) -> dict:
    seconds = [h["seconds"] for h in history]
    return {
        "device": str(device),
        "torch_version": torch.__version__,
        "threads": threads,
        "cpu": cpu,
        "epochs_timed": len(seconds),
        "train_seconds": round(sum(seconds), 2),
        "seconds_per_epoch_median": round(float(pd.Series(seconds).median()), 3) if seconds else None,
        "images_per_s_median": round(float(pd.Series([h["images_per_s"] for h in history]).median()), 1)
        if history else None,
    }
