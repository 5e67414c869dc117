"""The per-epoch embedding dump (25 000 images through the tower, eval mode): what could make it faster?

    python benchmarks/probes/dump_levers.py [--rounds 5]

Times `training.embed` of the default (randomly initialised, then one batch-norm update) Siamese tower on
25 000 random images at eval batch sizes 256 / 512 / 1024, and with each batch-norm folded into the
convolution before it (torch.nn.utils.fusion.fuse_conv_bn_eval), alternated round by round (median), and
says whether each gives the default's bits. Prints the op profile of the default dump too.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn.utils.fusion import fuse_conv_bn_eval  # noqa: E402

from siamese_mnist.config import ModelConfig  # noqa: E402
from siamese_mnist.models import build_model  # noqa: E402
from siamese_mnist.runtime import cpu_features, cpu_name, set_threads, tune_malloc  # noqa: E402
from siamese_mnist.training import Normalizer, embed  # noqa: E402


def folded(model):
    m = copy.deepcopy(model).eval()
    f = m.embedding.features
    m.embedding.features = torch.nn.Sequential(fuse_conv_bn_eval(f[0], f[1]), f[2], f[3],
                                               fuse_conv_bn_eval(f[4], f[5]), f[6], f[7], f[8])
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tune_malloc()
    set_threads(0)
    torch.manual_seed(0)
    model = build_model("siamese", ModelConfig()).to(memory_format=torch.channels_last)
    model(torch.randn(256, 1, 28, 28))  # one training-mode pass: running statistics away from (0, 1)
    x = torch.randint(0, 256, (25_000, 1, 28, 28), dtype=torch.uint8)
    norm = Normalizer(0.13, 0.31)
    variants = {f"default, batch {b}": (model, b) for b in (256, 512, 1024)}
    variants["batch-norm folded, batch 1024"] = (folded(model).to(memory_format=torch.channels_last), 1024)
    reference = embed(model, x, norm, 1024)
    times = {k: [] for k in variants}
    for _ in range(args.rounds):
        for k, (m, b) in variants.items():
            t0 = time.perf_counter()
            out = embed(m, x, norm, b)
            times[k].append(time.perf_counter() - t0)
            times.setdefault(k + " same bits", []).append(bool(np.array_equal(out, reference)))
    print(f"# {cpu_name()} ({' '.join(cpu_features())}), {torch.get_num_threads()} threads, torch {torch.__version__}")
    for k in variants:
        print(f"{k:32} {statistics.median(times[k]):6.2f} s  same bits as the default: {all(times[k + ' same bits'])}")
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        embed(model, x, norm, 1024)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


if __name__ == "__main__":
    main()
