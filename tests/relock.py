"""Record edited code in dvc.lock for stages whose outputs a refactor provably left byte-identical.

    python tests/relock.py STAGE [STAGE ...]     # e.g. check download 'train@cnn'

What `dvc commit` does, for a clone that lacks the outputs to hash: each named stage's git-tracked
file dependencies (``stages/``, ``src/``, ``params.yaml``) get the md5 and size of their current bytes,
the dependency list follows ``dvc.yaml`` (a renamed module) and the params it records take their current
values (a param added whose default is the old behaviour); its outputs' hashes stay. Use it only after
``bash tests/same_outputs.sh OLD NEW`` showed every output of the tiny config byte-identical, and name in
the commit message what was proven; a stage whose outputs did change must rerun instead.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CODE = ("stages/", "src/", "params.yaml")


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
    """The value of ``key`` (a section, or a dotted path like ``data.val_size``) in params.yaml."""
    value = yaml.safe_load((ROOT / "params.yaml").read_text())
    for part in key.split("."):
        value = value[part]
    return value


def relock(stages: list[str]) -> None:
    from ruamel.yaml import YAML  # DVC's own YAML library: a round trip keeps the file's layout

    rt = YAML()
    rt.width = 80
    path = ROOT / "dvc.lock"
    lock = rt.load(path.read_text())
    for stage in stages:
        entry = lock["stages"][stage]
        kept = [d for d in entry["deps"] if not d["path"].startswith(CODE)]
        code = [file_dep(d) for d in declared_deps(stage) if d.startswith(CODE)]
        entry["deps"] = sorted(kept + code, key=lambda d: d["path"])
        for key in entry.get("params", {}).get("params.yaml", {}):  # a param added with its old behaviour
            entry["params"]["params.yaml"][key] = param_value(key)
    with open(path, "w") as fh:
        rt.dump(lock, fh)


if __name__ == "__main__":
    relock(sys.argv[1:])
