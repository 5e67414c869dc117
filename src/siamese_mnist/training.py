"""One training loop for every model, with per-epoch embedding dumps.

Dumped every epoch (epoch 0 = before training): a class-stratified subset of the training images
(``fit``, where the probes are fitted), the validation split (its seen classes only: with
``data.holdout_classes``, validation comes from the classes trained on) and the test split. The input normaliser
is fitted on the training pool alone (no validation, test or held-out-class image).

The data path is built for speed: the whole split lives on the device as one uint8 tensor,
batches are gathered by index and normalised on the fly, and every epoch's randomness
(the index file's order, augmentation shifts) is drawn up front on the CPU from ``(seed, epoch)`` alone, so
it is the same on every device and an interrupted run can resume at any epoch boundary.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .atomic import load_npz
from .augment import TURNS, distort, epoch_affines, epoch_offsets, epoch_turns, shift_images, turn_images
from .config import Params, PerModelConfig
from .datasets.splits import (background_level, load_class_names, load_split, load_splits, stratified_subset,
                              training_pool)
from .errors import DivergedError, IndexFileError
from .models import EmbeddingModel
from .runtime import Interrupted, derive_seed, release_free_memory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Normalizer:
    """uint8 pixels -> standardised float, with the training split's own mean and std."""

    mean: float
    std: float

    @classmethod
    def fit(cls, images: np.ndarray) -> "Normalizer":
        """Mean and (population) std of ``images / 255``: numpy's ``mean()`` and ``std()``, computed in
        place in one float64 copy (numpy's ``std`` would hold a second one, which set the training stage's
        peak memory); the same floats, bit for bit."""
        x = images.astype(np.float64)
        x /= 255.0
        mean = x.mean()
        x -= mean
        np.multiply(x, x, out=x)
        return cls(float(mean), float(np.sqrt(x.mean())))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) uint8 -> float32, channels-last (the faster conv layout on CPU)."""
        x = x.float().mul_(1.0 / (255.0 * self.std)).sub_(self.mean / self.std)
        return x.contiguous(memory_format=torch.channels_last)


def to_device_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 numpy -> (N, 1, 28, 28) uint8 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1).to(device)


@torch.inference_mode()
def embed(model: nn.Module, images: torch.Tensor, norm: Normalizer, batch_size: int) -> np.ndarray:
    """(N, 1, 28, 28) uint8 on the model's device -> (N, D) float32 numpy embeddings.

    The output is allocated once, at the first batch, and filled in place: keeping per-batch tensors in a
    list between the big short-lived activation buffers fragmented the heap and grew the stage's peak
    memory over a run's dumps (measured in benchmarks/RESULTS.md).
    """
    was_training = model.training
    model.eval()
    out = None
    for i in range(0, len(images), batch_size):
        batch = model.embed(norm(images[i:i + batch_size])).float().cpu().numpy()
        if out is None:
            out = np.empty((len(images), batch.shape[1]), dtype=np.float32)
        out[i:i + len(batch)] = batch
    model.train(was_training)
    if out is None:
        raise ValueError("embed: no images to embed")
    return out


@dataclass
class TrainingData:
    """What one training run reads, on its device: the training split, the model's per-epoch items, the
    input normaliser and the sets whose embeddings are dumped every epoch (with their labels)."""

    images: torch.Tensor  # (N, 1, S, S) uint8
    labels: torch.Tensor  # (N,)
    items: np.ndarray  # (epochs, n, images per item) indices into images, in training order
    targets: np.ndarray | None  # (epochs, n) per-item targets where the loss needs them (pairs: same class)
    norm: Normalizer
    dump_sets: dict[str, torch.Tensor]  # name -> (M, 1, S, S) uint8, embedded at every epoch
    fill: int = 0  # the background level that shifted-in pixels take
    dump_labels: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (M,) labels
    classes: list[str] = field(default_factory=list)

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]


def prepare_training(raw_dir: str, index_path: str, p: Params, device: torch.device) -> TrainingData:
    """Load the splits and the model's index file, fit the normaliser on the training pool; all on ``device``."""
    classes = load_class_names(raw_dir, p.data.dataset)
    splits = load_splits(raw_dir, p.data.train_limit, p.data.test_limit, p.data.val_size, p.seed)
    images, labels = splits.train
    fit_idx = stratified_subset(labels, min(p.data.fit_samples, len(labels)), p.seed)
    index = load_npz(index_path)
    items = index["items"]
    if items.shape[0] < p.train.epochs:
        raise IndexFileError(f"{index_path} holds {items.shape[0]} epochs, train.epochs is {p.train.epochs}")
    if items.max() >= len(labels):
        raise IndexFileError(f"{index_path} indexes image {items.max()}, the train split has {len(labels)}")
    pool = images[training_pool(labels, p.data.holdout_classes)]  # what the model may see
    norm, fill = Normalizer.fit(pool), background_level(pool)
    del pool
    release_free_memory()  # the normaliser's float64 temporary: not resident while training
    x = to_device_images(images, device)
    seen_val = training_pool(splits.val[1], p.data.holdout_classes)  # nothing is chosen on a held-out class
    dump_sets = {"fit": x[torch.from_numpy(fit_idx).to(device)],
                 "val": to_device_images(splits.val[0][seen_val], device),
                 "test": to_device_images(splits.test[0], device)}
    dump_labels = {"fit": labels[fit_idx], "val": splits.val[1][seen_val], "test": splits.test[1]}
    if p.data.dataset == "omniglot":  # no class of val or test is trained on: no probe, hence no fit set
        del dump_sets["fit"], dump_labels["fit"]
        for split in ("runs", "transfer"):  # Lake's 20 runs, MNIST digits
            images_s, dump_labels[split] = load_split(raw_dir, split)
            dump_sets[split] = to_device_images(images_s.copy(), device)  # parse_idx's arrays are read-only
    return TrainingData(images=x, labels=torch.from_numpy(labels).to(device), items=items,
                        targets=index.get("targets"), norm=norm, dump_sets=dump_sets, fill=fill,
                        dump_labels=dump_labels, classes=classes)


