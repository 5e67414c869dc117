"""Process-level concerns shared by every stage: logging, errors, seeds, device, threads."""

from __future__ import annotations

import ctypes
import errno
import logging
import math
import os
import random
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .errors import DataError, DatasetError, DeviceError, DiskFullError, ParamsError, UnsafeCheckpointError

if TYPE_CHECKING:  # torch is imported where it is used: the download, render and animate stages never need it
    import torch

log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what it left behind in one line (e.g. the epoch a rerun resumes after)."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main`` with logging set up; a known user error exits with one line, status 2;
    Ctrl-C exits with one line, then by SIGINT itself (the shell's 130)."""
    logging.basicConfig(level=os.environ.get("LOGLEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    tune_malloc()
    try:
        main()
    except (ParamsError, DatasetError, DeviceError, UnsafeCheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except DiskFullError as exc:
        print(f"error: {exc.strerror}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):  # one not written through atomic.py (dvclive's, DVC's)
            raise
        print(f"error: disk full{f' writing {exc.filename}' if exc.filename else ''}; free some space and rerun",
              file=sys.stderr)
        sys.exit(2)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        # Every output is written atomically, so nothing is half-written; leave at once, skipping the
        # interpreter's teardown (imported libraries print "Exception ignored" blocks when it is interrupted).
        print(str(exc) or "interrupted; nothing was written, `dvc repro` runs this stage again", file=sys.stderr,
              flush=True)
        sys.stdout.flush()
        # Die by the signal, not exit(130): a calling shell (dash, bash) then stops too and reports the same
        # status whichever shell it is (https://www.cons.org/cracauer/sigint.html).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        os._exit(130)  # only if the signal is blocked


def setup_machine(amp: bool | str, deterministic: bool) -> tuple[torch.device, int, bool]:
    """(device, threads, bfloat16 or not) from the machine settings and ``train.amp``, all logged once."""
    device_name, threads = machine_settings()
    threads = set_threads(threads)
    device = resolve_device(device_name)
    use_amp = resolve_amp(amp, device)
    set_determinism(deterministic)
    return device, threads, use_amp


def tune_malloc() -> bool:
    """Keep freed memory in the heap instead of returning it to the OS (glibc only).

    By default glibc serves large blocks with mmap and unmaps them on free, so a training loop
    that allocates the same activation buffers every step page-faults on every batch (its cost is in
    benchmarks/RESULTS.md). Serving everything from the heap and never trimming it keeps
    those pages mapped; the heap's high-water mark is what the activations need anyway.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold, m_mmap_max = -1, -3, -4
    return all(libc.mallopt(opt, value) == 1 for opt, value in
               ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_mmap_max, 0)))


def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The vector ISA features that decide fp32/bf16 speed: avx2, avx512f, avx512_bf16, amx_bf16, amx_tile."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux: ask torch what it can see
        import torch

        have = {"avx2": torch.cpu._is_avx2_supported(), "avx512f": torch.cpu._is_avx512_supported(),
                "avx512_bf16": torch.cpu._is_avx512_bf16_supported(), "amx_tile": torch.cpu._is_amx_tile_supported()}
        return [f for f in wanted if have.get(f)]
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in wanted if f in flags]


def native_bf16(device: torch.device, features: list[str] | None = None) -> bool:
    """Whether ``device`` executes bfloat16 matrix maths natively (not emulated in fp32):
    AVX-512 BF16 or AMX on a CPU, compute capability 8.0 or newer (bf16 tensor cores) on CUDA."""
    import torch

    if device.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & set(cpu_features() if features is None else features))
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return False


def resolve_amp(amp: bool | str, device: torch.device) -> bool:
    """``train.amp`` on this device: true/false as given; ``auto`` = bfloat16 only where it is native.
    Logged once, and recorded in the runtime file (the same params give other bits on another machine)."""
    use = native_bf16(device) if amp == "auto" else bool(amp)
    log.info("precision: %s (train.amp=%s on %s)", "bfloat16 autocast" if use else "fp32", amp, device)
    return use


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far, in MB (Linux: VmHWM; elsewhere getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS (glibc ``malloc_trim``; False elsewhere).

    With :func:`tune_malloc` nothing freed is ever given back, so a one-off large temporary (the
    input normaliser's float64 copy of the training images) would stay resident for
    the whole stage. Called once after such a temporary; the training loop's buffers come after it.
    """
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim(0) == 1
    except (OSError, AttributeError):
        return False


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch's global generators (code that wants randomness takes a Generator)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that depends only on ``keys``, e.g. (seed, epoch)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def available_cores(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup CPU quota (containers, CI).

    A container limited to 2 CPUs by quota still sees every host core in its affinity mask; one
    thread per host core there oversubscribes the quota and training crawls.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for quota_file, period_file in (("cpu.max", None), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            fields = open(os.path.join(cgroup_root, quota_file)).read().split()
            if period_file:
                fields.append(open(os.path.join(cgroup_root, period_file)).read().strip())
            quota, period = fields[0], fields[1]
        except (OSError, IndexError):
            continue
        if quota not in ("max", "-1") and int(period) > 0:
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
        break
    return cores


DEVICE_ENV = "SIAMESE_MNIST_DEVICE"  # auto | cpu | cuda | cuda:N | mps
THREADS_ENV = "SIAMESE_MNIST_THREADS"  # 0 or unset = one per available core


def machine_settings(env: dict[str, str] | None = None) -> tuple[str, int]:
    """(device name, threads) from the environment: how a run is executed, never what it computes.

    They are deliberately not params: no stage hash, run-cache key or resume key depends on them,
    so `SIAMESE_MNIST_THREADS=1 dvc queue start -j 2` reruns nothing that was already computed.
    """
    env = os.environ if env is None else env
    device = env.get(DEVICE_ENV, "").strip() or "auto"
    ok = device in ("auto", "cpu", "cuda", "mps") or (device.startswith("cuda:") and device[5:].isdigit())
    if not ok:
        raise DeviceError(f"{DEVICE_ENV}={device!r} is not one of auto, cpu, cuda, cuda:N, mps")
    raw = env.get(THREADS_ENV, "").strip() or "0"
    if not raw.isdigit():
        raise DeviceError(f"{THREADS_ENV}={raw!r} should be a whole number >= 0 (0 = one per available core)")
    return device, int(raw)


def set_threads(threads: int) -> int:
    """Use ``threads`` intra-op threads (0 = one per available core, and never more); returns the number in effect."""
    import torch

    cores = available_cores()
    if threads > cores:  # more threads than cores only thrash (9999 made 20 000 OS threads and 35 s steps)
        log.warning("%s=%d is more than the %d available cores; using %d", THREADS_ENV, threads, cores, cores)
    torch.set_num_threads(min(threads, cores) or cores)
    return torch.get_num_threads()


def set_determinism(deterministic: bool) -> None:
    """On CUDA, trade speed for run-to-run identical results (CPU kernels here are deterministic already)."""
    import torch

    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA, then MPS, then CPU; an explicit device must exist, else DeviceError."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if name == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu")
    elif name == "cpu":
        dev = torch.device("cpu")
    elif name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"{DEVICE_ENV}={name!r} requested but CUDA is not available on this machine")
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"{DEVICE_ENV}={name!r} does not exist; "
                              f"this machine has {torch.cuda.device_count()} CUDA device(s)")
        dev = torch.device("cuda", index)
    elif name == "mps":
        if not mps_ok:
            raise DeviceError(f"{DEVICE_ENV}='mps' requested but MPS is not available on this machine")
        dev = torch.device("mps")
    else:
        raise DeviceError(f"{DEVICE_ENV}={name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    log.info("device: %s (%s=%s)", dev, DEVICE_ENV, name)
    return dev
