"""Per-epoch checkpoints that let an interrupted training stage resume exactly.

A checkpoint is tagged with a hash of the params its run was made under; one made under
other params is ignored (with one log line), never mixed into this run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from torch import nn

from .config import Params, to_dict
from .io import load_checkpoint, save_checkpoint
from .training import TrainState

log = logging.getLogger(__name__)


def training_config(model_name: str, p: Params) -> dict:
    """The params that determine a training run's result, as plain data."""
    cfg = {"model_name": model_name, "data": to_dict(p.data), "model": to_dict(p.model),
           "train": to_dict(p.train), model_name: to_dict(p.optim(model_name)),
           "evaluate": {"fit_samples": p.evaluate.fit_samples, "seed": p.evaluate.seed}}
    section = p.optim(model_name).index_section
    if section:
        cfg[section] = to_dict(getattr(p, section))
    return cfg


class EpochCheckpointer:
    def __init__(self, path: str | Path, model_name: str, params: Params):
        self.path = Path(path)
        self.config = training_config(model_name, params)
        self.tag = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()

    def restore(self, model: nn.Module) -> tuple[TrainState | None, dict | None]:
        """Load the last epoch of a matching, unfinished checkpoint into ``model``; else (None, None)."""
        if not self.path.exists():
            return None, None
        ck = load_checkpoint(self.path)
        if ck.get("params_hash") != self.tag:
            log.info("ignoring checkpoint %s: made under other params", self.path)
            return None, None
        if ck.get("complete"):
            return None, None
        model.load_state_dict(ck["model"])
        dumps = {k: [t.numpy() for t in v] for k, v in ck["dumps"].items()}
        state = TrainState(epoch=ck["epoch"], history=ck["history"], dumps=dumps)
        log.info("resuming from %s after epoch %d", self.path, state.epoch)
        return state, {"optimizer": ck["optimizer"], "scheduler": ck["scheduler"]}

    def save(self, state: TrainState, model: nn.Module, opt, sched) -> None:
        save_checkpoint(self.path, {
            "params_hash": self.tag, "complete": False, "epoch": state.epoch, "history": state.history,
            "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "dumps": {k: [torch.from_numpy(a) for a in v] for k, v in state.dumps.items()},
        })

    def finish(self) -> None:
        """Shrink the checkpoint to a small marker once the final outputs are written."""
        save_checkpoint(self.path, {"params_hash": self.tag, "complete": True})