@dataclass(frozen=True)
class Schedule:
    """How long and how a run trains: the ``train`` params it needs, with ``amp`` resolved for this machine."""

    epochs: int
    seed: int
    eval_batch_size: int = 1024
    amp: bool = False


@dataclass
class TrainState:
    """Everything needed to continue training after ``epoch`` (0 = nothing trained yet)."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)  # one row per finished epoch
    dumps: dict[str, list[np.ndarray]] = field(default_factory=dict)  # set name -> one (N, D) per epoch 0..epoch

    def stack(self, name: str) -> np.ndarray:
        """(epochs + 1, N, D) float32: row e holds the embeddings after epoch e."""
        return np.stack(self.dumps[name])

    def embeddings(self, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The embeddings file's arrays: per dumped set, its stacked dumps, then its labels."""
        return {k: v for name, y in labels.items() for k, v in ((name, self.stack(name)), (f"{name}_labels", y))}


def make_optimizer(model: nn.Module, cfg: PerModelConfig, epochs: int, steps_per_epoch: int):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    return opt, sched


EpochCallback = Callable[["TrainState", nn.Module, object, object], None]


def train(name: str, model: EmbeddingModel, data: TrainingData, cfg: PerModelConfig, schedule: Schedule,
          state: TrainState | None = None, resume: dict | None = None,
          on_epoch_end: Sequence[EpochCallback] = ()) -> TrainState:
    """Train ``model`` for ``schedule.epochs`` epochs and return its history and per-epoch embedding dumps.

    ``data.items`` (epochs, n, model.images_per_item) indexes ``data.images`` per epoch, in training order
    (the model's index file), with per-item ``data.targets`` (epochs, n) where the loss needs them.
    ``state``/``resume`` (optimizer and scheduler state dicts) continue an interrupted run exactly; each of
    ``on_epoch_end`` is called after epoch 0's dumps and after every epoch. Ctrl-C raises
    :class:`Interrupted` naming the last epoch every callback saw.
    """
    saved = [None if state is None else state.epoch]  # the last epoch whose callbacks all returned
    try:
        return _train(name, model, data, cfg, schedule, state, resume, on_epoch_end, saved)
    except KeyboardInterrupt:
        if saved[0] is None:
            raise Interrupted(f"{name} interrupted before its first resume point; `dvc repro` starts it again") \
                from None
        raise Interrupted(f"{name} interrupted after epoch {saved[0]}; `dvc repro` resumes from it") from None


