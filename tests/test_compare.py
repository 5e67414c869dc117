"""`python -m siamese_mnist compare`: the real command line on real MNIST images and a saved model."""

import copy
import functools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from siamese_mnist.atomic import save_checkpoint
from siamese_mnist.checkpointing import training_config
from siamese_mnist.compare import load_image
from siamese_mnist.compare import main as compare_main
from siamese_mnist.config import ModelConfig, Params
from siamese_mnist.datasets.splits import load_split
from siamese_mnist.models import build_model

SMALL = ModelConfig(conv_channels=(4, 8), hidden=16)


def save_small_model(folder) -> None:
    """``folder``/models/: a small untrained Siamese model as the train stage saves one, and its probe (threshold 0.5)."""
    torch.manual_seed(0)
    params = Params(model=SMALL)
    model = build_model("siamese", SMALL, params.siamese)
    (folder / "models").mkdir()
    save_checkpoint(folder / "models/siamese.pt", {
        "model": "siamese", "state_dict": model.state_dict(), "config": training_config("siamese", params),
        "normalizer": [0.13, 0.31]})
    (folder / "models/siamese_probe.json").write_text(json.dumps({"threshold": 0.5}))


@pytest.fixture
def workdir(tmp_path, raw_dir):
    """A folder laid out like the repo after `dvc repro`: models/ (weights, probe), data/raw, two test digits."""
    save_small_model(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/raw").symlink_to(raw_dir)
    images, _ = load_split(raw_dir, "test")
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    Image.fromarray(images[0]).save(tmp_path / "a_copy.png")
    Image.fromarray(images[0]).convert("RGB").save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return tmp_path


def compare(cwd, *args):
    return subprocess.run([sys.executable, "-m", "siamese_mnist", "compare", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_identical_images_are_the_same(workdir):
    out = compare(workdir, "a.png", "a_copy.png")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(": same")
    assert "distance 0.0000, threshold 0.5000 (models/siamese_probe.json)" in out.stdout


def test_colour_palette_alpha_and_16_bit_copies_of_a_digit_give_the_same_pixels(workdir, raw_dir):
    digit = load_split(raw_dir, "test")[0][0]
    pal = Image.fromarray(digit, "P")
    pal.putpalette([level for i in range(256) for level in (i, i, i)])  # index i is grey level i
    pal.save(workdir / "p.png")
    Image.fromarray(digit).convert("RGBA").save(workdir / "rgba.png")  # opaque: alpha 255 keeps each level
    Image.fromarray(digit.astype(np.uint16) * 257).save(workdir / "deep.png")  # 16-bit: v * 257 * 255 / 65535 = v
    for name in ("a.png", "rgb.png", "p.png", "rgba.png", "deep.png"):
        assert np.array_equal(load_image(workdir / name), digit), name  # R = G = B = v has luma v
    assert load_image(workdir / "big.png").tolist() == [[0] * 28] * 28  # 32x32 black: resized, not refused
    out = compare(workdir, "rgb.png", "a.png")
    assert out.returncode == 0, out.stderr
    assert "distance 0.0000" in out.stdout and out.stdout.strip().endswith(": same")


def test_test_set_indices_are_read_from_data_raw(workdir):
    out = compare(workdir, "0", "0")
    assert out.returncode == 0, out.stderr
    assert "test #0 (class 7)" in out.stdout and out.stdout.strip().endswith(": same")


@pytest.mark.parametrize("args, message", [
    (["broken.png", "a.png"], "error: broken.png: not a readable image"),
    (["missing.png", "a.png"], "error: missing.png: no such file"),
    (["a.png", "a.png", "--model", "models/none.pt"], "error: models/none.pt: no trained model"),
    (["0", "10000"], "error: test index 10000 is out of range; the test split has 10000 images"),
])
def test_bad_input_exits_2_with_one_clear_line(workdir, args, message):
    out = compare(workdir, *args)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# Crafted but safe files: each loads (torch's weights_only, json) and is wrong in one field compare reads.
DROP = object()  # as a value: remove the item instead
W = "embedding.head.2.bias"  # the last layer's bias: (embedding_dim,) = (2,)
MISMATCH = ("size mismatch for embedding.head.2.bias: copying a param with shape torch.Size([3]) from checkpoint, "
            "the shape in current model is torch.Size([2]).")


def edited(ck: dict, keys: tuple, value) -> object:
    """A copy of checkpoint ``ck`` with the item at ``keys`` set to ``value`` (or removed); ``()`` replaces it all."""
    if not keys:
        return value
    ck = copy.deepcopy(ck)
    *parents, last = keys
    inner = functools.reduce(lambda d, k: d[k], parents, ck)
    if value is DROP:
        del inner[last]
    else:
        inner[last] = value
    return ck


def run_here(cwd, monkeypatch, capfd, *args) -> tuple[int, str, str]:
    """The command in this process: 50 interpreter start-ups with torch would take minutes. Warnings are
    errors here (filterwarnings below), so what a subprocess would add to stderr fails the test too."""
    monkeypatch.chdir(cwd)
    rc = compare_main(list(args))
    out, err = capfd.readouterr()
    return rc, out, err


CHECKPOINTS = [
    ((), [1, 2], "not a model written by the train stage (it holds a list)"),
    (("state_dict",), DROP, "state_dict missing"),
    (("state_dict",), [torch.zeros(2)], "state_dict <list> should be a dict"),
    (("config",), DROP, "config missing"),
    (("config",), ["model"], "config <list> should be a dict"),
    (("config", "model"), DROP, "config.model missing"),
    (("config", "model", "embedding_dim"), DROP, "config.model.embedding_dim missing"),
    (("config", "siamese", "block"), "pool_first", "config.siamese.block: 'pool_first' is not one of "
     "conv_bn_relu_pool, conv_pool_bn_relu"),
    (("config", "model", "hidden"), "16", "config.model.hidden: '16' should be an integer"),
    (("config", "model", "hidden"), 0, "config.model.hidden: 0 is out of range; allowed >= 1"),
    (("config", "model", "conv_channels"), torch.zeros(2, 2),
     "config.model.conv_channels: tensor([[0., 0.], [0., 0.]]) should be a list"),
    (("config", "model", "hidden"), 2**40, "state_dict does not fit config.model: size mismatch for "
     "embedding.head.0.weight: copying a param with shape torch.Size([16, 128]) from checkpoint, the shape in "
     "current model is torch.Size([1099511627776, 128])."),  # 4 PiB as config.model says it: never allocated
    (("config", "model", "hidden"), 2**62, "config.model: sizes too large to build a model"),
    (("config", "siamese", "margin"), -1.0, "config.siamese.margin: -1.0 is out of range; allowed > 0"),
    (("model",), DROP, "model missing"),
    (("model",), "resnet", "model 'resnet' is not one of cnn, siamese, triplet"),
    (("normalizer",), DROP, "normalizer missing"),
    (("normalizer",), 0.31, "normalizer 0.31 should be a list"),
    (("normalizer",), [0.13], "normalizer should be [mean, std], not 1 values"),
    (("normalizer",), ["0.13", 0.31], "normalizer.mean '0.13' should be a number"),
    (("normalizer",), [float("nan"), 0.31], "normalizer.mean nan is not a finite number"),
    (("normalizer",), [0.13, 0.0], "normalizer.std 0.0 is out of range; allowed 1e-06..1.0"),  # ZeroDivisionError
    (("normalizer",), [0.13, -0.31], "normalizer.std -0.31 is out of range; allowed 1e-06..1.0"),
    (("input",), [28], "input <list> should be a dict"),
    (("input",), {"image_size": 10**9}, "input.image_size 1000000000 is out of range; allowed 16..256"),
    (("input",), {"image_size": 28.0}, "input.image_size 28.0 should be an integer"),
    (("input",), {"classes": "0123"}, "input.classes '0123' should be a list"),
    (("input",), {"classes": [0, 1]}, "input.classes should list two or more class names"),
    (("state_dict", W), DROP, 'state_dict does not fit config.model: Missing key(s) in state_dict: '
     '"embedding.head.2.bias".'),
    (("state_dict", "extra"), torch.zeros(1),
     'state_dict does not fit config.model: Unexpected key(s) in state_dict: "extra".'),
    (("state_dict", 3), torch.zeros(1), "state_dict key 3 is not a weight name"),
    (("state_dict", W), torch.zeros(3), f"state_dict does not fit config.model: {MISMATCH}"),
    (("state_dict", W), [0.0, 0.0], 'state_dict does not fit config.model: While copying the parameter named '
     '"embedding.head.2.bias", expected torch.Tensor or Tensor-like object from checkpoint but received '
     "<class 'list'>"),
    (("state_dict", W), torch.zeros(2, dtype=torch.float64), "state_dict.embedding.head.2.bias is torch.float64 "
     "(torch.strided); the model needs torch.float32 (torch.strided)"),
    (("state_dict", W), torch.zeros(2).to_sparse(), "state_dict.embedding.head.2.bias is torch.float32 "
     "(torch.sparse_coo); the model needs torch.float32 (torch.strided)"),
    (("state_dict", W), torch.tensor([float("nan"), 0.0]), "state_dict.embedding.head.2.bias holds a non-finite value"),
    (("state_dict", "embedding.head.0.weight"), torch.full((16, 128), 3e38),  # finite, but overflows float32
     "state_dict gives non-finite embeddings; the weights are unusable"),
]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("keys, value, message", CHECKPOINTS, ids=[m[:50] for *_, m in CHECKPOINTS])
def test_crafted_checkpoint_exits_2_naming_the_field(workdir, monkeypatch, capfd, keys, value, message):
    ck = torch.load(workdir / "models/siamese.pt", weights_only=True)
    torch.save(edited(ck, keys, value), workdir / "models/siamese.pt")
    rc, out, err = run_here(workdir, monkeypatch, capfd, "a.png", "a_copy.png")
    assert (rc, out, err) == (2, "", f"error: models/siamese.pt: {message}\n")


@pytest.mark.filterwarnings("error")
def test_a_checkpoint_saved_before_the_block_param_existed_loads_as_the_block_there_was(workdir, monkeypatch, capfd):
    rc, out, _ = run_here(workdir, monkeypatch, capfd, "0", "1")
    ck = torch.load(workdir / "models/siamese.pt", weights_only=True)
    assert ck["config"]["siamese"]["block"] == "conv_bn_relu_pool" and "block" not in ck["config"]["model"]
    old = edited(ck, ("config", "siamese", "block"), DROP)  # before the choice existed: no block anywhere
    torch.save(old, workdir / "models/siamese.pt")
    assert run_here(workdir, monkeypatch, capfd, "0", "1") == (rc, out, "") and rc == 0
    torch.save(edited(old, ("config", "model", "block"), "conv_bn_relu_pool"), workdir / "models/siamese.pt")
    assert run_here(workdir, monkeypatch, capfd, "0", "1") == (rc, out, "")  # when it sat in config.model
    for where in (("config", "model", "block"), ("config", "siamese", "block")):
        torch.save(edited(old, where, "conv_pool_bn_relu"), workdir / "models/siamese.pt")
        rc2, _, err = run_here(workdir, monkeypatch, capfd, "0", "1")  # the other block's layers are named apart
        assert rc2 == 2 and "state_dict does not fit config.model" in err


PROBES = [
    ('{"logreg_c": 1.0}', "threshold missing"),
    ('{"threshold": "0.5"}', "threshold '0.5' should be a number"),
    ('{"threshold": true}', "threshold True should be a number"),
    ('{"threshold": null}', "threshold None should be a number"),
    ('{"threshold": [0.5]}', "threshold <list> should be a number"),
    ('{"threshold": NaN}', "threshold nan is not a finite number"),  # "different" for every pair, silently
    ('{"threshold": Infinity}', "threshold inf is not a finite number"),
    ('{"threshold": -Infinity}', "threshold -inf is not a finite number"),
    ('{"threshold": 1e999}', "threshold inf is not a finite number"),
    ('{"threshold": 1' + "0" * 400 + "}", "threshold <int> is not a finite number"),  # float() overflows
    ("threshold: 0.5", "not a readable JSON file (Expecting value: line 1 column 1 (char 0))"),
    ("", "not a readable JSON file (Expecting value: line 1 column 1 (char 0))"),
    (b"\xff\xfe{}", "not a readable JSON file ('utf-8' codec can't decode byte 0xff in position 0: "
     "invalid start byte)"),
    ("[" * 100_000, "not a readable JSON file (maximum recursion depth exceeded while decoding a JSON array "
     "from a unicode string)"),
    ("[0.5]", "should hold a JSON object with a threshold, not a list"),
    ('"0.5"', "should hold a JSON object with a threshold, not a str"),
]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("text, message", PROBES, ids=[m[:50] for _, m in PROBES])
def test_crafted_probe_exits_2_naming_the_field(workdir, monkeypatch, capfd, text, message):
    probe = workdir / "models/siamese_probe.json"
    probe.write_bytes(text if isinstance(text, bytes) else text.encode())
    rc, out, err = run_here(workdir, monkeypatch, capfd, "a.png", "a_copy.png")
    assert (rc, out, err) == (2, "", f"error: models/siamese_probe.json: {message}\n")


@pytest.mark.parametrize("probe, verdict", [('{"threshold": -1.0}', "threshold -1.0000 (models/siamese_probe.json): "
                                             "different"),  # probe.REJECT_ALL: a valid "never same"
                                            ('{"threshold": 1}', "threshold 1.0000 (models/siamese_probe.json): same")])
def test_any_finite_threshold_is_used(workdir, monkeypatch, capfd, probe, verdict):
    (workdir / "models/siamese_probe.json").write_text(probe)
    rc, out, err = run_here(workdir, monkeypatch, capfd, "a.png", "a_copy.png")
    assert (rc, err) == (0, "") and out.endswith(f"distance 0.0000, {verdict}\n")


def test_class_names_that_do_not_cover_the_test_labels_show_the_label(workdir, monkeypatch, capfd):
    ck = torch.load(workdir / "models/siamese.pt", weights_only=True)
    torch.save({**ck, "input": {"image_size": 28, "classes": ["a", "b"]}}, workdir / "models/siamese.pt")
    rc, out, err = run_here(workdir, monkeypatch, capfd, "0", "0")  # test image 0 is a 7
    assert (rc, err) == (0, "") and out.startswith("test #0 (class 7)  vs  test #0 (class 7)\n")


def test_crafted_files_through_the_real_command_line(workdir):
    """The same promise end to end: one line, exit 2, no traceback, no torch warning (a sparse tensor makes one)."""
    ck = torch.load(workdir / "models/siamese.pt", weights_only=True)
    torch.save(edited(ck, ("state_dict", W), torch.zeros(2).to_sparse()), workdir / "models/sparse.pt")
    (workdir / "models/sparse_probe.json").write_text('{"threshold": 0.5}')
    (workdir / "nan.json").write_text('{"threshold": NaN}')
    for args, message in [(["--model", "models/sparse.pt"], "error: models/sparse.pt: state_dict.embedding.head.2.bias "
                           "is torch.float32 (torch.sparse_coo); the model needs torch.float32 (torch.strided)\n"),
                          (["--probe", "nan.json"], "error: nan.json: threshold nan is not a finite number\n")]:
        out = compare(workdir, "a.png", "a_copy.png", *args)
        assert (out.returncode, out.stdout, out.stderr) == (2, "", message)


def test_test_indices_into_data_of_another_image_size_exit_2(workdir, monkeypatch, capfd):
    params = Params(model=SMALL)
    model = build_model("siamese", SMALL, params.siamese, 32)  # a folder model of 32x32 images; data/raw is MNIST
    torch.save({"model": "siamese", "state_dict": model.state_dict(), "config": training_config("siamese", params),
                "normalizer": [0.13, 0.31], "input": {"image_size": 32, "classes": list("0123456789")}},
               workdir / "models/siamese.pt")
    assert run_here(workdir, monkeypatch, capfd, "a.png", "big.png")[0] == 0  # files are resized to 32x32
    rc, out, err = run_here(workdir, monkeypatch, capfd, "0", "1")
    assert (rc, out, err) == (2, "", "error: data/raw: test images are 28x28; the model takes 32x32\n")


def _unreadable_inputs(workdir) -> list[tuple[list[str], str]]:
    """(arguments, stderr) for each kind of file that is not an image or not a checkpoint."""
    import os
    import zipfile

    (workdir / "folder").mkdir()
    os.mkfifo(workdir / "fifo")  # a read would block for ever
    (workdir / "notes.txt").write_text("hello\n")
    with open(workdir / "huge.png", "wb") as f:  # sparse: 2**28 + 1 bytes of zeros on disk take no room
        f.truncate(256 * 2**20 + 1)
    with zipfile.ZipFile(workdir / "other.zip", "w") as z:
        z.writestr("a.txt", "not torch")
    torch.save({"f": functools.partial(int)}, workdir / "code.pt")  # pickled code: weights_only refuses it
    limit = 256 * 2**20
    return [
        (["folder", "a.png"], "folder: is a folder, not an image"),
        (["fifo", "a.png"], "fifo: not a regular file (a FIFO, socket or device), not an image"),
        (["notes.txt", "a.png"], "notes.txt: not a readable image (no format Pillow knows)"),
        (["huge.png", "a.png"], f"huge.png: {limit + 1} bytes, over the limit of {limit} for an image"),
        (["0", "1", "--model", "a.png"], "a.png: not a model checkpoint (a .pt file the train stage writes, "
                                         "e.g. models/siamese.pt)"),
        (["0", "1", "--model", "other.zip"], "other.zip: not a model checkpoint (a zip without torch.save's data.pkl)"),
        (["0", "1", "--model", "folder"], "folder: is a folder, not a model checkpoint"),
        (["0", "1", "--model", "fifo"], "fifo: not a regular file (a FIFO, socket or device), not a model checkpoint"),
        (["0", "1", "--model", "code.pt"], "code.pt: holds objects other than tensors and plain data; refused, as "
                                           "loading it could run code (a checkpoint the train stage wrote holds none)"),
    ]


@pytest.mark.filterwarnings("error")
def test_folders_fifos_non_images_huge_files_and_non_checkpoints_are_one_line_each(workdir, monkeypatch, capfd):
    for args, message in _unreadable_inputs(workdir):
        rc, out, err = run_here(workdir, monkeypatch, capfd, *args)
        assert (rc, out) == (2, ""), args
        assert err.startswith(f"error: {message}") and err.count("\n") == 1, (args, err)
