"""`bash run.sh repro|quick` refuses to start while a dvc command holds this workspace (one line, exit 2)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("what", ["repro", "quick"])
def test_a_second_run_in_the_same_workspace_is_refused_before_it_touches_anything(tmp_path, what):
    shutil.copy(ROOT / "run.sh", tmp_path / "run.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    venv = tmp_path / ".venv"  # the installed-stamp run.sh looks for: no install happens
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(shutil.which("python3"))
    digest = subprocess.run(["sha256sum", "pyproject.toml"], cwd=tmp_path, capture_output=True, text=True,
                            check=True).stdout[:16]
    (venv / f".installed-{digest}").touch()
    (venv / "bin/dvc").write_text("#!/bin/sh\necho dvc ran \"$@\"\n")  # what would run, were it not refused
    (venv / "bin/dvc").chmod(0o755)
    (tmp_path / ".dvc/tmp").mkdir(parents=True)
    lock = tmp_path / ".dvc/tmp/lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as DVC's zc.lockfile holds it during `dvc repro`
        busy = subprocess.run(["bash", "run.sh", what], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (busy.returncode, busy.stdout) == (2, "")
    assert busy.stderr == ("error: a dvc command is already running in this workspace; wait for it, or queue runs "
                           "instead: dvc exp run --queue -S ..., then dvc queue start\n")
    free = subprocess.run(["bash", "run.sh", "repro"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (free.returncode, free.stdout) == (0, "dvc ran repro\n"), free.stderr  # the lock released: it runs
