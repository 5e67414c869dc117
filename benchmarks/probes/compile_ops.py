"""Why is torch.compile slower than eager on this CPU? The CNN's training step, eager and compiled, op by op.

    python benchmarks/probes/compile_ops.py [--steps 20]

Times one synthetic step (premade channels-last batch of 256, AdamW) eager and under torch.compile
(inductor; first step = compile time, reported apart), then profiles `--steps` steps of each with
torch.profiler and prints the milliseconds per step of every op category (bench.py's OP_CATEGORIES)
plus the compiled graph's own kernels ("inductor": the self time of its CompiledFxGraph calls, where the
generated C++ kernels run). Results differ from eager
in float rounding only, so a winner could be a machine setting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import bench  # noqa: E402
from siamese_mnist.config import CnnConfig, ModelConfig  # noqa: E402
from siamese_mnist.runtime import cpu_features, cpu_name, set_threads, tune_malloc  # noqa: E402


def make_step(compiled: bool, block: str = "conv_bn_relu_pool", channels_last: bool = True):
    """The CNN's synthetic training step (premade batch of 256, AdamW) as a function of no arguments."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = bench.build_model("cnn", ModelConfig(), CnnConfig(block=block)).to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(256, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (256,))
    forward = torch.compile(model) if compiled else model

    def step():
        loss = F.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def per_op_ms(step, steps: int) -> dict[str, float]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    out: dict[str, float] = {}
    for e in prof.key_averages():
        if e.key.startswith("aten::"):
            cat = bench.op_category(e.key)
        elif "CompiledFxGraph" in e.key:  # the generated kernels run inside it: its self time is theirs
            cat = "inductor"
        else:
            continue
        out[cat] = out.get(cat, 0.0) + e.self_cpu_time_total / 1000 / steps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    tune_malloc()
    set_threads(0)
    print(f"# {cpu_name()} ({' '.join(cpu_features())}), {torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = {}
    for compiled in (False, True):
        step = make_step(compiled)
        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
        for _ in range(3):
            step()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        ms = (time.perf_counter() - t0) / args.steps * 1000
        rows["compiled" if compiled else "eager"] = (first, ms, per_op_ms(step, args.steps))
    cats = sorted({c for *_, ops in rows.values() for c in ops}, key=lambda c: -rows["eager"][2].get(c, 0))
    print(f"{'':10}{'first step s':>14}{'ms/step':>9}" + "".join(f"{c:>13}" for c in cats))
    for k, (first, ms, ops) in rows.items():
        print(f"{k:10}{first:>14.1f}{ms:>9.1f}" + "".join(f"{ops.get(c, 0):>13.1f}" for c in cats))
    print(f"compiled / eager step time: {rows['compiled'][1] / rows['eager'][1]:.2f}")


if __name__ == "__main__":
    main()
