import hashlib
import io

import numpy as np
import pytest
import torch

from siamese_mnist.config import CnnConfig, ModelConfig, SiameseConfig, TripletConfig
from siamese_mnist.datasets.splits import load_subset, training_pool
from siamese_mnist.errors import DeviceError, DivergedError
from siamese_mnist.losses import contrastive_loss
from siamese_mnist.models import build_model
from siamese_mnist.pairs import make_epoch_pairs, make_epoch_singles, make_epoch_triplets
from siamese_mnist.runtime import resolve_device, seed_everything
from siamese_mnist.training import Normalizer, Schedule, TrainingData, embed, to_device_images, train

CFG = ModelConfig(conv_channels=(4, 8), hidden=16, embedding_dim=2)


def test_normalizer_is_numpys_mean_and_std_bit_for_bit():
    rng = np.random.default_rng(0)
    for shape in ((300, 28, 28), (7, 5, 5)):
        images = rng.integers(0, 256, shape).astype(np.uint8)
        x = images.astype(np.float64) / 255.0
        norm = Normalizer.fit(images)
        assert (norm.mean, norm.std) == (float(x.mean()), float(x.std()))


def test_background_level_is_the_median_border_pixel():
    from siamese_mnist.datasets.splits import background_level

    # 16 border values per 4x4 image (first and last row, first and last column; corners twice)
    images = np.zeros((2, 4, 4), dtype=np.uint8)
    images[0] = 200
    images[0, 0, :3] = 0  # image 0: 4 of its 16 at 0 (3 in the row, 1 again in column 0), 12 at 200
    assert background_level(images) == 0  # 20 of 32 at 0
    images[1] = 210  # 4 at 0, 12 at 200, 16 at 210: the 16th and 17th sorted are 200 and 210
    assert background_level(images) == 205


def test_unknown_or_unavailable_device_is_refused():
    with pytest.raises(DeviceError, match="SIAMESE_MNIST_DEVICE='tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda:0")
    assert resolve_device("cpu").type == "cpu"


def test_one_step_lowers_contrastive_loss_on_a_fixed_batch():
    seed_everything(0)
    model = build_model("siamese", CFG)
    a, b = torch.randn(32, 1, 28, 28), torch.randn(32, 1, 28, 28)
    same = torch.arange(32) % 2
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()

    def loss():
        ea, eb = model.pair(a, b)
        return contrastive_loss(ea, eb, same, 1.0)

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item()


CONFIGS = {"cnn": CnnConfig(batch_size=64), "siamese": SiameseConfig(batch_size=64),
           "triplet": TripletConfig(batch_size=64), "triplet-semihard": TripletConfig(batch_size=64, mining="semihard")}


def _index(name, labels, pool):
    if name == "siamese":
        return make_epoch_pairs(labels, 2, 500, 0.5, seed=0, pool=pool)
    if name.startswith("triplet"):
        return make_epoch_triplets(labels, 2, 300, seed=0, pool=pool), None
    return make_epoch_singles(labels, 2, seed=0, pool=pool), None


def _tiny_run(raw_dir, name, holdout=(), amp=False, cfg=None):
    seed_everything(0)
    images, labels = load_subset(raw_dir, "train", 1000, 0)
    test_images, _ = load_subset(raw_dir, "test", 200, 0)
    norm = Normalizer.fit(images)
    x, y = to_device_images(images, torch.device("cpu")), torch.from_numpy(labels)
    pool = training_pool(labels, holdout)
    items, targets = _index(name, labels, pool)
    cfg = cfg or CONFIGS[name]
    model = build_model(name.split("-")[0], CFG, cfg)
    seen = []
    loss = model.loss
    model.loss = lambda out, lab, tgt: (seen.append(lab.clone()), loss(out, lab, tgt))[1]
    data = TrainingData(x, y, items, targets, norm, {"test": to_device_images(test_images, torch.device("cpu"))})
    state = train(name, model, data, cfg, Schedule(2, 0, 256, amp))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return hashlib.sha256(buf.getvalue()).hexdigest(), state, torch.cat(seen)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_tiny_training_is_byte_reproducible(raw_dir, name):
    h1, s1, _ = _tiny_run(raw_dir, name)
    h2, s2, _ = _tiny_run(raw_dir, name)
    assert h1 == h2
    assert s1.stack("test").shape == (3, 200, 2)  # epoch 0 plus 2 epochs
    assert s1.stack("test").tobytes() == s2.stack("test").tobytes()
    assert not np.array_equal(s1.stack("test")[0], s1.stack("test")[2])
    assert [h["loss"] for h in s1.history] == [h["loss"] for h in s2.history]
    assert all(np.isfinite(h["loss"]) for h in s1.history)


