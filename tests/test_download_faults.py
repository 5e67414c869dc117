"""Every way a mirror can fail, each served from 127.0.0.1: the next source is tried, nothing partial remains."""

import gzip
import http.server
import socket

import pytest

from siamese_mnist.data import DataError, download


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
