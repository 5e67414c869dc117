"""The Omniglot pipeline end to end: the real `dvc repro` in its own DVC project (omniglot/), on the real files of
../shared/data (Omniglot's zips, MNIST's digits for the transfer), on a tiny config: a minimal split, two epochs."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import yaml

from siamese_mnist.datasets.omniglot_splits import read_runs

def dvc_in(repo, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo.path / "omniglot", env=repo.env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_the_omniglot_pipeline_runs_apart_from_mnist_and_reruns_only_what_a_param_touches(omniglot_repo,
                                                                                           omniglot_dir):
    repo = omniglot_repo
    # the MNIST pipeline does not see the Omniglot project (a DVC subrepo), and the other way round
    root_stages = repo.dvc("stage", "list").stdout
    assert "download" in root_stages and "oneshot" not in root_stages and "baselines" not in root_stages
    assert "render" not in dvc_in(repo, "stage", "list").stdout

    dvc_in(repo, "repro")
    out = repo.path / "omniglot"
    # class-disjoint: validation is one whole background alphabet of small1's five; test the evaluation set
    characters = json.loads((out / "data/raw/characters.json").read_text())
    alphabets = {s: {n.split("/")[0] for n in names} for s, names in characters.items()}
    assert alphabets["val"] == {"Greek"} and alphabets["train"] == {"Balinese", "Early_Aramaic", "Korean", "Latin"}
    assert len(characters["test"]) == 659 and not alphabets["test"] & (alphabets["train"] | alphabets["val"])

    keys = {"lake_error", "way5_shot1_acc", "way5_shot2_acc", "map_at_r", "roc_auc", "transfer_acc"}
    for model in ("cnn", "siamese", "triplet"):
        m = json.loads((out / f"metrics/{model}.json").read_text())[model]
        assert set(m) == keys | {"val"} and set(m["val"]) == {"oneshot_acc", "map_at_r", "roc_auc"}
        assert 0 <= m["lake_error"] <= 100 and all(0 <= m[k] <= 1 for k in keys - {"lake_error"})
        probe = json.loads((out / f"models/{model}_probe.json").read_text())
        assert probe["model"] == model and math.isfinite(probe["threshold"])
    base = json.loads((out / "metrics/baselines.json").read_text())
    assert base["hausdorff"]["lake_error"] == 38.75  # Lake et al. 2015: 38.8 %
    assert 78 <= base["pixels"]["lake_error"] <= 82  # published: about 78-81 % (at 105 x 105)
    for picture in ("alphabet", "mistakes"):
        assert (out / f"plots/{picture}.png").read_bytes()[:4] == b"\x89PNG"

    # the gallery command on characters no model saw: run 1's training drawings enrolled one per class, its test
    # drawings identified — the same answers as the pipeline's own 20-run scoring of the same model
    run = read_runs(omniglot_dir / "all_runs.zip")[0]
    for c, png in enumerate(run.train):
        (repo.path / f"gallery/class{c:02d}").mkdir(parents=True)
        (repo.path / f"gallery/class{c:02d}/drawing.png").write_bytes(png)
    (repo.path / "queries").mkdir()
    for q, png in enumerate(run.test):
        (repo.path / f"queries/item{q:02d}.png").write_bytes(png)
    shown = repo.run(sys.executable, "-m", "siamese_mnist", "gallery", "gallery", "queries",
                     "--model", "omniglot/models/cnn.pt").stdout.splitlines()
    assert shown[0].startswith("gallery gallery: 20 classes, 20 images; threshold ")
    named = [re.search(r"(?:nearest: )?(class\d\d)", line.split(": ", 1)[1]).group(1) for line in shown[1:]]
    runs = np.load(out / "embeddings/cnn.npz")["runs"][-1][:40].astype(np.float64)
    nearest = np.linalg.norm(runs[20:, None] - runs[None, :20], axis=2).argmin(axis=1)
    assert named == [f"class{j:02d}" for j in nearest]

    # a scoring param reruns scoring alone; a training param leaves the other models' chains alone (check reads
    # the whole file, and writes the same bytes)
    params = yaml.safe_load((out / "params.yaml").read_text())
    params["omniglot"]["shots"] = [1]
    params["siamese"]["margin"] = 1.5
    (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = set(json.loads(dvc_in(repo, "status", "--json").stdout))
    assert changed == {"check", "evaluate@cnn", "evaluate@siamese", "evaluate@triplet", "baselines", "sample@siamese",
                       "train@siamese"}, changed
