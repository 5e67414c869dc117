"""The real `dvc` CLI over the tiny pipeline in temporary git repos."""

import gzip
import hashlib
import json
import os
import re
import shutil
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration
FASHION_TEST_LABELS_SHA256 = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"

MODELS = ("cnn", "siamese", "triplet")
OUTPUTS = ["data/params.ok", "data/raw/train-images-idx3-ubyte", "metrics/pixels.json", "plots/comparison_grid.png",
           "plots/epochs/cnn_epoch002.png", "plots/epochs/siamese_epoch000.png", "plots/epochs/triplet_epoch001.png",
           *(f"{kind}/{m}{ext}" for m in MODELS for kind, ext in (
               ("data/index", ".npz"), ("models", ".pt"), ("models", "_probe.json"), ("embeddings", ".npz"),
               ("dvclive", "/metrics.json"), ("dvclive", "/plots/metrics/loss.tsv"), ("plots/eval", ".csv"),
               ("plots/roc", ".csv"), ("plots/confusion", ".csv"), ("metrics", ".json"), ("plots/animations", ".gif"),
               ("metrics/runtime", ".json")))]
HEADLINE = {"logreg_acc", "knn_acc", "roc_auc", "pair_acc", "map_at_r", "oneshot_all_acc",
            "val"}  # + oneshot_holdout_acc: null here


