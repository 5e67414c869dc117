"""The textbook reference path the project's is compared with: a torchvision Dataset with per-item sampling
through a DataLoader (one training epoch), and a per-pair Python loop (an epoch's pairs)."""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from siamese_mnist.losses import contrastive_loss
from siamese_mnist.models import build_model

import workload
from workload import MODEL, sync


def naive_epoch_s(name: str, raw: Path, n_items: int, device: torch.device) -> float:
    """One epoch the textbook way: torchvision Dataset + ToTensor/Normalize + per-item pair sampling + DataLoader."""
    from torchvision import datasets, transforms

    tmp = tempfile.TemporaryDirectory(prefix="bench-tv-")  # removed when this function returns
    root = Path(tmp.name)
    (root / "MNIST" / "raw").mkdir(parents=True)
    for f in raw.iterdir():
        os.symlink(f.resolve(), root / "MNIST" / "raw" / f.name)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    mnist = datasets.MNIST(str(root), train=True, download=False, transform=tf)
    by_class = {}
    for i, t in enumerate(mnist.targets.tolist()):
        by_class.setdefault(t, []).append(i)

    class PairDataset(torch.utils.data.Dataset):
        def __len__(self):
            return n_items

        def __getitem__(self, i):  # the pattern the references use: global RNG, per item
            a, la = mnist[random.randrange(len(mnist))]
            if random.random() < 0.5:
                j = random.choice(by_class[la])
            else:
                j = random.choice(by_class[random.choice([c for c in by_class if c != la])])
            b, lb = mnist[j]
            return a, b, int(la == lb)

    class TripletDataset(torch.utils.data.Dataset):
        def __len__(self):
            return n_items

        def __getitem__(self, i):  # anchor, positive of its class, negative of another: global RNG, per item
            a, la = mnist[random.randrange(len(mnist))]
            p, _ = mnist[random.choice(by_class[la])]
            n, _ = mnist[random.choice(by_class[random.choice([c for c in by_class if c != la])])]
            return a, p, n

    ds = {"siamese": PairDataset, "triplet": TripletDataset}.get(name, lambda: torch.utils.data.Subset(
        mnist, range(n_items)))()
    loader = torch.utils.data.DataLoader(ds, batch_size=workload.BATCH, shuffle=True, num_workers=0)
    model = build_model(name, MODEL).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sync(device)
    t0 = time.perf_counter()
    for batch in loader:
        if name == "siamese":
            a, b, s = (t.to(device) for t in batch)
            ea, eb = model.pair(a, b)
            loss = contrastive_loss(ea, eb, s, 1.0)
        elif name == "triplet":
            a, p, n = (t.to(device) for t in batch)
            ea, ep, en = model.slots(model(torch.cat([a, p, n])))
            loss = F.triplet_margin_loss(ea, ep, en, margin=1.0)
        else:
            xb, yb = (t.to(device) for t in batch)
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - t0


def naive_pairs_s(labels: np.ndarray, n: int) -> float:
    """A per-pair Python loop (the pattern vectorised away), for n pairs."""
    by_class = {c: np.flatnonzero(labels == c).tolist() for c in range(10)}
    rng = random.Random(0)
    t0 = time.perf_counter()
    out = []
    for i in range(n):
        a = rng.randrange(len(labels))
        la = int(labels[a])
        if i % 2 == 0:
            b = rng.choice(by_class[la])
            while b == a:
                b = rng.choice(by_class[la])
        else:
            b = rng.choice(by_class[rng.choice([c for c in range(10) if c != la])])
        out.append((a, b))
    return time.perf_counter() - t0
