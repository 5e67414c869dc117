"""DVC's experiment queue as the search and the unseen-classes runs use it: what waits in it, and queueing runs."""

from __future__ import annotations

import subprocess


def waiting_names(root: str = ".") -> set[str]:
    """Names of the experiments queued or running in this repo's DVC queue."""
    from dvc.repo import Repo

    with Repo(root) as repo:
        q = repo.experiments.celery_queue
        return {e.name for e in [*q.iter_queued(), *q.iter_active()] if e.name}


def queue_runs(runs: list[tuple[str, list[str]]], dry_run: bool = False) -> None:
    """`dvc exp run --queue -n NAME -S ...` for each (name, -S arguments), each printed; with ``dry_run`` only printed.
    CalledProcessError where DVC refuses one (the runs before it stay queued)."""
    for name, sets in runs:
        cmd = ["dvc", "exp", "run", "--queue", "-n", name, *[a for x in sets for a in ("-S", x)]]
        print(" ".join(cmd))
        if not dry_run:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
