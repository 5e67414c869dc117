"""Omniglot (Lake, Salakhutdinov & Tenenbaum 2015): fetch upstream's zips and verify every member (the download stage
alone imports it; ``omniglot_splits`` reads them).

Copies of these zips differ in their own bytes (recompressed, other timestamps), so a zip is verified by what it
holds: its file members' count, their total size, and the *content digest* — the sha256 of the sorted lines
``<sha256 of a member's bytes>  <member path>`` (the `sha256sum` format). A member is read with a cap of its
kind's largest size, so a zip bomb stops at the cap; a member path that is absolute or climbs out (``..``) is
refused. One source gives every zip asked for, verified, or none is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DataError
from .fetch import from_first_source, mirror_first, read_source

UPSTREAM = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
RUNS_PATH = "one-shot-classification/"  # all_runs.zip sits one folder deeper upstream
MIRROR_ENV = "OMNIGLOT_MIRROR"  # a folder or base URL holding the zips, tried before upstream


@dataclass(frozen=True)
class ZipSpec:
    files: int  # file members (folders aside)
    total: int  # their bytes, uncompressed
    digest: str  # sha256 of the sorted `sha256  path` lines of every file member
    largest: int  # a cap on one member's bytes (the largest is well under it)
    upstream: str = ""  # folder of UPSTREAM it lives in


# Member digests of upstream's files (brendenlake/omniglot, python/): computed once from a copy whose members match
# upstream's byte for byte (the small zips' git blobs, the big zips' images checked against upstream's zips,
# whose own md5 torchvision pins: 68d2efa1…, 6b91aef0…). The product reads only these constants.
ZIPS = {
    "images_background.zip": ZipSpec(19_280, 4_810_560,
                                     "deaa02f758afda524b3a045c7af40311f2d9ded3e2a39f715ece8470d474bc6a", 1 << 16),
    "images_evaluation.zip": ZipSpec(13_180, 3_371_735,
                                     "3d5e035f27423c362bf9a181af649b43cda64c1008f842177ddc5203269c901e", 1 << 16),
    "images_background_small1.zip": ZipSpec(2_720, 656_309,
                                            "60f597e6afbd744503202bad7a103e2d1834938ad4b7f6bd72969326c4446488", 1 << 16),
    "images_background_small2.zip": ZipSpec(3_120, 798_023,
                                            "88099aaf6ee18da07127530ed1c2831fd42f0513581e26dd38aa78d92df57fe0", 1 << 16),
    "all_runs.zip": ZipSpec(820, 223_271, "fddcb6df77fd9f75f664aaf5cd1c6a8ddcbf6fdc98c051da8b4a283df00e5ac0", 1 << 16,
                            RUNS_PATH),
}
ZIP_OVERHEAD = 512  # bytes a zip may spend per member on headers, beyond the member itself (≈ 200 seen)


def zip_cap(spec: ZipSpec) -> int:
    """The most bytes a zip of ``spec`` may take: its members stored uncompressed, each with generous headers."""
    return spec.total + spec.files * 2 * ZIP_OVERHEAD + (1 << 20)


def content_digest(blob: bytes, name: str, spec: ZipSpec) -> str:
    """The content digest of the zip ``blob``, every member read under its cap; DataError on anything else."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{name}: not a zip file ({exc})") from None
    lines, total = [], 0
    with zf:
        members = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
        if len(members) != spec.files:
            raise DataError(f"{name}: {len(members)} files, expected {spec.files}")
        for info in members:
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts:
                raise DataError(f"{name}: member {info.filename!r} points outside the archive; refused")
            try:
                with zf.open(info) as fh:
                    data = fh.read(spec.largest + 1)  # the header's size may lie: read no more than the cap
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                raise DataError(f"{name}: member {info.filename} cannot be read ({exc})") from None
            if len(data) > spec.largest:
                raise DataError(f"{name}: member {info.filename} inflates past {spec.largest} bytes; refused")
            total += len(data)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {info.filename}\n")
    if total != spec.total:
        raise DataError(f"{name}: members hold {total} bytes, expected {spec.total}")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def verify_zip(blob: bytes, name: str) -> None:
    spec = ZIPS[name]
    digest = content_digest(blob, name, spec)
    if digest != spec.digest:
        raise DataError(f"{name}: member digest {digest[:12]}… does not match pinned {spec.digest[:12]}…")


def fetch_zips(source: str, names: list[str], timeout: float = 30.0, deadline: float = 600.0) -> dict[str, bytes]:
    """Every zip of ``names`` from one source (a folder, or a base URL laid out as upstream), verified."""
    remote = source.startswith(("http://", "https://"))
    out = {}
    for name in names:
        spec = ZIPS[name]
        where = (source.rstrip("/") + "/" + (spec.upstream if source == UPSTREAM else "") + name if remote
                 else str(Path(source) / name))
        with contextlib.closing(read_source(where, timeout, zip_cap(spec), deadline)) as chunks:
            blob = b"".join(chunks)
        verify_zip(blob, name)
        out[name] = blob
    return out


def download(out_dir: str | Path, names: list[str], source_list: list[str] | None = None,
             timeout: float = 30.0) -> None:
    """``out_dir`` holds the verified zips of ``names`` from the first source that has them all, or DataError."""
    from_first_source(out_dir, mirror_first([UPSTREAM], mirror_var=MIRROR_ENV) if source_list is None else source_list,
                      lambda source: fetch_zips(source, names, timeout), "Omniglot")