@pytest.mark.parametrize("name", ["cnn", "siamese", "triplet"])
def test_bf16_training_is_byte_reproducible_and_not_fp32(raw_dir, name):
    h1, s1, _ = _tiny_run(raw_dir, name, amp=True)
    h2, s2, _ = _tiny_run(raw_dir, name, amp=True)
    assert h1 == h2 and s1.stack("test").tobytes() == s2.stack("test").tobytes()
    h32, s32, _ = _tiny_run(raw_dir, name)
    assert h1 != h32  # autocast really ran the layers in bfloat16
    assert all(np.isfinite(h["loss"]) for h in s1.history)


def test_amp_auto_is_bf16_only_where_native():
    from siamese_mnist.runtime import native_bf16, resolve_amp

    cpu = torch.device("cpu")
    assert native_bf16(cpu, ["avx2", "avx512f", "avx512_bf16"]) and native_bf16(cpu, ["amx_bf16", "amx_tile"])
    assert not native_bf16(cpu, ["avx2", "avx512f"]) and not native_bf16(torch.device("mps"))
    assert resolve_amp(True, cpu) is True and resolve_amp(False, cpu) is False
    assert resolve_amp("auto", cpu) == native_bf16(cpu)


@pytest.mark.parametrize("name", ["cnn", "siamese", "triplet"])
def test_held_out_classes_never_reach_the_loss(raw_dir, name):
    _, _, seen = _tiny_run(raw_dir, name, holdout=(7, 8, 9))
    classes = set(seen.unique().tolist())
    assert classes == set(range(7)), classes  # every other class, none of 7, 8, 9


@pytest.mark.parametrize("name, cfg", [("cnn", CnnConfig(batch_size=64, rotations=True)),
                                       ("triplet", TripletConfig(batch_size=64, rotations=True, mining="semihard"))])
def test_rotations_turn_every_image_of_an_item_alike_and_make_each_turn_a_class(raw_dir, monkeypatch, name, cfg):
    import siamese_mnist.training as training

    turned = []
    real = training.turn_images
    monkeypatch.setattr(training, "turn_images", lambda x, t: (turned.append(t.clone()), real(x, t))[1])
    _, state, seen = _tiny_run(raw_dir, name, cfg=cfg)
    assert set(seen.unique().tolist()) == set(range(40))  # 10 digits x 4 turns, each a class of its own
    k = seen.shape[1]
    per_image = torch.cat([t.view(k, -1).T for t in turned])  # slot-major per step -> (items, k)
    assert torch.equal(per_image, seen % 4)  # the turn each image got is its label's turn ...
    assert torch.equal(per_image, per_image[:, :1].expand_as(per_image))  # ... the same for every image of an item
    assert all(np.isfinite(h["loss"]) for h in state.history)
    if name == "cnn":
        assert build_model("cnn", CFG, cfg).classifier.out_features == 40


def test_cnn_epoch_items_are_the_pool_only_in_a_fresh_order_each_epoch():
    labels = np.array([0, 7, 1, 8, 2, 9, 0, 1, 2, 0])
    pool = training_pool(labels, (7, 8, 9))
    assert pool.tolist() == [0, 2, 4, 6, 7, 8, 9]
    items = make_epoch_singles(labels, 3, seed=0, pool=pool)
    assert items.shape == (3, 7, 1) and items.dtype == np.int32
    assert all(sorted(items[e, :, 0].tolist()) == pool.tolist() for e in range(3))
    assert items[0].tobytes() != items[1].tobytes()


