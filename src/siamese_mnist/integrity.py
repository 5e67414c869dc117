"""`python -m siamese_mnist verify`: rehash every output ``dvc.lock`` names, in the workspace and in the cache.

DVC trusts its own records: it compares a file's size and mtime with what it hashed last (``.dvc/tmp``'s state
database), and it never rehashes a cache object it already has. So one flipped byte in a cache object goes
unnoticed by ``dvc checkout``, ``dvc status``, ``dvc pull``, ``dvc repro`` and ``dvc push`` alike (DVC's
behaviour, not a bug it will fix soon: treeverse/dvc#5978, #9641; a ``dvc cache check`` is proposed in #9561).
This command reads every byte again: each output of each stage in ``dvc.lock`` (and of each ``.dvc`` file),
each file of an output folder, and the cache object each should match, and names each mismatch; exit 1 if any.

Own code, not DVC's: DVC has no command that rehashes (``dvc data status`` and ``dvc status`` read the state
database; ``remote.verify`` applies to pulls only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20


class MismatchError(ValueError):
    """A file that is not the one the lock records (or a probe of another run); the message names it."""


@dataclass(frozen=True)
class Recorded:
    """One output as the lock (or a ``.dvc`` file) records it: ``md5`` ends in ``.dir`` for a folder."""

    path: str  # relative to the project root
    md5: str
    source: str  # "dvc.lock, stage train@cnn" or "data/images.dvc"


@dataclass(frozen=True)
class Problem:
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def md5_file(path: Path, bar: tqdm | None = None) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return h.hexdigest()


def _yaml(path: Path):
    from ruamel.yaml import YAML  # DVC's own reader: YAML 1.2, as DVC wrote the file

    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def project_root(start: str | Path) -> Path | None:
    """The nearest folder at or above ``start`` holding a ``.dvc`` folder (a DVC project, subprojects included)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _dvc_files(root: Path) -> list[Path]:
    """The ``.dvc`` files of this project: hidden folders (``.git``, ``.venv``) and subprojects left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(folder, d, ".dvc")).is_dir())
        found += [Path(folder, f) for f in sorted(files) if f.endswith(".dvc")]
    return found


def recorded_outputs(root: Path) -> list[Recorded]:
    """Every output with a hash in ``root``/dvc.lock and in the ``.dvc`` files beside it (not in subprojects)."""
    out = []
    lock = root / "dvc.lock"
    if lock.is_file():
        for stage, body in (_yaml(lock) or {}).get("stages", {}).items():
            for o in body.get("outs", []) or []:
                if o.get("md5"):
                    out.append(Recorded(o["path"], o["md5"], f"dvc.lock, stage {stage}"))
    for dvcfile in _dvc_files(root):
        rel = dvcfile.relative_to(root)
        for o in (_yaml(dvcfile) or {}).get("outs", []) or []:
            if o.get("md5"):
                out.append(Recorded(str(rel.parent / o["path"]), o["md5"], str(rel)))
    return out


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def object_path(cache: Path, md5: str) -> Path:
    return cache / md5[:2] / md5[2:]


def verify(root: Path, cache: Path, progress: bool = True) -> tuple[list[Problem], dict[str, int]]:
    """Rehash each recorded output (workspace copy and cache object; each file of a folder): the problems,
    and counts of what was checked."""
    problems: list[Problem] = []
    counts = {"outputs": 0, "files": 0, "objects": 0, "absent": 0}
    jobs: list[tuple[str, str, Path, bool]] = []  # (name, expected md5, file to hash, is a cache object)
    for rec in recorded_outputs(root):
        counts["outputs"] += 1
        if rec.md5.endswith(".dir"):
            listing_path = object_path(cache, rec.md5)
            if not listing_path.is_file():
                counts["absent"] += 1
                continue  # not fetched: nothing here to be wrong; `dvc pull` brings it
            jobs.append((f"{rec.path} (folder listing {_shown(listing_path, root)})", rec.md5[:-4], listing_path, True))
            try:
                listing = json.loads(listing_path.read_bytes())
            except ValueError:
                problems.append(Problem(rec.path, f"the cache's folder listing {listing_path} is not JSON"))
                continue
            entries = [(f"{rec.path}/{e['relpath']}", e["md5"]) for e in listing]
        else:
            entries = [(rec.path, rec.md5)]
        for name, md5 in entries:
            obj = object_path(cache, md5)
            if obj.is_file():
                jobs.append((f"{name} (cache object {_shown(obj, root)})", md5, obj, True))
            file = root / name
            if file.is_file():
                jobs.append((name, md5, file, False))
            elif not obj.is_file():
                counts["absent"] += 1
    total = sum(p.stat().st_size for _, _, p, _ in jobs)
    with tqdm(total=total, unit="B", unit_scale=True, desc="rehashing", disable=not progress,
              file=sys.stderr) as bar:
        for name, md5, path, cached in jobs:
            counts["objects" if cached else "files"] += 1
            got = md5_file(path, bar)
            if got != md5:
                where = "cache object" if cached else "workspace copy"
                fix = ("remove it, then `dvc pull` or `dvc repro` brings a good one" if cached
                       else "`dvc checkout` restores the recorded one, `dvc commit` records this one")
                problems.append(Problem(name, f"{where} has md5 {got}, the record says {md5}: {fix}"))
    return problems, counts


def recorded_md5(path: str | Path) -> tuple[str, str] | None:
    """(md5, source) that the project's ``dvc.lock`` records for the file ``path``, or None where no lock names it."""
    path = Path(path).resolve()
    root = project_root(path.parent)
    if root is None:
        return None
    rel = str(path.relative_to(root))
    for rec in recorded_outputs(root):
        if rec.path == rel and not rec.md5.endswith(".dir"):
            return rec.md5, rec.source
    return None


