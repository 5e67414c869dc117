"""The benchmark's building blocks run on a small slice (its figures are only meaningful in a real run)."""

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks/bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module
    spec.loader.exec_module(module)
    return module


def test_every_model_is_timed_and_the_data_path_apart(bench, raw_dir):
    from siamese_mnist.datasets.splits import load_split

    images, labels = load_split(raw_dir, "train")
    images, labels = images[:512], labels[:512]
    cpu = torch.device("cpu")
    for name in bench.MODELS:
        assert bench.project_epoch_s(name, images, labels, cpu, 1) > 0
        assert bench.data_path_s(name, images, labels, cpu, reps=1) > 0
        assert bench.compute_only_s(name, 512, cpu) > 0
    assert {"speedup_vs_naive_triplet", "triplet_cnn_epoch_ratio", "bf16_speedup", "default_run_estimate_s",
            "default_precision", "cpu", "cpu_features"} <= set(bench.KEYS)


def test_fixed_costs_are_measured_at_the_default_sizes(bench):
    costs = bench.fixed_costs_s(torch.device("cpu"))
    assert costs["dump_s_per_epoch"] > 0 and costs["evaluate_s_per_epoch"] > 0


def test_the_op_profile_splits_a_step_into_its_categories(bench, raw_dir):
    from siamese_mnist.datasets.splits import load_split

    images, labels = load_split(raw_dir, "train")
    shares = bench.op_profile("cnn", images[:256], labels[:256], torch.device("cpu"))
    assert set(shares) == {c for c, _ in bench.OP_CATEGORIES} | {"other"}
    assert abs(sum(shares.values()) - 1) < 1e-9
    assert shares["convolution"] > 0.2 and shares["batch_norm"] > 0 and shares["max_pool"] > 0
    assert bench.op_category("aten::native_batch_norm_backward") == "batch_norm"
    assert bench.op_category("aten::threshold_backward") == "relu"
    assert bench.op_category("aten::mkldnn_convolution") == "convolution"
    assert bench.op_category("aten::addcdiv_") == "other"
    torch.manual_seed(0)
    now = bench.build_model("cnn", bench.MODEL).eval()
    before = bench.relu_before_pool(copy.deepcopy(now))
    assert [type(m).__name__ for m in before.embedding.features] == (
        ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 2 + ["Flatten"])
    x = torch.randn(32, 1, 28, 28)
    assert torch.equal(before(x), now(x))  # the same model, laid out as it ran before
    with pytest.raises(ValueError, match="not a conv_bn_relu_pool tower"):
        bench.relu_before_pool(before)
    assert {"op_profile", "block_images_per_s", "matmul_bound_run_s", "estimate_over_matmul_bound"} <= set(bench.KEYS)
