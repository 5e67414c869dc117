"""The errors a user can cause, each a one-line message naming the param or file: every stage catches them
(``runtime.run_stage``), so they live here, apart from the code that raises them — a stage that only
catches ``DataError`` depends on this module, not on the downloader."""

from __future__ import annotations


class ParamsError(ValueError):
    """A params file that cannot be used; the message names the offending key."""


class DataError(RuntimeError):
    """A source or file that cannot be used; the message says which and why."""


class DatasetError(DataError):
    """Bad user input (a folder dataset's file or layout, a split size): one line naming it, exit 2."""


class IndexFileError(DatasetError):
    """An index file that does not fit the params or the data (a stale input: made by another sample stage)."""


class DivergedError(ParamsError):
    """A non-finite training loss: the run stops at the epoch it happened in, naming the params to look at."""


class DeviceError(RuntimeError):
    """A configured device that does not exist or is not available here."""


class DiskFullError(OSError):
    """No space left (or quota exceeded) while writing an output; the message names it."""


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint that holds anything but tensors and plain data."""
