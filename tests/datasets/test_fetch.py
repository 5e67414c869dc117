"""Downloading: checksums, bad gzip, the order of the sources, and every way a mirror can fail, most served
from 127.0.0.1: the next source is tried, nothing partial remains, and no mirror, however big, endless or
slow its answer, costs more than 300 MB or its deadline."""

import functools
import gzip
import http.server
import itertools
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from siamese_mnist.datasets.catalog import DATASETS
from siamese_mnist.datasets.fetch import download, fetch_from, gunzip, sources_for, verify
from siamese_mnist.errors import DataError


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_checksum_mismatch_is_rejected(raw_dir):
    spec = DATASETS["mnist"]["files"]["t10k-labels-idx1-ubyte"]
    raw = bytearray((raw_dir / spec.name).read_bytes())
    raw[-1] ^= 1  # same size, valid header, one label changed
    with pytest.raises(DataError, match="sha256"):
        verify(bytes(raw), spec)


def test_truncated_gzip_is_rejected(mnist_dir):
    blob = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    with pytest.raises(DataError, match="not a valid gzip"):
        gunzip(blob[: len(blob) // 2], "t10k-labels-idx1-ubyte.gz")


def test_html_error_page_is_rejected():
    with pytest.raises(DataError, match="HTML page"):
        gunzip(b"<!DOCTYPE html><html><body>Access denied</body></html>", "x.gz")


def test_gzip_of_wrong_bytes_is_rejected(tmp_path, mnist_dir):
    for f in mnist_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    # right size and header, wrong labels: only the checksum can tell
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(10000, np.uint8))))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: sha256"):
        fetch_from(str(tmp_path), "mnist")


def test_download_falls_through_sources_and_lists_every_failure(tmp_path, mnist_dir):
    out = tmp_path / "raw"
    with pytest.raises(DataError) as exc:
        download("mnist", out, [str(tmp_path / "nowhere"), "http://127.0.0.1:9/"], timeout=2)
    msg = str(exc.value)
    assert "nowhere" in msg and "127.0.0.1:9" in msg
    assert not out.exists() and list(tmp_path.iterdir()) == []
    download("mnist", out, [str(tmp_path / "nowhere"), str(mnist_dir)])
    assert sorted(p.name for p in out.iterdir()) == sorted(DATASETS["mnist"]["files"])


def test_mirror_env_comes_first():
    assert sources_for("mnist", {"MNIST_MIRROR": "/m"})[:2] == ["/m", "https://ossci-datasets.s3.amazonaws.com/mnist/"]
    assert sources_for("mnist", {})[0].startswith("https://")
    assert sources_for("mnist", {"MNIST_MIRROR": "/m", "MNIST_OFFLINE": "1"}) == ["/m"]
    with pytest.raises(DataError, match="MNIST_MIRROR is not set"):
        sources_for("mnist", {"MNIST_OFFLINE": "1"})


