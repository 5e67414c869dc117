"""Record edited code in dvc.lock for stages whose outputs a refactor provably left byte-identical.

    python tools/relock.py STAGE [STAGE ...]     # e.g. check download 'train@cnn'
    python tools/relock.py --project omniglot check    # a subproject's dvc.lock (its code deps are ../src/...)

What `dvc commit` does, for a clone that lacks the outputs to hash: each named stage's git-tracked
file dependencies (``stages/``, ``src/``, ``params.yaml``) get the md5 and size of their current bytes,
the dependency list follows ``dvc.yaml`` (a renamed module) and a key added to a recorded params section
(a param whose default is the old behaviour) is recorded too — a recorded value that changed is refused;
its outputs' hashes stay, and the replicate files of the seeds and unseen reports record the same code. Use it only after ``bash tools/same_outputs.sh OLD NEW`` showed every output of
the tiny config byte-identical — or a checkpoint differing only in a recorded config field, its tensors
identical (the script says so) — and name in the commit message what was proven; a stage whose outputs
did change must rerun instead.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TOP = ROOT  # the checkout; ROOT is the project relocked (--project: a subproject inside it)
CODE = ("stages/", "src/", "params.yaml", "../stages/", "../src/")


def file_dep(path: str) -> dict:
    data = (ROOT / path).read_bytes()
    return {"path": path, "hash": "md5", "md5": hashlib.md5(data).hexdigest(), "size": len(data)}


def declared_deps(stage: str) -> list[str]:
    """The stage's deps as dvc.yaml lists them, ``${item}`` filled in for a foreach stage."""
    name, _, item = stage.partition("@")
    body = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][name]
    deps = body.get("do", body)["deps"]
    return [d.replace("${item}", item) for d in deps]


def param_value(key: str):
    """The value of ``key`` (a section, or a dotted path like ``data.val_size``) in params.yaml, read as the
    stages read it (``1e-05`` a number)."""
    from siamese_mnist.typed_yaml import read_yaml

    value = read_yaml((ROOT / "params.yaml").read_text())
    for part in key.split("."):
        value = value[part]
    return value


def with_added_keys(recorded, current, where: str):
    """``current`` where it only adds keys to ``recorded`` (a param added, its default the old behaviour);
    any recorded value that changed is refused: that stage must rerun, not be relocked."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for k, v in recorded.items():
            if k not in current:
                raise SystemExit(f"relock: {where}.{k} is gone from params.yaml; rerun the stage instead")
            with_added_keys(v, current[k], f"{where}.{k}")
        for k, v in current.items():
            if k not in recorded:
                recorded[k] = v
        return recorded
    if recorded != current:
        raise SystemExit(f"relock: {where} changed ({recorded!r} -> {current!r}); rerun the stage instead")
    return recorded


def relock(stages: list[str]) -> None:
    from ruamel.yaml import YAML  # DVC's own YAML library: a round trip keeps the file's layout

    rt = YAML()
    rt.width = 80
    path = ROOT / "dvc.lock"
    lock = rt.load(path.read_text())
    before = {s: json.loads(json.dumps(lock["stages"][s].get("params", {}))) for s in stages}
    for stage in stages:
        entry = lock["stages"][stage]
        kept = [d for d in entry["deps"] if not d["path"].startswith(CODE)]
        code = [file_dep(d) for d in declared_deps(stage) if d.startswith(CODE)]
        entry["deps"] = sorted(kept + code, key=lambda d: d["path"])
        recorded = entry.get("params", {}).get("params.yaml", {})
        for key in recorded:
            recorded[key] = with_added_keys(recorded[key], param_value(key), f"{stage}: {key}")
    with open(path, "w") as fh:
        rt.dump(lock, fh)
    relock_replicates({s: lock["stages"][s] for s in stages}, ROOT, before)


# seeds --write, unseen report --write: their folders (an arm's too: metrics/replicates-<arm>, metrics/unseen-d<D>),
# and the params their identities leave out (they vary)
REPLICATE_FOLDERS = {"metrics/replicates*": ("seed",),
                     "metrics/unseen*": ("seed", "data.holdout_classes", "model.embedding_dim")}


def relock_replicates(entries: dict, root: Path, before: dict) -> None:
    """The same proof re-records the code in the replicate files' identities, so the refactor orphans no replicate,
    and the params it added to a stage (``entries`` against ``before``, each stage's params as dvc.lock had them):
    only those, as an arm's file leaves out the params its arm set (--set), which dvc.lock holds at HEAD's value."""
    for folders, varying in REPLICATE_FOLDERS.items():
        for path in sorted(root.glob(f"{folders}/seed-*.json")):
            record = json.loads(path.read_text())
            ident = record.get("identity") or {}
            touched = [s for s in entries if s in ident]
            for s in touched:
                ident[s]["code"] = {d["path"]: d.get("md5") for d in entries[s]["deps"]
                                    if d["path"].startswith(("src/", "stages/", "../src/", "../stages/"))}
                added = added_keys(before.get(s, {}), json.loads(json.dumps(entries[s].get("params", {}))))
                recorded = {k: v for f in added.values() for k, v in f.items() if k not in varying}
                add_missing(ident[s]["params"], json.loads(json.dumps(recorded)))  # keys relock added to the lock
            if touched:
                path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")


def added_keys(old: dict, new: dict) -> dict:
    """What ``new`` holds that ``old`` lacks, at any depth."""
    out = {}
    for k, v in new.items():
        if k not in old:
            out[k] = v
        elif isinstance(v, dict) and isinstance(old[k], dict) and added_keys(old[k], v):
            out[k] = added_keys(old[k], v)
    return out


def add_missing(recorded: dict, current: dict) -> None:
    """Add to ``recorded`` every key of ``current`` it lacks, at any depth (a param added to a section)."""
    for k, v in current.items():
        if k not in recorded:
            recorded[k] = v
        elif isinstance(v, dict) and isinstance(recorded[k], dict):
            add_missing(recorded[k], v)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--project"]:
        ROOT = TOP / args[1]
        args = args[2:]
    relock(args)
