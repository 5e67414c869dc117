"""Whole-stage figures: the real train stage's peak memory, the per-epoch costs besides training (embedding
dumps, evaluation) at the default sizes, and how long `dvc repro` takes when nothing (or only render) changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from siamese_mnist.config import MODELS, Params
from siamese_mnist.evaluation import evaluate_epoch
from siamese_mnist.models import build_model
from siamese_mnist.pairs import make_test_pairs
from siamese_mnist.training import Normalizer, embed

from workload import MODEL, ROOT, raw_dir


def stage_peak_rss_mb(name: str, quick: bool) -> float:
    """Peak RSS (MB) of the real `train@<name>` stage, run as a child process at the default data size
    (55 000 training images, every dump set) for one epoch; ``quick`` shortens that epoch's items."""
    import yaml
    holder = tempfile.TemporaryDirectory(prefix="bench-rss-")
    tmp = Path(holder.name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    params["render"]["epochs"] = [0, 1]
    if quick and name != "cnn":
        params[name]["per_epoch"] = 2048  # fewer steps; the data, the model and the dumps are full size
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    raw = raw_dir()
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run([sys.executable, str(ROOT / "stages/sample.py"), name, str(raw), str(tmp / "p.npz"),
                    "--params", str(tmp / "params.yaml")], check=True, env=env, capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "stages/train.py"), name, str(raw), str(tmp / "p.npz"),
                    "--model-out", str(tmp / "m.pt"), "--embeddings-out", str(tmp / "e.npz"),
                    "--live-dir", str(tmp / "live"), "--runtime-out", str(tmp / "r.json"),
                    "--resume-point", str(tmp / "c.pt"), "--params", str(tmp / "params.yaml")],
                   check=True, env=env, capture_output=True)
    return json.loads((tmp / "r.json").read_text())["peak_rss_mb"]


def fixed_costs_s(device: torch.device) -> dict:
    """Per-epoch costs besides training, at the default sizes: the train stage's embedding dumps
    (10 000 probe + 5 000 validation + 10 000 test images) and the evaluate stage's work on them."""
    p = Params()
    model = build_model("siamese", MODEL).to(device).to(memory_format=torch.channels_last)
    x = torch.randint(0, 256, (25_000, 1, 28, 28), dtype=torch.uint8, device=device)
    t0 = time.perf_counter()
    embed(model, x, Normalizer(0.13, 0.31), p.train.eval_batch_size)
    dump = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (10, 2))
    split = {}
    for key, size in (("fit", 10_000), ("val", 5_000), ("test", 10_000)):
        y = np.arange(size) % 10
        split[key], split[f"{key}_labels"] = (centres[y] + rng.normal(0, 1, (size, 2)))[None], y
    t0 = time.perf_counter()
    evaluate_epoch(split, 0, make_test_pairs(split["val_labels"], 5_000, 0),
                   make_test_pairs(split["test_labels"], 10_000, 0), p.evaluate, 0)
    return {"dump_s_per_epoch": dump, "evaluate_s_per_epoch": time.perf_counter() - t0}


def dvc_timings(notes: dict) -> tuple[float | None, float | None]:
    """Wall time of a no-op `dvc repro` and of a forced render-only rerun, on this checkout's outputs."""
    dvc = [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    status = subprocess.run(dvc + ["status", "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    if status.returncode != 0 or status.stdout.strip() not in ("{}", ""):
        notes["noop_repro_s"] = notes["render_rerun_s"] = \
            "the pipeline is not up to date in this checkout: run `dvc repro` (or `dvc pull`) first"
        return None, None
    t0 = time.perf_counter()
    subprocess.run(dvc + ["repro"], cwd=ROOT, env=env, check=True, capture_output=True)
    noop = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(dvc + ["repro", "-f", "-s", "render"], cwd=ROOT, env=env, check=True, capture_output=True)
    return noop, time.perf_counter() - t0


def peak_rss_figures(quick: bool, notes: dict) -> dict:
    """The train stage's peak RSS per model (stage_peak_rss_mb) and the largest of them."""
    by_model = {m: stage_peak_rss_mb(m, quick) for m in MODELS}
    notes["peak_rss_mb"] = ("the real train stage at the default data size, one epoch"
                            + (" of 2048 items (quick)" if quick else "") + "; the largest of the three models")
    return {"peak_rss_mb_by_model": by_model, "peak_rss_mb": max(by_model.values())}


def dvc_figures(skip: bool, notes: dict) -> dict:
    """The no-op `dvc repro` and render-rerun seconds (dvc_timings), or nulls with a note where ``skip``."""
    if skip:
        notes["noop_repro_s"] = notes["render_rerun_s"] = "skipped (--skip-dvc)"
        return {"noop_repro_s": None, "render_rerun_s": None}
    noop, render = dvc_timings(notes)
    return {"noop_repro_s": noop, "render_rerun_s": render}
