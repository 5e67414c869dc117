"""Resident memory of the real train stage phase by phase: where its peak comes from.

    python benchmarks/rss_phases.py MODEL [--epochs 1] [--runs 3] [--eval-batch-size N]

Runs ``stages/train.py MODEL`` at the default data size (``params.yaml`` with ``train.epochs`` and,
optionally, ``train.eval_batch_size`` overridden) ``--runs`` times, each in a fresh process that
prints VmRSS/VmHWM (MB) before and after the input normaliser's fit, after each embedding dump
and around each ``release_free_memory`` (one line per run). Nothing in the stage is changed: the
functions are wrapped from outside. Memory is per process, so a busy machine changes no figure.
"""

from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _rss() -> str:
    fields = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in open("/proc/self/status")
              if line.startswith(("VmRSS", "VmHWM"))}
    return f"{fields['VmRSS']}/{fields['VmHWM']}"


def probe(stage_args: list[str]) -> None:
    """In the child: wrap the stage's memory-relevant calls, then run the stage as __main__."""
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "stages")]
    import siamese_mnist.runtime as runtime
    import siamese_mnist.training as training

    marks: list[str] = []
    if os.environ.get("RSS_PATCH"):
        runpy.run_path(os.environ["RSS_PATCH"])  # an alternative implementation to compare
    release, fit, embed = runtime.release_free_memory, training.Normalizer.fit.__func__, training.embed

    def release_logged():
        marks.append(f"pre-release {_rss()}")
        done = release()
        marks.append(f"post-release {_rss()}")
        return done

    def fit_logged(cls, images):
        marks.append(f"pre-fit {_rss()}")
        norm = fit(cls, images)
        marks.append(f"post-fit {_rss()}")
        return norm

    def embed_logged(*args, **kwargs):
        out = embed(*args, **kwargs)
        marks.append(f"dump {_rss()}")
        return out

    runtime.release_free_memory = training.release_free_memory = release_logged
    training.Normalizer.fit = classmethod(fit_logged)
    training.embed = embed_logged
    sys.argv = [str(ROOT / "stages/train.py"), *stage_args]
    try:
        runpy.run_path(str(ROOT / "stages/train.py"), run_name="__main__")
    finally:
        print(" | ".join(marks), file=sys.stderr)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        probe(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["cnn", "siamese", "triplet"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--eval-batch-size", type=int)
    args = ap.parse_args()
    holder = tempfile.TemporaryDirectory(prefix="rss-phases-")
    tmp = Path(holder.name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["epochs"] = args.epochs
    if args.eval_batch_size:
        params["train"]["eval_batch_size"] = args.eval_batch_size
    params["render"]["epochs"] = [0, args.epochs]
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    raw = ROOT / "data/raw"
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run([sys.executable, str(ROOT / "stages/sample.py"), args.model, str(raw), str(tmp / "index.npz"),
                    "--params", str(tmp / "params.yaml")], check=True, env=env, capture_output=True, cwd=ROOT)
    print(f"{args.model}, {args.epochs} epoch(s), eval batch {params['train']['eval_batch_size']}: "
          "VmRSS/VmHWM in MB at each mark")
    for run in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--child", args.model, str(raw), str(tmp / "index.npz"),
                              "--model-out", str(tmp / "m.pt"), "--embeddings-out", str(tmp / "e.npz"),
                              "--live-dir", str(tmp / "live"), "--runtime-out", str(tmp / "r.json"),
                              "--resume-point", str(tmp / "c.pt"), "--params", str(tmp / "params.yaml")],
                             env=env, capture_output=True, text=True, cwd=ROOT)
        print(f"run {run}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else '(no output)'}")


if __name__ == "__main__":
    main()
