"""The evaluate stage runs on the threads the environment gives it: torch's and the BLAS/OpenMP pools its scorer
uses (numpy, scipy, scikit-learn), which otherwise each take every core, so two queued runs oversubscribed two
cores and scored 5-8x slower (benchmarks/RESULTS.md, 2026-12-07)."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[2]


class Reached(Exception):
    """Raised by the stand-in scorer once it has seen the threads."""


def test_evaluate_scores_on_siamese_mnist_threads(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "stages"))
    spec = importlib.util.spec_from_file_location("evaluate_stage", ROOT / "stages/evaluate.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    seen = {}

    def scorer(*args, **kwargs):
        seen["torch"] = torch.get_num_threads()
        seen["pools"] = {(i["internal_api"], i["filepath"]): i["num_threads"] for i in threadpool_info()}
        raise Reached

    monkeypatch.setattr(stage, "evaluate_run", scorer)
    monkeypatch.setattr(stage, "load_npz", lambda path: {})
    monkeypatch.setenv("SIAMESE_MNIST_THREADS", "1")
    outs = [a for flag in ("--metrics-out", "--per-epoch-out", "--probe-out", "--roc-out", "--confusion-out")
            for a in (flag, str(tmp_path / flag.strip("-")))]
    monkeypatch.setattr(sys, "argv", ["evaluate.py", "cnn", "e.npz", *outs, "--params", str(ROOT / "params.yaml")])
    before = torch.get_num_threads()
    try:  # every pool at two threads first, as on a 2-core machine outside pytest (tests/conftest.py sets one)
        with threadpool_limits(2), pytest.raises(Reached):
            torch.set_num_threads(2)
            assert min(i["num_threads"] for i in threadpool_info()) == 2
            stage.main()
    finally:
        torch.set_num_threads(before)
    assert seen["torch"] == 1
    assert any(api == "openblas" for api, _ in seen["pools"]) and set(seen["pools"].values()) == {1}, seen["pools"]
    assert not list(tmp_path.iterdir())  # nothing written before the scores exist
