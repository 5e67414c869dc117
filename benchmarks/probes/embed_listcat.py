"""The ``training.embed`` before 2026-11-29 (a list of per-batch tensors concatenated at the end), kept to
reproduce the before-state and to time the two side by side.

    RSS_PATCH=benchmarks/probes/embed_listcat.py python benchmarks/rss_phases.py siamese   # memory, before
    python benchmarks/probes/embed_listcat.py [--rounds 7]                                 # speed, A/B

As a script: the current ``embed`` and this one, alternating round by round in one process, over the
default dump (10 000 + 5 000 + 10 000 images, eval batch from params.yaml) of an untrained Siamese
network; prints the median seconds of each and checks that both return the same array, bit for bit.
"""
import numpy as np
import torch

import siamese_mnist.training as training

current = training.embed


@torch.inference_mode()
def embed(model, images, norm, batch_size):
    was_training = model.training
    model.eval()
    out = [model.embed(norm(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out).float().cpu().numpy()


def main() -> None:
    import argparse
    import statistics
    import time

    from siamese_mnist.config import Params
    from siamese_mnist.models import build_model
    from siamese_mnist.runtime import cpu_name, set_threads, tune_malloc

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    tune_malloc()
    set_threads(0)
    p = Params()
    torch.manual_seed(0)
    model = build_model("siamese", p.model).to(memory_format=torch.channels_last)
    x = torch.randint(0, 256, (25_000, 1, 28, 28), dtype=torch.uint8)
    norm = training.Normalizer(0.13, 0.31)
    times = {"list + cat (before)": [], "preallocated (now)": []}
    for _ in range(args.rounds):
        for name, fn in (("list + cat (before)", embed), ("preallocated (now)", current)):
            t0 = time.perf_counter()
            fn(model, x, norm, p.train.eval_batch_size)
            times[name].append(time.perf_counter() - t0)
    same = np.array_equal(current(model, x, norm, p.train.eval_batch_size), embed(model, x, norm, p.train.eval_batch_size))
    print(f"{cpu_name()}, {torch.get_num_threads()} threads, 25 000 images, batch {p.train.eval_batch_size}, "
          f"median of {args.rounds}; outputs bit-identical: {same}")
    for name, t in times.items():
        print(f"  {name:<20} {statistics.median(t):.3f} s")
    base = statistics.median(times["list + cat (before)"])
    print(f"  now / before: {statistics.median(times['preallocated (now)']) / base:.3f}")


if __name__ == "__main__":
    main()
else:
    training.embed = embed  # RSS_PATCH: the stage runs the old version