def upstream(path: str | Path) -> dict[Path, str] | None:
    """For a file ``dvc.lock`` names as an output: {file: md5} of what its stage read and of every output of the
    stages that wrote those (an evaluate stage reads embeddings; the train stage that wrote them wrote the
    checkpoint beside them). None where no lock names the file."""
    path = Path(path).resolve()
    root = project_root(path.parent)
    lock = root / "dvc.lock" if root else None
    if lock is None or not lock.is_file():
        return None
    stages = (_yaml(lock) or {}).get("stages", {}).values()
    rel = str(path.relative_to(root))
    own = next((b for b in stages if any(o.get("path") == rel for o in b.get("outs", []) or [])), None)
    if own is None:
        return None
    deps = {d["path"]: d.get("md5", "") for d in own.get("deps", []) or []}
    found = dict(deps)
    for body in stages:
        outs = {o["path"]: o.get("md5", "") for o in body.get("outs", []) or []}
        if any(outs.get(p) == md5 for p, md5 in deps.items()):
            found.update(outs)
    return {(root / p).resolve(): md5 for p, md5 in found.items()}


def check_provenance(model: str | Path, probe: str | Path) -> str:
    """Refuse a model that is not the one ``dvc.lock`` records, and a probe fitted on another checkpoint: the
    lock records each output's md5 and each stage's inputs: the evaluate stage that wrote the probe read the
    embeddings that the train stage wrote beside the checkpoint. Returns a note for the output: "" when both
    were verified, else why nothing could be."""
    model, probe = Path(model), Path(probe)
    md5 = md5_file(model)
    recorded = recorded_md5(model)
    if recorded and recorded[0] != md5:
        raise MismatchError(f"{model}: md5 {md5} is not the {recorded[0]} that dvc.lock records ({recorded[1]}): "
                           "changed or corrupt; `python -m siamese_mnist verify` rehashes every output")
    lineage = upstream(probe)
    if lineage is None:
        return f"{probe} is named by no dvc.lock: not verified as fitted on {model}"
    if model.resolve() not in lineage:
        fitted = [p for p in lineage if p.suffix == ".pt"]
        other = os.path.relpath(fitted[0]) if fitted else "another model"
        raise MismatchError(f"{probe}: fitted on {other}, not on {model}; give that model's own probe (or none)")
    if lineage[model.resolve()] != md5:
        raise MismatchError(f"{probe}: fitted on another {model} (md5 {lineage[model.resolve()]}, this one {md5}); "
                           "`dvc repro` refits it")
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist verify", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", nargs="?", default=".", help="the DVC project (default: the one here; "
                                                            "omniglot for the Omniglot pipeline)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    root = project_root(args.project)
    if root is None:
        print(f"error: {args.project}: not inside a DVC project (no .dvc folder here or above)", file=sys.stderr)
        return 2
    from .studies.experiments import cache_dir  # the one module that talks to DVC

    problems, counts = verify(root, cache_dir(root), progress=not args.quiet)
    for p in problems:
        print(p)
    print(f"{root.name}: {counts['outputs']} recorded outputs; rehashed {counts['files']} workspace files and "
          f"{counts['objects']} cache objects; {counts['absent']} not here (neither pulled nor checked out); "
          f"{len(problems)} mismatch{'es' if len(problems) != 1 else ''}")
    return 1 if problems else 0
