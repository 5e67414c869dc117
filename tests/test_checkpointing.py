import logging

import pytest
import torch

from siamese_mnist.checkpointing import EpochCheckpointer
from siamese_mnist.config import ModelConfig, params_from_dict
from siamese_mnist.models import build_model
from siamese_mnist.training import TrainState

SMALL = {"model": {"conv_channels": [4, 8], "hidden": 16}}


@pytest.fixture
def inputs(tmp_path):
    """Stand-ins for a training run's inputs: a data folder, an index file, a code file."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/images").write_bytes(b"\x00" * 100)
    (tmp_path / "index.npz").write_bytes(b"pairs")
    (tmp_path / "losses.py").write_text("margin = 1\n")
    return [tmp_path / "raw", tmp_path / "index.npz", tmp_path / "losses.py"]


def saved(tmp_path, params, inputs):
    model = build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    ck = EpochCheckpointer(tmp_path / "ck.pt", "siamese", params, inputs)
    ck.save(TrainState(epoch=1, history=[{"epoch": 1, "loss": 0.5}], dumps={"test": [torch.zeros(3, 2).numpy()] * 2}),
            model, opt, sched)
    return ck, model


def fresh_model():
    return build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))


def test_matching_checkpoint_resumes(tmp_path, inputs):
    p = params_from_dict(SMALL)
    ck, model = saved(tmp_path, p, inputs)
    fresh = fresh_model()
    state, resume = EpochCheckpointer(tmp_path / "ck.pt", "siamese", p, inputs).restore(fresh)
    assert state.epoch == 1 and len(state.dumps["test"]) == 2 and "optimizer" in resume
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))


IGNORED = "ignoring resume point {}: made under other params, data or code"


def test_checkpoint_under_other_params_is_ignored_with_one_line(tmp_path, inputs, caplog):
    saved(tmp_path, params_from_dict(SMALL), inputs)
    other = params_from_dict({**SMALL, "siamese": {"margin": 2.0}})
    with caplog.at_level(logging.INFO):
        state, resume = EpochCheckpointer(tmp_path / "ck.pt", "siamese", other, inputs).restore(fresh_model())
    assert state is None and resume is None
    assert [r.message for r in caplog.records] == [IGNORED.format(tmp_path / "ck.pt")]


@pytest.mark.parametrize("changed", [0, 1, 2], ids=["data", "index file", "code"])
def test_checkpoint_made_from_other_inputs_is_not_resumed(tmp_path, inputs, caplog, changed):
    p = params_from_dict(SMALL)
    saved(tmp_path, p, inputs)
    target = inputs[changed] / "images" if inputs[changed].is_dir() else inputs[changed]
    target.write_bytes(target.read_bytes() + b"#")  # one byte more, same params
    with caplog.at_level(logging.INFO):
        assert EpochCheckpointer(tmp_path / "ck.pt", "siamese", p, inputs).restore(fresh_model()) == (None, None)
    assert IGNORED.format(tmp_path / "ck.pt") in caplog.text


def test_cnn_checkpoint_ignores_other_models_params(tmp_path, inputs):
    a = EpochCheckpointer(tmp_path / "ck.pt", "cnn", params_from_dict(SMALL), inputs)
    b = EpochCheckpointer(tmp_path / "ck.pt", "cnn", params_from_dict({**SMALL, "siamese": {"margin": 2.0}}), inputs)
    assert a.tag == b.tag


def test_finished_run_leaves_no_resume_point(tmp_path, inputs):
    ck, _ = saved(tmp_path, params_from_dict(SMALL), inputs)
    ck.finish()
    assert not (tmp_path / "ck.pt").exists()
    assert ck.restore(fresh_model()) == (None, None)


def test_same_checkout_in_another_folder_has_the_same_key_and_resumes_from_the_shared_dir(tmp_path, monkeypatch):
    """A queued experiment runs in a temporary copy; queued again after a kill, it runs in another one."""
    import shutil

    p = params_from_dict(SMALL)
    shared = tmp_path / "resume"
    first, second = tmp_path / "exps/a", tmp_path / "exps/b"
    for root in (first, second):
        (root / "raw").mkdir(parents=True)
        (root / "raw/images").write_bytes(b"\x00" * 100)
        (root / "index.npz").write_bytes(b"pairs")
    keys = []
    for root in (first, second):
        monkeypatch.chdir(root)
        keys.append(EpochCheckpointer("ck.pt", "siamese", p, ["raw", root / "index.npz"],
                                      env={"SIAMESE_MNIST_RESUME_DIR": str(shared)}))
    assert keys[0].tag == keys[1].tag and keys[0].path == keys[1].path and keys[0].path.parent == shared
    model = fresh_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    monkeypatch.chdir(first)
    keys[0].save(TrainState(epoch=3, dumps={"test": [torch.zeros(3, 2).numpy()] * 4}), model, opt,
                 torch.optim.lr_scheduler.StepLR(opt, 1))
    shutil.rmtree(first)  # DVC deletes the temporary copy of a failed experiment
    monkeypatch.chdir(second)
    state, _ = keys[1].restore(fresh_model())
    assert state.epoch == 3
    other = EpochCheckpointer("ck.pt", "siamese", params_from_dict({**SMALL, "seed": 1}), ["raw"],
                              env={"SIAMESE_MNIST_RESUME_DIR": str(shared)})
    assert other.path != keys[1].path  # another seed queued beside it never shares the file


def test_resume_point_made_in_another_precision_is_not_resumed(tmp_path, inputs, caplog):
    """train.amp: auto is bf16 on one CPU and fp32 on another: a shared resume folder must not mix them."""
    p = params_from_dict({**SMALL, "train": {"amp": "auto"}})
    bf16 = EpochCheckpointer(tmp_path / "ck.pt", "siamese", p, inputs, env={}, precision="bf16")
    fp32 = EpochCheckpointer(tmp_path / "ck.pt", "siamese", p, inputs, env={}, precision="fp32")
    assert bf16.tag != fp32.tag and bf16.config == fp32.config  # the model file records the params alone
    model = fresh_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    bf16.save(TrainState(epoch=2, dumps={"test": [torch.zeros(3, 2).numpy()] * 3}), model, opt,
              torch.optim.lr_scheduler.StepLR(opt, 1))
    with caplog.at_level(logging.INFO):
        assert fp32.restore(fresh_model()) == (None, None)
    assert IGNORED.format(tmp_path / "ck.pt") in caplog.text
    assert EpochCheckpointer(tmp_path / "ck.pt", "siamese", p, inputs, env={}, precision="bf16").restore(
        fresh_model())[0].epoch == 2


def test_the_train_stage_keys_its_resume_point_on_the_modules_it_imports_only(raw_dir, tmp_path):
    """Editing a module the training stage never imports (the report, the plots) keeps its resume points.

    Runs the real ``stages/train.py`` (tiny data) up to the point where it builds its checkpointer, which a
    stand-in replaces to print the code files among the inputs the resume key hashes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"].update(train_limit=2000, test_limit=500, val_size=200, fit_samples=200)
    params["train"]["epochs"], params["render"]["epochs"] = 1, [0, 1]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run([sys.executable, "stages/sample.py", "cnn", str(raw_dir), str(tmp_path / "index.npz"),
                    "--params", str(tmp_path / "params.yaml")], cwd=root, check=True, capture_output=True)
    child = f"""
import runpy, sys
from pathlib import Path
import siamese_mnist.checkpointing as ck
def stand_in(*args, inputs, **kwargs):
    print("\\n".join(Path(p).name for p in inputs if str(p).endswith(".py")))
    raise SystemExit(0)
ck.EpochCheckpointer = stand_in
sys.argv = ["stages/train.py", "cnn", {str(raw_dir)!r}, {str(tmp_path / "index.npz")!r},
            "--params", {str(tmp_path / "params.yaml")!r}, "--model-out", "m", "--embeddings-out", "e",
            "--live-dir", "l", "--runtime-out", "r", "--resume-point", "c"]
sys.path.insert(0, "stages")
runpy.run_path("stages/train.py", run_name="__main__")
"""
    out = subprocess.run([sys.executable, "-c", child], cwd=root, capture_output=True, text=True, check=True,
                         env={**os.environ, "TQDM_DISABLE": "1"}).stdout.split()
    declared = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["do"]["deps"]
    assert "train.py" in out  # the stage script itself
    assert set(out) - {"train.py"} == {Path(d).name for d in declared if d.startswith("src/siamese_mnist/")}
    assert "training.py" in out and "spread.py" not in out and "plotting.py" not in out


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shapes", "not a dict", "optimizer",
                                    "epoch"])
def test_a_corrupt_resume_point_is_ignored_with_one_warning_and_training_starts_over(tmp_path, inputs, caplog, damage):
    p = params_from_dict(SMALL)
    ck, _ = saved(tmp_path, p, inputs)
    path = tmp_path / "ck.pt"
    if damage == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 10)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    else:
        data = torch.load(path, weights_only=True)
        if damage == "wrong shapes":  # all but the last tensor fit, and load_state_dict copies those before failing
            last = list(data["model"])[-1]
            data["model"][last] = torch.zeros(1)
        elif damage == "optimizer":
            data["optimizer"]["param_groups"] = []
        elif damage == "epoch":
            data["epoch"] = 7  # one epoch's dumps, two rows of history
        else:
            data = [data]
        torch.save(data, path)
    fresh = fresh_model()
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    with caplog.at_level(logging.INFO):
        state, resume = EpochCheckpointer(path, "siamese", p, inputs).restore(fresh)
    assert state is None and resume is None
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())  # nothing half-loaded
    [record] = caplog.records
    assert record.levelname == "WARNING" and record.message.startswith(f"ignoring resume point {path}: unreadable (")
    assert record.message.endswith("); training starts over") and "\n" not in record.message
