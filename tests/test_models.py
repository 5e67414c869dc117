import numpy as np
import pytest
import torch

from siamese_mnist.config import ModelConfig, SiameseConfig
from siamese_mnist.models import CNN, Siamese, Triplet, build_model

CFG = ModelConfig(conv_channels=(4, 8), hidden=16, embedding_dim=2)


def test_output_shapes():
    x = torch.randn(5, 1, 28, 28)
    cnn = CNN(CFG)
    assert cnn(x).shape == (5, 10)
    assert cnn.embed(x).shape == (5, 2)
    ea, eb = Siamese(CFG).pair(x, x[:5])
    assert ea.shape == (5, 2) and eb.shape == (5, 2)
    a, p, n = Triplet(CFG).slots(Triplet(CFG)(torch.cat([x, x, x])))
    assert a.shape == p.shape == n.shape == (5, 2)


def test_cnn_head_is_linear_on_the_bottleneck():
    torch.manual_seed(0)  # unseeded, 3 random inputs gave an all-positive embedding in about 1 run of 3
    cnn = CNN(CFG).eval()
    x = torch.randn(3, 1, 28, 28)
    e = cnn.embed(x)
    assert torch.allclose(cnn(x), e @ cnn.classifier.weight.T + cnn.classifier.bias)
    assert (e < 0).any(), "no ReLU may clip the embedding to one quadrant"


def test_siamese_tower_is_shared():
    model = Siamese(CFG).eval()
    x = torch.randn(4, 1, 28, 28)
    ea, eb = model.pair(x, x)
    assert torch.allclose(ea, eb)
    assert torch.allclose(ea, model.embed(x))


def test_build_model_rejects_unknown_name():
    import pytest
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet", CFG)


def test_every_model_in_the_params_has_a_class_and_a_section():
    from siamese_mnist.config import MODELS, Params
    from siamese_mnist.models import MODEL_CLASSES
    assert set(MODELS) == set(MODEL_CLASSES)
    for name in MODELS:
        section = Params().section(name)
        model = build_model(name, CFG, section)
        k = model.images_per_item
        labels = np.repeat(np.arange(10), 5)
        index = type(model).sample(labels, 2, section, 0, np.arange(len(labels)))
        assert index["items"].shape[0] == 2 and index["items"].shape[2] == k and index["items"].dtype == np.int32
        assert ("targets" in index) == (name == "siamese")  # the contrastive loss needs same/different flags


def test_the_tower_adapts_to_the_image_size_and_the_cnn_to_the_class_count():
    cfg = ModelConfig()
    for size, side in ((16, 1), (28, 4), (32, 5), (64, 13), (105, 23)):  # ((s - 4) // 2 - 4) // 2
        model = build_model("cnn", cfg, image_size=size, num_classes=7)
        assert model.embedding.head[0].in_features == 64 * side * side
        with torch.no_grad():
            model.eval()
            assert model(torch.zeros(2, 1, size, size)).shape == (2, 7)
            assert model.embed(torch.zeros(2, 1, size, size)).shape == (2, 2)
    with pytest.raises(ValueError, match="image size 15 is too small"):
        build_model("siamese", cfg, image_size=15)


def _relu_before_pool(model):
    """The default block as written (conv, batch-norm, ReLU, max-pool), as every model ran before the
    pool moved ahead of the ReLU."""
    f = model.embedding.features
    model.embedding.features = torch.nn.Sequential(f[0], f[1], f[3], f[2], f[4], f[5], f[7], f[6], f[8])
    assert [type(m).__name__ for m in model.embedding.features[:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    return model


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
def test_pooling_before_the_relu_gives_the_same_bits_forward_backward_and_eval(amp):
    """Max-pool and ReLU commute exactly (ReLU is monotone; every window whose max is <= 0 gets no gradient
    either way), so the faster order must leave the default model's numbers untouched, bit for bit."""
    import copy

    torch.manual_seed(0)
    new = build_model("cnn", ModelConfig()).to(memory_format=torch.channels_last)
    old = _relu_before_pool(copy.deepcopy(new))
    x = torch.randn(64, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,))
    pooled = []  # the default block's max-pool outputs: a window whose max is <= 0 is the case that needs the argument
    new.embedding.features[2].register_forward_hook(lambda m, i, out: pooled.append(out.detach().clone()))
    runs = []
    for model in (new, old):
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        torch.nn.functional.cross_entropy(out.float(), y).backward()
        model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            emb = model.embed(x)
        runs.append([out.detach(), emb, *(p.grad for p in model.parameters()), *model.buffers()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert len(runs[0]) == 2 + 12 + 6  # outputs, 12 gradients, batch-norm running statistics
    assert (pooled[0] <= 0).float().mean() > 0.01  # windows whose max is <= 0 (6 %) were among those compared


def test_pool_before_batch_norm_is_another_model_with_the_same_weights():
    torch.manual_seed(0)
    default = build_model("siamese", CFG)
    pool_first = build_model("siamese", CFG, SiameseConfig(block="conv_pool_bn_relu"))
    kinds = [type(m).__name__ for m in pool_first.embedding.features]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] * 2 + ["Flatten"]
    shapes = {k: v.shape for k, v in default.state_dict().items()}
    assert sorted(shapes.values()) == sorted(v.shape for v in pool_first.state_dict().values())
    pool_first.load_state_dict({k.replace("features.1.", "features.2.").replace("features.5.", "features.6."): v
                                for k, v in default.state_dict().items()})
    x = torch.randn(6, 1, 28, 28)
    assert pool_first.embed(x).shape == (6, 2)
    assert not torch.allclose(pool_first.train().embed(x), default.train().embed(x))  # BN statistics differ