def test_embed_in_batches_equals_one_eval_pass_and_restores_train_mode():
    # 7 images in batches of 3 (3 + 3 + 1): every row lands in its own place, batch-norm uses its running
    # statistics (eval mode) and the model is back in train mode afterwards.
    seed_everything(0)
    model = build_model("siamese", CFG)
    images = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    norm = Normalizer.fit(images.numpy())
    model.train()
    out = embed(model, images, norm, batch_size=3)
    assert model.training
    model.eval()
    with torch.no_grad():
        expected = model.embed(norm(images)).numpy()
    assert out.dtype == np.float32 and out.shape == (7, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no images"):
        embed(model, images[:0], norm, batch_size=3)


def test_a_non_finite_loss_stops_training_at_that_epoch_naming_the_params(raw_dir):
    images, labels = load_subset(raw_dir, "train", 300, 0)
    x, y = to_device_images(images, torch.device("cpu")), torch.from_numpy(labels)
    cfg = CnnConfig(batch_size=100)
    model = build_model("cnn", CFG, cfg)
    steps = []
    loss = model.loss

    def diverging(out, lab, tgt):  # steps 1-3 are epoch 1; the 5th step (epoch 2) diverges
        steps.append(len(lab))
        return loss(out, lab, tgt) * (float("nan") if len(steps) == 5 else 1.0)

    model.loss = diverging
    data = TrainingData(x, y, make_epoch_singles(labels, 3, seed=0), None, Normalizer.fit(images),
                        {"test": x[:10]})
    seen = []
    with pytest.raises(DivergedError, match=r"^cnn epoch 2: training loss nan \(diverged\); look at cnn.lr \(0.003\), "
                                            r"cnn.weight_decay and the model's params; nothing of this epoch was saved$"):
        train("cnn", model, data, cfg, Schedule(3, 0, 256), on_epoch_end=[lambda st, *_: seen.append(st.epoch)])
    assert seen == [0, 1] and len(steps) == 6  # epoch 2 ran to its end, then stopped before its callbacks


@pytest.mark.parametrize("holdout", [(), (7, 8, 9)])
def test_validation_dumps_only_the_classes_trained_on(raw_dir, tmp_path, holdout):
    # 1 000 training images, a tenth of them validation (100, stratified: about ten per digit); with digits
    # 7-9 held out, the validation dump keeps the 0-6 ones (in their order) and drops the rest; without,
    # all of them. The fit and test dumps keep every class (the probes and the held-out metrics need them).
    from siamese_mnist.atomic import write_npz
    from siamese_mnist.config import params_from_dict
    from siamese_mnist.datasets.splits import load_train_val
    from siamese_mnist.training import prepare_training

    p = params_from_dict({"data": {"train_limit": 1000, "test_limit": 200, "val_size": 0.1,
                                   "holdout_classes": list(holdout)}, "train": {"epochs": 1},
                          "render": {"epochs": [0, 1]}})
    write_npz(tmp_path / "index.npz", items=np.zeros((1, 10, 1), dtype=np.int32))
    data = prepare_training(str(raw_dir), str(tmp_path / "index.npz"), p, torch.device("cpu"))
    _, (val_images, val_labels) = load_train_val(raw_dir, 1000, 0.1, p.seed)
    keep = ~np.isin(val_labels, holdout)
    assert len(val_labels) == 100 and (keep.sum() == 100 if not holdout else 60 <= keep.sum() <= 80)  # ~10 a digit
    assert data.dump_labels["val"].tolist() == val_labels[keep].tolist()
    assert torch.equal(data.dump_sets["val"].cpu(), torch.from_numpy(val_images[keep]).unsqueeze(1))
    assert set(data.dump_labels["fit"].tolist()) == set(range(10)) == set(data.dump_labels["test"].tolist())
    assert not set(data.dump_labels["val"].tolist()) & set(holdout)
