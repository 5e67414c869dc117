"""The studies' one door to DVC: queueing experiments (``dvc exp run --queue``), what waits in the queue,
reading files of finished experiments back out of git refs and the DVC cache, and where a project's cache lies
(for ``verify``). Nothing else imports ``dvc``."""

from __future__ import annotations

import subprocess
from pathlib import Path


def waiting_names(root: str = ".") -> set[str]:
    """Names of the experiments queued or running in this repo's DVC queue."""
    from dvc.repo import Repo

    with Repo(root) as repo:
        q = repo.experiments.celery_queue
        return {e.name for e in [*q.iter_queued(), *q.iter_active()] if e.name}


def cache_dir(root: str | Path) -> Path:
    """Where the project at ``root`` keeps its cache objects (``cache.dir`` honoured), as DVC itself says."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return Path(repo.cache.local.path)


def queue_runs(runs: list[tuple[str, list[str]]], dry_run: bool = False) -> None:
    """`dvc exp run --queue -n NAME -S ...` for each (name, -S arguments), each printed; with ``dry_run`` only printed.
    CalledProcessError where DVC refuses one (the runs before it stay queued)."""
    for name, sets in runs:
        cmd = ["dvc", "exp", "run", "--queue", "-n", name, *[a for x in sets for a in ("-S", x)]]
        print(" ".join(cmd))
        if not dry_run:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


class RepoReader:
    """Reads files of a DVC repo at git revisions (git-tracked files and DVC-tracked outputs alike)."""

    def __init__(self, root: str | Path = "."):
        from dvc.repo import Repo

        self.root = str(root)
        self.repo = Repo(self.root)
        # A DVC project in a subfolder of its git repo (omniglot/): dvc.api reads paths from the git root
        within = Path(self.repo.root_dir).resolve().relative_to(Path(self.repo.scm.root_dir).resolve())
        self.prefix = "" if within == Path(".") else f"{within.as_posix()}/"

    def read(self, path: str, rev: str) -> str:
        import dvc.api

        try:
            return dvc.api.read(self.prefix + path, repo=self.root, rev=rev)
        except Exception:  # noqa: BLE001 - a subproject's DVC output at another revision: dvc.api misses it
            if not self.prefix:
                raise
            return self.cached_output(path, rev).decode()

    def cached_output(self, path: str, rev: str) -> bytes:
        """A DVC output of this (sub)project at ``rev``, from the local cache by the md5 its dvc.lock records."""
        import yaml

        lock = yaml.safe_load(self.repo.scm.get_fs(rev).read_text(f"{self.prefix}dvc.lock"))
        md5 = next(o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", []) if o["path"] == path)
        return Path(self.repo.cache.local.oid_to_path(md5)).read_bytes()

    def experiments(self) -> list[tuple[str, str]]:
        """(name, sha) of every experiment of this project, of every baseline, newest commit first. DVC lists the
        whole git repo's (omniglot/'s beside the top project's): one is this project's when its commit changes this
        project's dvc.lock, or no dvc.lock at all (a run that changed nothing belongs to no project in particular).
        A workspace run that committed the other project's uncommitted changes too is listed by both, as before."""
        found = [(name, sha) for exps in self.repo.experiments.ls(all_commits=True).values()
                 for name, sha in exps if sha and self._ours(sha)]
        times = {sha: self.repo.scm.resolve_commit(sha).commit_time for _, sha in found}
        return sorted(found, key=lambda e: -times[e[1]])

    def _ours(self, sha: str) -> bool:
        changed = subprocess.run(["git", "diff-tree", "-r", "--name-only", "--no-commit-id", sha],
                                 cwd=self.repo.scm.root_dir, capture_output=True, text=True, check=True).stdout
        locks = {p for p in changed.splitlines() if p == "dvc.lock" or p.endswith("/dvc.lock")}
        return not locks or f"{self.prefix}dvc.lock" in locks

    def head(self) -> str:
        return self.repo.scm.get_rev()

    def close(self) -> None:
        self.repo.close()


def read_output(path: str, rev: str, root: str | Path = ".") -> bytes:
    """The bytes of a DVC-tracked output at git revision ``rev`` (from the local cache or a remote)."""
    import dvc.api

    with dvc.api.open(path, repo=str(root), rev=rev, mode="rb") as fh:
        return fh.read()
