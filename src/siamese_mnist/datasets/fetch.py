"""Fetch and verify the MNIST-format IDX files of a downloadable dataset (``catalog.DATASETS``).

Every file is checked on its *uncompressed* bytes (size, IDX header, sha256), because
mirrors recompress the ``.gz`` files and so their own bytes differ. Only the download stage imports this
module (and ``benchmarks/``), so an edit here reruns ``download`` alone.

Hand-written, not ``torchvision.datasets.MNIST``: that pins the md5 of the ``.gz`` files (which mirrors
change), mixes mirrors file by file, reads no folder mirror, inflates whole files in memory and lets an HTML
page or a bad gzip through as a traceback; here one source gives all four files, verified, or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from ..atomic import atomic_folder
from ..errors import DataError
from .catalog import DATASETS, IdxFile
from .idx import parse_idx

log = logging.getLogger(__name__)

MIRROR_ENV = "MNIST_MIRROR"
OFFLINE_ENV = "MNIST_OFFLINE"  # "1": use $MNIST_MIRROR only, never the public mirrors


def verify(raw: bytes, spec: IdxFile) -> None:
    """Check uncompressed bytes against the pinned size, IDX header and sha256."""
    if len(raw) != spec.size:
        raise DataError(f"{spec.name}: {len(raw)} bytes, expected {spec.size}")
    arr = parse_idx(raw)
    if arr.shape != spec.shape:
        raise DataError(f"{spec.name}: IDX shape {arr.shape}, expected {spec.shape}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(f"{spec.name}: sha256 {digest[:12]}… does not match pinned {spec.sha256[:12]}…")


_CHUNK = 1 << 16  # bytes per read
_DEADLINE_READS = 20  # by default, one file may take this many per-read timeouts in all


def _gzip_cap(size: int) -> int:
    """The most bytes a gzip of ``size`` bytes may take: deflate stores what it cannot shrink with 5 bytes of
    overhead per 64 KiB block; 1 % and 64 KiB more leave room for headers, several members and zero padding."""
    return size + size // 100 + (1 << 16)


def gunzip(blob: bytes | Iterable[bytes], name: str, limit: int | None = None) -> bytes:
    """Inflate gzip data, whole or as chunks; accepts what ``gzip.decompress`` does (several members, zero padding
    after one).

    With ``limit``, refuses as soon as the output passes ``limit`` bytes: a gzip bomb costs at most
    ``limit`` + 1 bytes of output, however far it would inflate.
    """
    out: list[bytes] = []
    size, head = 0, b""
    member, started = None, False  # member: the inflater of the member being read, None between members
    try:
        for data in [blob] if isinstance(blob, (bytes, bytearray)) else blob:
            head += data[: 64 - len(head)]  # what the HTML hint looks at
            while data:
                if member is None:
                    if started and not (data := data.lstrip(b"\0")):  # zero padding, skipped as gzip.decompress does
                        break
                    member, started = zlib.decompressobj(16 + zlib.MAX_WBITS), True
                piece = member.decompress(data, 0 if limit is None else limit + 1 - size)  # 0: no limit
                size += len(piece)
                if limit is not None and size > limit:
                    stem = name.rsplit("/", 1)[-1].removesuffix(".gz")
                    raise DataError(f"{name}: inflates past {limit} bytes, the size of {stem}; refused")
                out.append(piece)
                data, member = (member.unused_data, None) if member.eof else (member.unconsumed_tail, member)
        if member is not None:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    except (EOFError, zlib.error) as exc:
        hint = " (looks like an HTML page)" if head.lstrip()[:1] == b"<" else ""
        raise DataError(f"{name}: not a valid gzip file{hint}: {exc}") from None
    return b"".join(out)


def read_source(where: str, timeout: float, cap: int, deadline: float) -> Iterator[bytes]:
    """The bytes at ``where`` (a file, or an http(s) URL), in chunks as they arrive.

    ``timeout`` bounds each HTTP read; past ``cap`` bytes or ``deadline`` seconds in all, DataError: an endless
    response or a server that drips bytes stops there, with nothing of it held.
    """
    end = time.monotonic() + deadline

    def capped(read: Callable[[], bytes]) -> Iterator[bytes]:
        seen = 0
        while chunk := read():
            seen += len(chunk)
            if seen > cap:
                raise DataError(f"{where}: more than {cap} bytes, the cap for this file; refused")
            if time.monotonic() > end:
                raise DataError(f"{where}: took longer than {deadline:g} s; refused")
            yield chunk

    if not where.startswith(("http://", "https://")):
        try:
            with open(where, "rb") as f:
                yield from capped(lambda: f.read(_CHUNK))
        except OSError as exc:
            raise DataError(f"{where}: {exc.strerror or exc}") from None
        return
    try:
        with urllib.request.urlopen(where, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=where.rsplit("/", 1)[-1], leave=False) as bar:
                for chunk in capped(lambda: resp.read1(_CHUNK)):  # read1: what has arrived, so the clock is read
                    bar.update(len(chunk))
                    yield chunk
    except urllib.error.HTTPError as exc:
        raise DataError(f"{where}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"{where}: {reason}") from None


def sources_for(dataset: str, env: dict[str, str] | None = None) -> list[str]:
    """The mirror from ``$MNIST_MIRROR`` (if set) first, then the public mirrors unless ``$MNIST_OFFLINE=1``."""
    return mirror_first(list(DATASETS[dataset]["mirrors"]), env)


def mirror_first(public: list[str], env: dict[str, str] | None = None, mirror_var: str = MIRROR_ENV) -> list[str]:
    """``$MNIST_MIRROR`` (or ``mirror_var``: a folder or base URL, if set), then ``public`` unless
    ``$MNIST_OFFLINE=1``: every fetcher's sources."""
    env = os.environ if env is None else env
    extra = [env[mirror_var]] if env.get(mirror_var) else []
    public = [] if env.get(OFFLINE_ENV, "") == "1" else public
    if not extra + public:
        raise DataError(f"{OFFLINE_ENV}=1 but {mirror_var} is not set: no source to download from")
    return extra + public