def _train(name, model, data, cfg, schedule, state, resume, on_epoch_end, saved) -> TrainState:
    images, labels, items, targets, norm = data.images, data.labels, data.items, data.targets, data.norm
    epochs, seed, eval_batch_size, amp, fill = (schedule.epochs, schedule.seed, schedule.eval_batch_size,
                                                schedule.amp, data.fill)
    dump_sets = data.dump_sets

    def epoch_end(st):
        for callback in on_epoch_end:
            callback(st, model, opt, sched)
        saved[0] = st.epoch

    device = images.device
    k = model.images_per_item
    if items.ndim != 3 or items.shape[2] != k:
        raise ValueError(f"{name} trains on items of {k} images; the index file holds shape {items.shape}")
    n_items = items.shape[1]
    steps = math.ceil(n_items / cfg.batch_size)
    model.to(device).to(memory_format=torch.channels_last)
    opt, sched = make_optimizer(model, cfg, epochs, steps)
    state = state or TrainState()
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
    if state.epoch == 0 and not state.dumps:
        state.dumps = {key: [embed(model, x, norm, eval_batch_size)] for key, x in dump_sets.items()}
        epoch_end(state)

    for epoch in range(state.epoch + 1, epochs + 1):
        torch.manual_seed(derive_seed(seed, epoch, 1))  # anything that still uses the global RNG
        offsets = epoch_offsets(n_items, k, cfg, seed, epoch).to(device)
        affines = epoch_affines(n_items, k, cfg, seed, epoch).to(device) if cfg.affine else None
        turns = epoch_turns(n_items, seed, epoch).to(device) if cfg.rotations else None
        ep_items = torch.from_numpy(np.ascontiguousarray(items[epoch - 1])).to(device).long()
        ep_targets = None if targets is None else torch.from_numpy(targets[epoch - 1]).to(device)
        model.train()
        total = torch.zeros((), device=device)  # summed on the device: no host sync per step
        t0 = time.perf_counter()
        bar = tqdm(range(steps), desc=f"{name} epoch {epoch}/{epochs}", leave=False, mininterval=1.0)
        for step in bar:
            ids = slice(step * cfg.batch_size, (step + 1) * cfg.batch_size)
            batch = ep_items[ids]  # (B, k) image indices
            flat = batch.T.reshape(-1)  # slot by slot: all first images, then all second, ...
            off = offsets[ids].transpose(0, 1).reshape(-1, 2)
            x = shift_images(images[flat], off, cfg.shift, fill)
            if affines is not None:
                x = distort(x, affines[ids].transpose(0, 1).reshape(-1, 2, 3), fill)
            classes = labels[batch]
            if turns is not None:  # each turn of a class is a class of its own
                x = turn_images(x, turns[ids].repeat(k))
                classes = classes * TURNS + turns[ids, None]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(norm(x))
                loss = model.loss(out, classes, None if ep_targets is None else ep_targets[ids])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(batch)
        bar.close()
        mean_loss = float(total) / n_items
        if not math.isfinite(mean_loss):  # checked once an epoch: a check per step would sync the device each step
            raise DivergedError(f"{name} epoch {epoch}: training loss {mean_loss} (diverged); look at {name}.lr "
                                f"({cfg.lr}), {name}.weight_decay and the model's params; nothing of this epoch "
                                f"was saved")
        seconds = time.perf_counter() - t0
        n_images = n_items * k
        state.history.append({"epoch": epoch, "loss": mean_loss, "lr": sched.get_last_lr()[0],
                              "seconds": seconds, "images_per_s": n_images / seconds})
        # Training and embedding each need a few hundred MB of buffers (batch activations, im2col);
        # handing the free pages back between the two keeps the peak at the larger, not the sum.
        release_free_memory()
        for key, x in dump_sets.items():
            state.dumps[key].append(embed(model, x, norm, eval_batch_size))
        release_free_memory()
        state.epoch = epoch
        log.info("%s epoch %d/%d: loss %.4f, %.1f s, %.0f images/s", name, epoch, epochs,
                 mean_loss, seconds, n_images / seconds)
        epoch_end(state)
    return state
