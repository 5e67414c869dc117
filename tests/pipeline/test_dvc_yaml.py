"""dvc.yaml against the code: each stage's declared code deps are exactly what its script imports, and every
place that lists the models lists exactly ``config.MODELS``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "siamese_mnist"


def _package_of(path: Path) -> str | None:
    """The dotted package a source file of ``src/`` belongs to (``siamese_mnist.datasets``), None outside it."""
    try:
        parts = path.relative_to(ROOT / "src").parts
    except ValueError:
        return None
    return ".".join(parts[:-1])


def _is_module(name: str) -> bool:
    where = ROOT / "src" / Path(*name.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _imported_modules(path: Path) -> set[str]:
    """Package modules ``path`` imports anywhere (top level or inside functions), as dotted names."""
    tree = ast.parse(path.read_text())
    found = set()
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level and package:  # from .x import y, from ..x import y, from . import x
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == PACKAGE:
                base = node.module
            else:
                continue
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}"))
    return found


def _module_file(name: str) -> Path:
    parts = name.split(".")
    as_module = ROOT / "src" / Path(*parts).with_suffix(".py")
    return as_module if as_module.exists() else ROOT / "src" / Path(*parts) / "__init__.py"


def transitive_files(script: Path) -> set[str]:
    """Repo-relative paths of the script and every package file it imports, directly or not."""
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        rel = path.relative_to(ROOT).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        for name in _imported_modules(path):
            parts = name.split(".")
            todo.append(_module_file(name))
            # importing a submodule runs the __init__ of every package above it
            todo.extend(_module_file(".".join(parts[:k])) for k in range(1, len(parts)))
    return seen


PIPELINES = {"dvc.yaml": "", "omniglot/dvc.yaml": "../"}  # each pipeline, and how its paths reach the repo root


def stage_bodies(pipeline: str = "dvc.yaml") -> dict[str, dict]:
    stages = yaml.safe_load((ROOT / pipeline).read_text())["stages"]
    return {name: body.get("do", body) for name, body in stages.items()}


def code_deps(body: dict, up: str) -> set[str]:
    """The repo-relative code a stage declares (``../src/x.py`` in omniglot/dvc.yaml is ``src/x.py``)."""
    return {d[len(up):] for d in body["deps"] if d.startswith((f"{up}src/", f"{up}stages/"))}


def test_every_stage_declares_exactly_the_code_it_imports():
    for pipeline, up in PIPELINES.items():
        for name, body in stage_bodies(pipeline).items():
            script = re.search(rf"python {re.escape(up)}(stages/\w+\.py)", body["cmd"]).group(1)
            declared = code_deps(body, up)
            needed = transitive_files(ROOT / script)
            where = f"{pipeline} {name}"
            assert needed - declared == set(), f"{where}: imports but does not declare {sorted(needed - declared)}"
            assert declared - needed == set(), f"{where}: declares but does not import {sorted(declared - needed)}"


def test_the_import_scan_follows_imports_inside_functions_and_packages():
    # checks.check_params imports datasets.folder inside the function: the check stage needs it, and the
    # __init__ of both packages above it
    files = transitive_files(ROOT / "stages/check.py")
    assert {"src/siamese_mnist/datasets/folder.py", "src/siamese_mnist/datasets/__init__.py",
            "src/siamese_mnist/__init__.py"} <= files
    assert "src/siamese_mnist/plotting.py" not in files


def test_every_stage_has_a_description():
    for pipeline in PIPELINES:
        for name, body in stage_bodies(pipeline).items():
            assert body.get("desc"), (pipeline, name)


def test_training_depends_on_no_evaluation_or_machine_setting():
    train = stage_bodies()["train"]
    assert not [p for p in train["params"] if str(p).startswith("evaluate")], train["params"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert "threads" not in params["train"] and "device" not in params["train"]


def test_no_stage_has_a_persistent_output_but_the_params_check():
    for pipeline in PIPELINES:
        persistent = {name: out for name, body in stage_bodies(pipeline).items() for out in body.get("outs", [])
                      if isinstance(out, dict) and any(v.get("persist") for v in out.values())}
        assert persistent == {"check": {"data/params.ok": {"persist": True}}}, (pipeline, persistent)


def test_plain_outputs_are_cached_so_every_stage_has_a_run_cache():
    # DVC skips the run cache of a stage with a cache: false output that is neither a metric nor a plot
    for pipeline in PIPELINES:
        for name, body in stage_bodies(pipeline).items():
            for out in body.get("outs", []):
                if isinstance(out, dict):
                    for path, opts in out.items():
                        assert opts.get("cache", True), f"{name}: {path} is cache: false; declare it as a plot or metric"


def _models_named(text: str) -> set[str]:
    """The model names a path or a list mentions, as whole words (``embeddings/cnn.npz`` -> {"cnn"})."""
    from siamese_mnist.config import MODELS

    return {m for m in MODELS if re.search(rf"(?<![a-z]){m}(?![a-z])", text)}


def test_every_place_that_lists_the_models_lists_config_models():
    """Adding a model to config.MODELS fails here until dvc.yaml (the foreach list, the render and animate
    deps, the top-level charts, the artifacts), params.yaml, the model classes and the tables derive or list it."""
    import importlib.util

    import readme_tables
    from siamese_mnist.config import MODELS, Params
    from siamese_mnist.models import MODEL_CLASSES

    models = set(MODELS)
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert dvc["vars"][0]["models"]["model"] == list(MODELS)
    for stage in ("render", "animate"):
        deps = dvc["stages"][stage]["deps"]
        assert _models_named(" ".join(d for d in deps if d.startswith("embeddings/"))) == models, (stage, deps)
    probes = [d for d in dvc["stages"]["render"]["deps"] if d.startswith("models/")]
    assert _models_named(" ".join(probes)) == models, probes
    for chart in dvc["plots"]:
        (title, spec), = chart.items()
        assert _models_named(" ".join(spec["y"])) == models, title
    assert set(dvc["artifacts"]) == models
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert models <= set(params) and all(hasattr(Params(), m) for m in MODELS)
    assert set(MODEL_CLASSES) == models
    assert tuple(readme_tables.MODELS) == MODELS and set(readme_tables.LONG) == set(readme_tables.SHORT) == models
    spec = importlib.util.spec_from_file_location("bench_models", ROOT / "benchmarks/bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert set(bench.PER_ITEM) == models


def test_the_model_list_check_fails_when_a_place_misses_a_model():
    """The check above on dvc.yaml text with one model removed from the render deps: it must notice."""
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["render"]["deps"]
    short = [d for d in deps if d != "embeddings/triplet.npz"]
    assert _models_named(" ".join(d for d in short if d.startswith("embeddings/"))) == {"cnn", "siamese"}