def test_download_and_index_files_over_http(new_repo, mnist_dir, serve):
    repo = new_repo(serve(mnist_dir))
    repo.dvc("repro", "sample")
    assert sorted(p.name for p in (repo.path / "data/raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    with np.load(repo.path / "data/index/siamese.npz") as f:
        # 2000 training images, 500 of them carved out for validation: 1500 left to draw from
        assert f["items"].shape == (2, 1500, 2) and f["items"].dtype == np.int32
        assert f["targets"].sum() == 2 * 750
    with np.load(repo.path / "data/index/cnn.npz") as f:
        assert f["items"].shape == (2, 1500, 1) and sorted(f["items"][1, :, 0]) == list(range(1500))
    with np.load(repo.path / "data/index/triplet.npz") as f:
        assert f["items"].shape == (2, 1500, 3)
    again = repo.dvc("repro", "sample").stdout
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
    assert not [p for p in (repo.path / "data").iterdir() if p.name not in (".gitignore", "params.ok", "images")]


def test_full_pipeline_outputs_and_metrics(pipeline_repo):
    for rel in OUTPUTS:
        assert (pipeline_repo.path / rel).exists(), rel
    metrics = json.loads(pipeline_repo.dvc("metrics", "show", "--json").stdout)
    files = _files(metrics)
    for model in MODELS:
        data = files[f"metrics/{model}.json"][model]  # nested under the model's name
        assert set(data) == HEADLINE, data
        assert set(data["val"]) == {"logreg_acc", "roc_auc", "map_at_r"}
        assert 0.1 < data["logreg_acc"] <= 1.0 and 0.1 < data["oneshot_all_acc"] <= 1.0
        on_disk = json.loads((pipeline_repo.path / f"metrics/{model}.json").read_text())[model]
        assert on_disk["oneshot_holdout_acc"] is None  # no class held out (dvc metrics show leaves nulls out)
        table = pd.read_csv(pipeline_repo.path / f"plots/eval/{model}.csv")
        assert table["epoch"].tolist() == [0, 1, 2] and table["logreg_acc"].iloc[-1] == pytest.approx(data["logreg_acc"])
        assert 0.0 < table["map_at_r"].iloc[-1] <= table["r_precision"].iloc[-1] <= 1.0
        live = files[f"dvclive/{model}/metrics.json"][model]
        assert live["epoch"] == 2 and live["train_loss"] > 0
        loss = pd.read_csv(pipeline_repo.path / f"dvclive/{model}/plots/metrics/loss.tsv", sep="\t")
        assert loss["step"].tolist() == [1, 2] and loss["loss"].iloc[-1] == pytest.approx(live["train_loss"])
        confusion = pd.read_csv(pipeline_repo.path / f"plots/confusion/{model}.csv")
        assert len(confusion) == 1000 and (confusion["actual"] == confusion["predicted"]).mean() == \
            pytest.approx(data["logreg_acc"])
        roc = pd.read_csv(pipeline_repo.path / f"plots/roc/{model}.csv")
        assert roc["fpr"].is_monotonic_increasing and roc["tpr"].iloc[-1] == 1.0
    # wall-clock records and strings are not metrics: nothing but numbers under a model's name
    assert set(files) == {f"metrics/{m}.json" for m in (*MODELS, "pixels")} | {f"dvclive/{m}/metrics.json" for m in MODELS}
    pixels = files["metrics/pixels.json"]["pixels"]
    assert 0.5 < pixels["precision_at_1"] <= 1.0 and 0.1 < pixels["oneshot_all_acc"] < 1.0
    runtime = json.loads((pipeline_repo.path / "metrics/runtime/cnn.json").read_text())
    assert runtime["epochs_timed"] == 2 and "torch_version" in runtime
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


def test_an_edit_to_the_fetcher_reruns_only_download_and_a_study_edit_nothing(pipeline_repo, tmp_path):
    """A module is the unit of DVC's cache: the downloader's edit reruns the download (whose verified files come
    out the same, so nothing after it reruns), an edit in the studies wing reruns no stage at all."""
    repo = pipeline_repo.copy(tmp_path / "repo")
    with open(repo.path / "src/siamese_mnist/datasets/fetch.py", "a") as fh:
        fh.write("# an edit\n")
    assert set(repo.status()) == {"download"}
    assert ran(repo.dvc("repro").stdout) == {"download"}
    for study in ("studies/spread.py", "studies/search/selection.py", "studies/experiments.py"):
        with open(repo.path / "src/siamese_mnist" / study, "a") as fh:
            fh.write("# an edit\n")
    assert repo.status() == {}


def test_render_param_reruns_only_render_and_animate(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    repo.set_params(render={"grid_resolution": 40})
    assert set(repo.status()) == {"check", "render"}
    assert ran(repo.dvc("repro").stdout) == {"check", "render"}
    repo.set_params(render={"frame_ms": 100})
    assert ran(repo.dvc("repro").stdout) == {"check", "animate"}


def test_exp_show_is_readable(pipeline_repo):
    header = pipeline_repo.dvc("exp", "show", "--csv").stdout.splitlines()[0].split(",")
    metrics = [h for h in header if h.startswith(("cnn.", "siamese.", "triplet.", "pixels."))]
    assert not [h for h in header if ".json:" in h]  # no metric needs its file's path to be told apart
    assert "cnn.logreg_acc" in header and "siamese.map_at_r" in header and "triplet.epoch" in header
    assert not [h for h in metrics if any(w in h for w in ("seconds", "images_per_s", "cpu", "device", "threads"))]
    # 129 today: 5 + 36 metrics (7 test + 3 validation per model, 3 per model of dvclive, 4 of pixels)
    # + 44 params (model.block became cnn.block, siamese.block and triplet.block: the search chooses it per model)
    # + 44 dependencies (the folder dataset added data.root, data.image_size, evaluate.oneshot_way, folder.py
    # and the data.root folder itself; modules by concern added 7: data.py and io.py became datasets/*,
    # atomic, errors, typed_yaml and probe). `run.sh quick` drops the dependency columns.
    # 138 since issue 34 (counted with `dvc exp show --json`): 5 + 36 metrics + 51 params (each model's affine and
    # siamese.mining joined) + 46 dependencies (augment.py, model_params.py and datasets/omniglot_splits.py joined).
    # 141 with rotations as new classes: cnn.rotations, siamese.rotations and triplet.rotations joined the params.
    assert len(header) <= 141, len(header)


def test_every_stage_restores_from_the_run_cache(pipeline_repo, tmp_path):
    """params A -> B -> A: the second A restores every changed stage from DVC's run cache, training none."""
    repo = pipeline_repo.copy(tmp_path / "repo")
    margin = repo.params()["siamese"]["margin"]
    repo.set_params(siamese={"margin": margin + 1.0})
    assert "train@siamese" in ran(repo.dvc("repro").stdout)
    repo.set_params(siamese={"margin": margin})
    t0 = time.monotonic()
    back = repo.dvc("repro")
    seconds = time.monotonic() - t0
    out = back.stdout + back.stderr
    assert ran(out) == {"check"}, out  # a second's validation; its persistent marker keeps it out of the run cache
    for stage in ("sample@siamese", "train@siamese", "evaluate@siamese", "render", "animate"):
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in out, stage
    assert repo.status() == {}
    assert (repo.path / "models/siamese.pt").read_bytes() == (pipeline_repo.path / "models/siamese.pt").read_bytes()
    assert seconds < 30, seconds  # the Siamese training it replaces takes longer on the tiny config alone


def ran(repro_stdout: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", repro_stdout))


def test_siamese_param_leaves_cnn_up_to_date(pipeline_repo, tmp_path):
    repo = pipeline_repo.copy(tmp_path / "repo")
    defaults = repo.params()  # each param varies away from its default, then back
    repo.set_params(siamese={"margin": defaults["siamese"]["margin"] + 1.0})
    assert set(repo.status()) == {"check", "sample@siamese", "train@siamese"}
    # the siamese index file does not depend on the margin: its bytes are unchanged
    assert ran(repo.dvc("repro").stdout) == {"check", "sample@siamese", "train@siamese", "evaluate@siamese",
                                             "render", "animate"}
    repo.set_params(triplet={"mining": "hardest" if defaults["triplet"]["mining"] != "hardest" else "none"})
    assert set(repo.status()) == {"check", "sample@triplet", "train@triplet"}
    repo.set_params(triplet={"mining": defaults["triplet"]["mining"]})
    repo.set_params(cnn={"lr": defaults["cnn"]["lr"] / 2})
    assert set(repo.status()) == {"check", "sample@cnn", "train@cnn"}
    repo.set_params(cnn={"lr": defaults["cnn"]["lr"]}, evaluate={"knn_k": defaults["evaluate"]["knn_k"] - 2})
    assert set(repo.status()) == {"check", "evaluate@cnn", "evaluate@siamese", "evaluate@triplet"}


def test_machine_settings_change_no_stage(pipeline_repo, tmp_path):
    """Threads and device come from the environment: no stage reruns for them, and a run records what it used.

    (A run on 1 thread is a valid run of the same experiment but not bit-identical to one on 2: float
    sums in the convolutions' backward pass are split by thread. See the README.)
    """
    repo = pipeline_repo.copy(tmp_path / "repo")
    before = json.loads((repo.path / "metrics/runtime/cnn.json").read_text())["threads"]
    threads = 2 if repo.env.get("SIAMESE_MNIST_THREADS") == "1" and len(os.sched_getaffinity(0)) >= 2 else 1  # not the one it ran on
    repo.env = {**repo.env, "SIAMESE_MNIST_THREADS": str(threads), "SIAMESE_MNIST_DEVICE": "cpu"}
    assert repo.status() == {}
    assert ran(repo.dvc("repro").stdout) == set()
    out = repo.dvc("repro", "-f", "-s", "train@cnn")
    assert ran(out.stdout) == {"train@cnn"} and "device: cpu (SIAMESE_MNIST_DEVICE=cpu)" in out.stdout + out.stderr
    runtime = json.loads((repo.path / "metrics/runtime/cnn.json").read_text())
    assert runtime["threads"] == threads != before and runtime["device"] == "cpu"  # the variable was read
    repo.env["SIAMESE_MNIST_THREADS"] = "many"
    bad = repo.dvc("repro", "-f", "-s", "train@cnn", check=False)
    assert bad.returncode != 0 and "SIAMESE_MNIST_THREADS='many' should be a whole number" in bad.stdout + bad.stderr


def test_held_out_classes_and_validation_images_are_in_no_training_file(new_repo, mnist_dir):
    repo = new_repo(str(mnist_dir), data={"holdout_classes": [7, 8, 9]})
    repo.dvc("repro", "sample")
    labels = np.frombuffer((repo.path / "data/raw/train-labels-idx1-ubyte").read_bytes()[8:], np.uint8)
    from siamese_mnist.datasets.splits import split_validation, stratified_subset
    subset = stratified_subset(labels, 2000, 0)  # the tiny config's train subset, as indices of the full split
    train, val = split_validation(labels[subset], 500, 0)
    for model in MODELS:
        with np.load(repo.path / f"data/index/{model}.npz") as f:
            used = subset[train][f["items"]]  # index files index the training part
            assert np.unique(labels[used]).tolist() == list(range(7)), model
            assert not set(used.ravel()) & set(subset[val]), model
    # the input normaliser saw the training pool only: no held-out class, no validation image
    repo.dvc("repro", "train@cnn")
    images = np.frombuffer((repo.path / "data/raw/train-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    pool = subset[train][labels[subset[train]] < 7]
    pixels = images.reshape(-1, 784)[pool].astype(np.float64) / 255
    from siamese_mnist.atomic import load_checkpoint
    mean, std = load_checkpoint(repo.path / "models/cnn.pt")["normalizer"]
    assert mean == pytest.approx(pixels.mean(), rel=1e-9) and std == pytest.approx(pixels.std(), rel=1e-9)


def test_fashion_mnist_end_to_end(new_repo, fashion_dir):
    repo = new_repo(str(fashion_dir), data={"dataset": "fashion-mnist"})
    repo.dvc("repro")
    files = _files(json.loads(repo.dvc("metrics", "show", "--json").stdout))
    for model in MODELS:
        assert 0.1 < files[f"metrics/{model}.json"][model]["logreg_acc"] <= 1.0
    raw = (repo.path / "data/raw/t10k-labels-idx1-ubyte").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == FASHION_TEST_LABELS_SHA256
    assert (repo.path / "plots/comparison_grid.png").stat().st_size > 10_000
