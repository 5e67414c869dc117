"""Shared fixtures: the real MNIST files beside the checkout, a loopback HTTP server, tiny params."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

# Under pytest-xdist (`bash run.sh test`: one worker per core) each worker, in process and in the pipelines
# it starts, uses one thread: two workers on two cores, not four threads fighting over them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("SIAMESE_MNIST_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
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
def raw_dir(tmp_path_factory, mnist_dir) -> Path:
    """The verified, uncompressed IDX files, as the download stage writes them."""
    from siamese_mnist.data import download
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
