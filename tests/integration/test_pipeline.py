"""The real `dvc` CLI over the tiny pipeline in temporary git repos."""

import gzip
import hashlib
import re
import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.integration
FASHION_TEST_LABELS_SHA256 = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"

MODELS = ("cnn", "siamese", "triplet")
OUTPUTS = ["data/raw/train-images-idx3-ubyte", "data/pairs/train.npz", "data/pairs/test.npz",
           "data/triplets/train.npz", "metrics/pixels.json", "plots/comparison_grid.png",
           "plots/epochs/cnn_epoch002.png", "plots/epochs/siamese_epoch000.png", "plots/epochs/triplet_epoch001.png",
           *(f"{kind}/{m}{ext}" for m in MODELS for kind, ext in (
               ("models", ".pt"), ("embeddings", ".npz"), ("plots/train", ".csv"), ("plots/eval", ".csv"),
               ("metrics", ".json"), ("plots/animations", ".gif")))]
METRIC_KEYS = {"logreg_acc", "knn_acc", "silhouette", "roc_auc", "pair_accuracy", "threshold", "precision_at_1",
               "r_precision", "map_at_r", "oneshot_all_acc", "oneshot_holdout_acc"}


def test_download_and_pairs_over_http(new_repo, mnist_dir, serve):
    repo = new_repo(serve(mnist_dir))
    repo.dvc("repro", "pairs")
    assert sorted(p.name for p in (repo.path / "data/raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    with np.load(repo.path / "data/pairs/train.npz") as f:
        assert f["items"].shape == (2, 2000, 2) and f["items"].dtype == np.int32
        assert f["targets"].sum() == 2 * 1000
    again = repo.dvc("repro", "pairs").stdout
    assert "Running stage" not in again and "up to date" in again


def test_corrupted_mirror_fails_cleanly(tmp_path, new_repo, mnist_dir, serve):
    bad = tmp_path / "mirror"
    shutil.copytree(mnist_dir, bad)
    raw = bytearray(gzip.decompress((bad / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    repo = new_repo(serve(bad))
    proc = repo.dvc("repro", "download", check=False)
    assert proc.returncode != 0
    assert "could not download mnist" in proc.stderr and "t10k-labels-idx1-ubyte: sha256" in proc.stderr
    assert not (repo.path / "data/raw").exists()
    assert not [p for p in (repo.path / "data").iterdir() if p.name != ".gitignore"]


def test_full_pipeline_outputs_and_metrics(pipeline_repo):
    for rel in OUTPUTS:
        assert (pipeline_repo.path / rel).exists(), rel
    metrics = json.loads(pipeline_repo.dvc("metrics", "show", "--json").stdout)
    flat = json.dumps(metrics)
    files = _files(metrics)
    for model in MODELS:
        data = files[f"metrics/{model}.json"]
        assert 0.1 < data["logreg_acc"] <= 1.0 and data["epoch"] == 2
        assert METRIC_KEYS - {"oneshot_holdout_acc"} <= data.keys()
        assert 0.1 < data["oneshot_all_acc"] <= 1.0
        on_disk = json.loads((pipeline_repo.path / f"metrics/{model}.json").read_text())
        assert on_disk["oneshot_holdout_acc"] is None  # no class held out (dvc metrics show leaves nulls out)
        assert 0.0 < data["map_at_r"] <= data["r_precision"] <= 1.0
    pixels = files["metrics/pixels.json"]
    assert 0.5 < pixels["precision_at_1"] <= 1.0 and 0.1 < pixels["oneshot_all_acc"] < 1.0
    assert "torch_version" in flat
    emb = np.load(pipeline_repo.path / "embeddings/triplet.npz")
    assert emb["test"].shape == (3, 1000, 2) and emb["fit"].shape == (3, 1000, 2)
    from PIL import Image
    with Image.open(pipeline_repo.path / "plots/animations/triplet.gif") as gif:
        assert gif.n_frames == 3  # epochs 0, 1, 2


def _files(metrics_json: dict) -> dict:
    """{path: data} from `dvc metrics show --json` (workspace revision)."""
    out = {}
    for rev in metrics_json.values():
        for path, entry in rev["data"].items():
            out[path] = entry["data"]
    return out


def test_second_repro_runs_nothing(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    out = repo.dvc("repro").stdout
    assert "Running stage" not in out
    assert repo.status() == {}


def test_render_param_reruns_only_render(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.set_params(render={"dpi": 60})
    assert set(repo.status()) == {"render"}
    out = repo.dvc("repro").stdout
    assert "Running stage 'render'" in out and out.count("Running stage") == 1


def ran(repro_stdout: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", repro_stdout))


def test_siamese_param_leaves_cnn_up_to_date(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.set_params(siamese={"margin": 2.0})
    assert set(repo.status()) == {"train_siamese"}
    assert ran(repo.dvc("repro").stdout) == {"train_siamese", "evaluate_siamese", "render", "animate"}
    repo.set_params(triplet={"mining": "semihard"})
    assert set(repo.status()) == {"train_triplet"}
    repo.set_params(triplet={"mining": "none"})
    repo.set_params(cnn={"lr": 0.001})
    assert set(repo.status()) == {"train_cnn"}
    repo.set_params(cnn={"lr": 0.003}, pairs={"per_epoch": 1000})
    assert set(repo.status()) == {"pairs"}


def test_render_epoch_beyond_training_is_refused(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.set_params(render={"epochs": [0, 7]})
    proc = repo.dvc("repro", "render", check=False)
    assert proc.returncode != 0 and "render.epochs: epoch 7 is beyond train.epochs=2" in proc.stderr


def test_held_out_classes_are_in_no_training_file(new_repo, mnist_dir):
    repo = new_repo(str(mnist_dir), data={"holdout_classes": [7, 8, 9]})
    repo.dvc("repro", "pairs", "triplets")
    labels = np.frombuffer((repo.path / "data/raw/train-labels-idx1-ubyte").read_bytes()[8:], np.uint8)
    from siamese_mnist.data import stratified_subset
    labels = labels[stratified_subset(labels, 2000, 0)]  # the tiny config's train subset
    for path in ("data/pairs/train.npz", "data/triplets/train.npz"):
        with np.load(repo.path / path) as f:
            assert np.unique(labels[f["items"]]).tolist() == list(range(7)), path
    with np.load(repo.path / "data/pairs/test.npz") as f:  # evaluation still sees every class
        assert len(np.unique(f["pairs"])) > 100


def test_fashion_mnist_end_to_end(new_repo, fashion_dir):
    repo = new_repo(str(fashion_dir), data={"dataset": "fashion-mnist"})
    repo.dvc("repro")
    files = _files(json.loads(repo.dvc("metrics", "show", "--json").stdout))
    for model in MODELS:
        assert 0.1 < files[f"metrics/{model}.json"]["logreg_acc"] <= 1.0
    raw = (repo.path / "data/raw/t10k-labels-idx1-ubyte").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == FASHION_TEST_LABELS_SHA256
    assert (repo.path / "plots/comparison_grid.png").stat().st_size > 10_000