def fetch_from(source: str, dataset: str, timeout: float = 30.0, deadline: float | None = None) -> dict[str, bytes]:
    """All four verified, uncompressed files from one source (a folder or an http(s) base URL), or DataError.

    ``timeout`` bounds each HTTP read; ``deadline`` (default 20 × ``timeout``) each file's download in all.
    Memory stays bounded whatever the source serves: a file is refused once its gzip passes its cap
    (:func:`_gzip_cap`) or its output passes the file's pinned size.
    """
    deadline = _DEADLINE_READS * timeout if deadline is None else deadline
    remote = source.startswith(("http://", "https://"))
    files = {}
    for spec in DATASETS[dataset]["files"].values():
        where = source.rstrip("/") + "/" + spec.name + ".gz" if remote else str(Path(source) / (spec.name + ".gz"))
        with contextlib.closing(read_source(where, timeout, _gzip_cap(spec.size), deadline)) as chunks:
            raw = gunzip(chunks, where, spec.size)
        verify(raw, spec)
        files[spec.name] = raw
    return files


def download(dataset: str, out_dir: str | Path, sources: list[str], timeout: float = 30.0,
             deadline: float | None = None) -> None:
    """Fill ``out_dir`` with the verified IDX files of ``dataset`` from the first source that works.

    The folder appears whole (built beside it, then renamed) or not at all. ``timeout``: seconds per HTTP read;
    ``deadline``: seconds per file in all (default 20 × ``timeout``), so that a server dripping bytes is given up.
    """
    from_first_source(out_dir, sources, lambda source: fetch_from(source, dataset, timeout, deadline), dataset)


def from_first_source(out_dir: str | Path, sources: list[str], fetch: Callable[[str], dict[str, bytes]],
                      what: str) -> None:
    """``out_dir`` holds the files ``fetch(source)`` returns (name -> verified bytes) from the first source whose
    fetch raises no DataError; whole or not at all. DataError listing every source's failure, else."""
    failures = []
    for source in sources:
        log.info("trying %s", source)
        try:
            files = fetch(source)
        except DataError as exc:
            log.warning("source failed: %s", exc)
            failures.append(f"{source}: {exc}")
            continue
        with atomic_folder(out_dir) as tmp:
            for name, raw in files.items():
                (tmp / name).write_bytes(raw)
        log.info("%s verified from %s", what, source)
        return
    raise DataError(f"could not download {what}; every source failed:\n  " + "\n  ".join(failures))
