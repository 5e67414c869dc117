"""Atomic writes of every output (and the reads that pair with them: JSON, npz, checkpoints).

Every output is written to a temporary file beside it and renamed into place, so a stage
killed at any moment leaves the previous complete file or none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import DiskFullError, UnsafeCheckpointError

if TYPE_CHECKING:  # imported where used: a stage that writes no checkpoint or table never loads torch or pandas
    import pandas as pd
    import torch

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def _naming_a_full_disk(path: Path) -> Iterator[None]:
    """ENOSPC from a write carries no file name: say which output it was, in one line."""
    try:
        yield
    except DiskFullError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise DiskFullError(exc.errno, f"disk full writing {path}; free some space and rerun") from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _naming_a_full_disk(path):
            yield tmp
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``path`` (``.<name>.tmp``, ignored by git and DVC); swap it in for
    ``path`` whole only if the block succeeds, else remove it. A leftover from a killed run is cleared first."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with _naming_a_full_disk(path):
            yield tmp
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_csv(path: str | Path, frame: pd.DataFrame) -> None:
    write_bytes(path, frame.to_csv(index=False, float_format="%.6g").encode())


def write_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Uncompressed .npz; byte-identical for identical arrays (zip entries carry a fixed date)."""
    buf = BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path, buf.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def save_checkpoint(path: str | Path, obj: dict) -> None:
    import torch

    buf = BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load with ``weights_only=True``: a file carrying pickled code is refused, never run."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises UnpicklingError with a long explanation
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeCheckpointError(f"{path}: refused to load (not a plain weights file): {first}") from None
