"""The winners become the defaults: params.yaml edited line by line, each searched line saying its trial."""

from __future__ import annotations

import json
import re

from ...typed_yaml import read_yaml
from .spec import SearchError, yaml_scalar

SECTION = re.compile(r"^([A-Za-z_]\w*):")
KEY_LINE = re.compile(r"^  ([A-Za-z_]\w*):[^#]*?(?:#\s?(.*))?$")


def apply_winners(text: str, report: dict) -> str:
    """``params.yaml``'s text with each winner's settings in its model's section, each such line's comment
    starting with where it came from; every other line as it was (PyYAML would drop the comments: a line edit
    keeps them)."""
    winners = report.get("winners")
    if not winners:
        last = (report.get("rungs") or [{}])[-1]
        raise SearchError(f"metrics/search.json has no winners: {last['note']}" if last.get("note") else
                          "metrics/search.json has no winners yet: its last rung is not complete "
                          "(python -m siamese_mnist search select --write)")
    todo = {(m, k): (v, w["trial"]) for m, w in winners.items() for k, v in w["settings"].items()}
    lines, section = text.splitlines(keepends=True), None
    for i, line in enumerate(lines):
        top = SECTION.match(line)
        if top:
            section = top.group(1)
            continue
        kv = KEY_LINE.match(line.rstrip("\n"))
        if kv and (section, kv.group(1)) in todo:
            value, trial = todo.pop((section, kv.group(1)))
            old = kv.group(2) or ""
            if old.startswith("searched: trial "):  # written by an earlier apply: keep what followed it
                old = old.split("; ", 1)[1] if "; " in old else ""
            note = f"searched: trial {trial}" + (f"; {old}" if old else "")
            text_value = yaml_scalar(value)
            if isinstance(value, str) and read_yaml(f"x: {text_value}")["x"] != value:
                text_value = json.dumps(value)  # a string YAML would read as another type (off, null, 1e-3)
            lines[i] = f"  {kv.group(1)}: {text_value}".ljust(25) + f" # {note}\n"
    if todo:
        (m, k), _ = next(iter(todo.items()))
        raise SearchError(f"params.yaml: no line `  {k}: ...` in section {m}: to write the winner's {m}.{k}")
    return "".join(lines)