def handler_for(mnist_dir, fault):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            body = (mnist_dir / name).read_bytes()
            if name == "t10k-images-idx3-ubyte.gz":
                if fault in (500, 404):
                    self.send_error(fault)
                    return
                if fault == "html":
                    body = b"<html><body>Please log in</body></html>"
                elif fault == "truncated":
                    body = body[: len(body) // 3]
                elif fault == "wrong-bytes":
                    raw = bytearray(gzip.decompress(body))
                    raw[5000] ^= 0xFF
                    body = gzip.compress(bytes(raw))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


FAULTS = {500: "HTTP 500", 404: "HTTP 404", "html": "HTML page", "truncated": "not a valid gzip",
          "wrong-bytes": "sha256"}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_http_fault_falls_through_to_next_source(fault, tmp_path, mnist_dir, serve):
    url = serve(None, handler_for(mnist_dir, fault))
    out = tmp_path / "raw"
    with pytest.raises(DataError) as exc:
        download("mnist", out, [url], timeout=30)  # no fault here waits for it: room for a busy machine
    assert FAULTS[fault] in str(exc.value) and url in str(exc.value)
    assert list(tmp_path.iterdir()) == []  # nothing partial
    download("mnist", out, [url, str(mnist_dir)], timeout=30)  # the next source is used
    assert len(list(out.iterdir())) == 4


def test_connection_refused_and_timeout_are_listed(tmp_path, mnist_dir):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()  # nothing listens here now
    silent = socket.socket()  # listens but never answers: the kernel accepts, nobody reads
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    sources = [f"http://127.0.0.1:{refused_port}/", f"http://127.0.0.1:{silent.getsockname()[1]}/"]
    try:
        with pytest.raises(DataError) as exc:
            download("mnist", tmp_path / "raw", sources, timeout=1)
    finally:
        silent.close()
    msg = str(exc.value)
    assert "refused" in msg.lower() and "timed out" in msg.lower()
    assert msg.count("\n") == 2  # one line per source
    assert list(tmp_path.iterdir()) == []


@functools.cache
def gzip_bomb(size: int = 200 << 20) -> bytes:
    """A gzip of ``size`` zero bytes: about a thousandth of that, built a MiB at a time to keep the test cheap."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    mib = bytes(1 << 20)
    return b"".join([z.compress(mib) for _ in range(size >> 20)] + [z.flush()])


def streaming_handler(chunks):
    """A handler answering every GET with ``chunks(name)``, no Content-Length, until the client hangs up."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            try:
                for chunk in chunks(self.path.rsplit("/", 1)[-1]):
                    self.wfile.write(chunk)
            except OSError:  # the client gave up, as it should
                pass

    return Handler


# download() in a fresh Python whose address space may grow by 640 MiB only, so that a broken guard ends in a
# MemoryError rather than in a machine out of memory; it prints the error, the seconds and the peak memory growth
CHILD = """
import json, resource, sys, time, tracemalloc
from siamese_mnist.datasets.fetch import download
from siamese_mnist.errors import DataError
out, sources, kwargs = json.loads(sys.argv[1])
room = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize() + (640 << 20)
resource.setrlimit(resource.RLIMIT_AS, (room, room))
def hwm():
    return next(int(line.split()[1]) << 10 for line in open("/proc/self/status") if line.startswith("VmHWM"))
open("/proc/self/clear_refs", "w").write("5")  # the peak RSS so far is the import's: start it afresh here
base = hwm()
tracemalloc.start()
start = time.monotonic()
try:
    download("mnist", out, sources, **kwargs)
    msg = "downloaded"
except DataError as exc:
    msg = str(exc)
print(json.dumps({"msg": msg, "seconds": time.monotonic() - start, "rss": hwm() - base,
                  "traced": tracemalloc.get_traced_memory()[1]}))
"""


def download_in_child(tmp_path, sources: list[str], **kwargs) -> dict:
    """What CHILD printed; the download failed with one line for its one source and stayed under 300 MB."""
    args = json.dumps([str(tmp_path / "raw"), sources, kwargs])
    proc = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    print(result)
    assert result["msg"].count("\n") == 1, result["msg"]  # "every source failed:", then one line
    assert max(result["rss"], result["traced"]) < 300 << 20, result  # the torch import is not counted
    assert not (tmp_path / "raw").exists()
    return result


def test_gzip_bomb_over_http_is_refused_at_the_file_size(tmp_path, serve):
    url = serve(None, streaming_handler(lambda name: [gzip_bomb()]))
    msg = download_in_child(tmp_path, [url])["msg"]
    assert (f"{url}train-images-idx3-ubyte.gz: inflates past 47040016 bytes, the size of train-images-idx3-ubyte;"
            " refused") in msg


def test_gzip_bomb_in_a_folder_mirror_is_refused_at_the_file_size(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb())
    msg = download_in_child(tmp_path, [str(mirror)])["msg"]
    assert f"{mirror}/train-images-idx3-ubyte.gz: inflates past 47040016 bytes" in msg


def test_endless_response_is_cut_at_the_compressed_cap(tmp_path, mnist_dir, serve):
    # the real file, then zero padding forever: gzip readers skip it, so it never inflates past the file's size
    real = (mnist_dir / "train-images-idx3-ubyte.gz").read_bytes()
    url = serve(None, streaming_handler(lambda name: itertools.chain([real], itertools.repeat(bytes(1 << 16)))))
    result = download_in_child(tmp_path, [url], deadline=30)
    cap = re.search(rf"{re.escape(url)}train-images-idx3-ubyte.gz: more than (\d+) bytes, the cap", result["msg"])
    assert cap and 47040016 < int(cap[1]) < 2 * 47040016, result["msg"]
    assert result["seconds"] < 20


def test_dripping_server_is_left_at_the_deadline(tmp_path, mnist_dir, serve):
    real = (mnist_dir / "train-images-idx3-ubyte.gz").read_bytes()

    def drip(name):
        stop = time.monotonic() + 10  # then the server hangs up itself: a truncated gzip, not a hung test
        for i in range(0, len(real), 64):
            if time.monotonic() > stop:
                return
            yield real[i:i + 64]
            time.sleep(0.2)

    url = serve(None, streaming_handler(drip))
    start = time.monotonic()
    with pytest.raises(DataError) as exc:
        download("mnist", tmp_path / "raw", [url], timeout=5, deadline=1)  # every read well within its timeout
    assert f"{url}train-images-idx3-ubyte.gz: took longer than 1 s; refused" in str(exc.value)
    assert str(exc.value).count("\n") == 1
    assert time.monotonic() - start < 5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
def test_gunzip_in_chunks_accepts_what_gzip_decompress_accepts(chunk):
    a, b = gzip.compress(b"hello " * 1000), gzip.compress(b"world")
    for blob in [a, a + b, a + bytes(100) + b, a + bytes(7), b"", a + b"junk", bytes(2) + a, a[:-3], a + a[:5]]:
        try:
            want = gzip.decompress(blob)
        except (OSError, EOFError):
            want = None
        try:
            got = gunzip([blob[i:i + chunk] for i in range(0, len(blob), chunk)], "x.gz")
        except DataError as exc:
            assert "x.gz: not a valid gzip file" in str(exc)
            got = None
        assert got == want, (blob[-12:], chunk)
