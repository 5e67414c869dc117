"""The tree says what is where: two wings, small modules, one door to DVC, and a layout doc that lists them all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "siamese_mnist"
STUDIES = PACKAGE / "studies"
MAX_LINES = 300


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def imports_dvc(path: Path) -> bool:
    """Whether ``path`` imports the dvc package anywhere (dvclive is another package)."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if any(n == "dvc" or n.startswith("dvc.") for n in names):
            return True
    return False


def test_every_module_is_well_under_a_screenful_of_screens():
    long = {p.relative_to(ROOT).as_posix(): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_only_the_studies_wing_talks_to_dvc():
    outside = [p.relative_to(ROOT).as_posix() for p in modules() if STUDIES not in p.parents and imports_dvc(p)]
    assert outside == []
    inside = [p.relative_to(STUDIES).as_posix() for p in STUDIES.rglob("*.py") if imports_dvc(p)]
    assert inside == ["experiments.py"], inside  # the one door


def test_the_dvc_scan_sees_an_import_of_dvc():
    # the check above is only as good as imports_dvc: it must see both spellings, and not dvclive
    assert imports_dvc(STUDIES / "experiments.py")
    assert not imports_dvc(PACKAGE / "live.py")  # imports dvclive


def stage_code_deps(pipeline: str = "dvc.yaml", up: str = "") -> dict[str, set[str]]:
    stages = yaml.safe_load((ROOT / pipeline).read_text())["stages"]
    return {name: {d[len(up):] for d in body.get("do", body)["deps"] if d.startswith(f"{up}src/")}
            for name, body in stages.items()}


def test_no_stage_depends_on_the_studies_wing_and_only_download_on_the_fetcher():
    for pipeline, up in (("dvc.yaml", ""), ("omniglot/dvc.yaml", "../")):
        deps = stage_code_deps(pipeline, up)
        assert {name: sorted(d for d in files if d.startswith("src/siamese_mnist/studies/"))
                for name, files in deps.items() if any(d.startswith("src/siamese_mnist/studies/") for d in files)} == {}
        fetchers = [name for name, files in deps.items() if "src/siamese_mnist/datasets/fetch.py" in files]
        assert fetchers == ["download"], (pipeline, fetchers)


def layout_lines() -> str:
    text = (ROOT / "docs/pipeline.md").read_text()
    return text[text.index("## Layout"):].split("```")[1]


def listed_modules(block: str) -> set[str]:
    """Package files the layout block names, as paths under src/siamese_mnist (its indentation gives the folders)."""
    listed, folders = set(), []
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)", line)
        if not m or len(m.group(1)) < 2:
            continue
        depth = len(m.group(1)) // 2 - 1
        name = m.group(2)
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        elif name.endswith(".py"):
            listed.add("/".join([*folders, name]))
    return listed


def test_the_layout_doc_lists_every_module_and_no_other():
    actual = {p.relative_to(PACKAGE).as_posix() for p in modules() if p.name != "__init__.py"}
    listed = listed_modules(layout_lines())
    assert actual - listed == set(), f"docs/pipeline.md#layout misses {sorted(actual - listed)}"
    assert listed - actual == set(), f"docs/pipeline.md#layout lists modules that do not exist: {sorted(listed - actual)}"


def test_the_layout_check_notices_a_missing_module():
    block = layout_lines()
    without = "\n".join(line for line in block.splitlines() if "fetch.py" not in line)
    assert "datasets/fetch.py" in listed_modules(block) and "datasets/fetch.py" not in listed_modules(without)
    assert "studies/search/apply.py" in listed_modules(block)  # nested folders are followed
