"""Per-epoch resume points that let an interrupted training stage continue exactly.

A resume point lives outside DVC's outputs (an ignored folder), so every stage keeps DVC's run
cache. It is keyed on everything the run's result depends on: the params it reads, the precision
``train.amp`` resolved to on this machine, *and* the bytes of its inputs and code (data, index file,
stage script, the package modules the stage imported — the ones ``dvc.yaml`` lists as its deps). One
made under any other key is ignored with one log line, never mixed into this run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from .atomic import load_checkpoint, save_checkpoint
from .config import Params
from .errors import UnsafeCheckpointError
from .live import LiveHistory
from .models import EmbeddingModel, build_model
from .training import Schedule, TrainingData, TrainState, train
from .typed_yaml import to_dict

log = logging.getLogger(__name__)


def training_config(model_name: str, p: Params) -> dict:
    """The params that determine a training run's result, as plain data (no machine settings).

    ``data.root`` and ``data.image_size`` are left out: they act only through the ingested data files,
    which the resume key hashes by content (a dataset moved to another folder resumes).
    """
    data = {k: v for k, v in to_dict(p.data).items() if k not in ("root", "image_size")}
    return {"model_name": model_name, "seed": p.seed, "data": data, "model": to_dict(p.model),
            "train": to_dict(p.train), model_name: to_dict(p.section(model_name))}


def model_record(model_name: str, model: nn.Module, config: dict, data: TrainingData, dataset: str) -> dict:
    """What ``models/<model>.pt`` holds: the weights, the params they were trained with and the input normaliser.

    A folder model also records its input size and class names (compare resizes to it and names classes);
    without them a checkpoint is MNIST-format: 28x28, the dataset's own class names.
    """
    own = dataset in ("folder", "omniglot")  # datasets whose size and class names only their files know
    inputs = {"input": {"image_size": data.image_size, "classes": data.classes}} if own else {}
    return {"model": model_name, "state_dict": model.cpu().state_dict(), "config": config,
            "normalizer": [data.norm.mean, data.norm.std], **inputs}


def _name(path: Path) -> str:
    """A file's name relative to the working directory where it lies below it, so that the same
    checkout in another folder (DVC's temporary copy for a queued experiment) hashes the same."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def files_digest(paths: Iterable[str | Path]) -> str:
    """sha256 over the names and bytes of ``paths`` (folders: every file below them), in sorted order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
                     if path.is_dir() else [path])
    h = hashlib.sha256()
    for f in sorted(set(files), key=_name):
        h.update(_name(f).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def package_files(package: str) -> list[Path]:
    """The source files of ``package``'s modules imported so far in this process: the code a stage runs.

    Editing a module the stage never imports (the report, the plots) leaves its resume points valid.
    """
    return sorted(Path(m.__file__) for name, m in list(sys.modules.items())
                  if (name == package or name.startswith(package + ".")) and getattr(m, "__file__", None))


def resume_key(config: dict, inputs: Iterable[str | Path]) -> str:
    """One hash of a run's params and the content of its inputs and code."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode() + files_digest(inputs).encode()).hexdigest()


RESUME_DIR_ENV = "SIAMESE_MNIST_RESUME_DIR"


class EpochCheckpointer:
    """Writes and restores the resume point of one training run.

    With ``$SIAMESE_MNIST_RESUME_DIR`` set, the resume point goes to that folder instead, named by
    its key: queued experiments run in temporary copies that DVC deletes when they stop, so this is
    how a queue killed mid-stage (a session's end, a reboot) resumes at its last epoch when the same
    experiments are queued again. Different runs never share a file; a finished run deletes its own.
    """

    def __init__(self, path: str | Path, model_name: str, params: Params, inputs: Iterable[str | Path],
                 env: dict[str, str] | None = None, precision: str | None = None):
        self.config = training_config(model_name, params)
        # train.amp: auto is bfloat16 on one machine and fp32 on another: a shared folder must not mix them
        self.tag = resume_key({**self.config, "precision": precision} if precision else self.config, inputs)
        folder = (os.environ if env is None else env).get(RESUME_DIR_ENV)
        self.path = Path(folder) / f"{model_name}-{self.tag[:20]}.pt" if folder else Path(path)

    def restore(self, model: nn.Module) -> tuple[TrainState | None, dict | None]:
        """Load the last epoch of a matching resume point into ``model``; else (None, None)."""
        if not self.path.exists():
            return None, None
        trial = copy.deepcopy(model)  # a failed load_state_dict may have copied some tensors already
        try:
            ck = load_checkpoint(self.path)
            if not isinstance(ck, dict):
                raise TypeError(f"holds a {type(ck).__name__}, not a dict")
            if ck.get("resume_key") != self.tag:
                log.info("ignoring resume point %s: made under other params, data or code", self.path)
                return None, None
            trial.load_state_dict(ck["model"])
            torch.optim.AdamW(trial.parameters()).load_state_dict(ck["optimizer"])  # what train() loads it into
            dumps = {k: [t.numpy() for t in v] for k, v in ck["dumps"].items()}
            state = TrainState(epoch=int(ck["epoch"]), history=list(ck["history"]), dumps=dumps)
            if not 0 <= state.epoch <= self.config["train"]["epochs"] or \
                    any(len(v) != state.epoch + 1 for v in dumps.values()):
                raise ValueError(f"epoch {state.epoch} does not fit its {len(state.history)} history rows and dumps")
            resume = {"optimizer": ck["optimizer"], "scheduler": dict(ck["scheduler"])}
        except (UnsafeCheckpointError, KeyError, TypeError, ValueError, AttributeError, RuntimeError,
                OverflowError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("ignoring resume point %s: unreadable (%s); training starts over", self.path, first)
            return None, None
        model.load_state_dict(trial.state_dict())
        log.info("resuming from %s after epoch %d", self.path, state.epoch)
        return state, resume

    def save(self, state: TrainState, model: nn.Module, opt, sched) -> None:
        save_checkpoint(self.path, {
            "resume_key": self.tag, "epoch": state.epoch, "history": state.history,
            "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "dumps": {k: [torch.from_numpy(a) for a in v] for k, v in state.dumps.items()},
        })

    def finish(self) -> None:
        """Remove the resume point once the final outputs are written (DVC's cache holds the result)."""
        self.path.unlink(missing_ok=True)


def train_resumably(name: str, p: Params, data: TrainingData, amp: bool, resume_point: str, live_dir: str,
                    inputs: list) -> tuple[EmbeddingModel, TrainState, EpochCheckpointer]:
    """Build and train model ``name``, resuming from ``resume_point`` when it matches this run (keyed on ``p``,
    the precision and the bytes of ``inputs``: data, index file, code) and saving one after every epoch;
    its per-epoch curves go to ``live_dir``. The caller removes the resume point (``finish``) once its outputs
    are written."""
    model = build_model(name, p.model, p.section(name), data.image_size, len(data.classes))
    ckpt = EpochCheckpointer(resume_point, name, p, inputs=inputs, precision="bf16" if amp else "fp32")
    state, resume = ckpt.restore(model)
    live = LiveHistory(name, live_dir, replay=state)
    state = train(name, model, data, p.section(name), Schedule(p.train.epochs, p.seed, p.train.eval_batch_size, amp),
                  state, resume, on_epoch_end=[live.on_epoch_end, ckpt.save])
    live.end()
    return model, state, ckpt
