"""Shared fixtures: the real MNIST files beside the checkout, a loopback HTTP server, tiny params."""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path

import pytest

# Under pytest-xdist (`bash run.sh test`: one worker per core) each worker, in process and in the pipelines
# it starts, uses one thread: two workers on two cores, not four threads fighting over them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("SIAMESE_MNIST_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))  # the project's programs that are not tests (readme_tables, relock) are tested too
SHARED_DATA = Path(os.environ.get("SIAMESE_MNIST_TEST_DATA", ROOT.parent / "shared" / "data"))


def _shared_dataset(name: str) -> Path:
    d = SHARED_DATA / name
    if not (d / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"test data missing: {d} (set SIAMESE_MNIST_TEST_DATA to the folder holding {name}/)")
    return d


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return _shared_dataset("mnist")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    return _shared_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def omniglot_dir() -> Path:
    """Upstream's Omniglot zips (../shared/data/omniglot): the background and evaluation sets, the minimal splits,
    Lake's 20 runs."""
    d = SHARED_DATA / "omniglot"
    if not (d / "all_runs.zip").exists():
        pytest.fail(f"test data missing: {d} (set SIAMESE_MNIST_TEST_DATA to the folder holding omniglot/)")
    return d


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory, mnist_dir) -> Path:
    """The verified, uncompressed IDX files, as the download stage writes them."""
    from siamese_mnist.datasets.fetch import download
    out = tmp_path_factory.mktemp("raw") / "raw"
    download("mnist", out, [str(mnist_dir)])
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1 serving that folder; stopped after the test."""
    servers = []

    def start(folder: Path, handler=None) -> str:
        handler = handler or functools.partial(_QuietHandler, directory=str(folder))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


# Seconds each long test took on 2 cores under `bash run.sh test` (pytest --durations, 2026-12-01). The suite
# runs longest first: with `--dist load` each worker takes the next test as it frees up, so the long ones start
# at once on different workers and the short ones fill in around them (listed in order, they would meet at
# the end on one worker). A test not listed keeps its place after these; a wrong figure only costs minutes.
LONG_TESTS = {
    "test_the_search_runs_from_two_machines_and_selects_on_validation": 400,
    "test_seed_report_gathers_the_replicates_of_head_and_nothing_else": 210,
    "test_folder_dataset_end_to_end": 190,
    "test_unseen_runs_are_found_by_their_lock_and_reported_against_the_pixels": 185,
    "test_the_omniglot_pipeline_runs_apart_from_mnist_and_reruns_only_what_a_param_touches": 75,
    "test_two_queued_experiments_run_at_once_and_diff": 125,
    "test_bad_params_fail_in_check_before_dvc_touches_any_output": 115,
    "test_fashion_mnist_end_to_end": 115,
    "test_two_clean_runs_give_the_same_output_hashes": 100,
    "test_sigkill_during_epoch_2_then_resume_is_byte_identical": 70,
    "test_every_stage_restores_from_the_run_cache": 70,
    "test_siamese_param_leaves_cnn_up_to_date": 60,
    "test_held_out_classes_and_validation_images_are_in_no_training_file": 50,
}


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: -LONG_TESTS.get(item.originalname, 0))  # stable: the rest keep their order


def pytest_configure(config) -> None:
    # Under xdist only the workers collect, so a mistyped path would end in a bare "no tests ran": say which.
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        for arg in config.args:
            if not (config.invocation_params.dir / arg.split("::")[0]).exists():
                raise pytest.UsageError(f"file or directory not found: {arg}")
