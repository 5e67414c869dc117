import numpy as np
import pytest
import torch

from siamese_mnist.config import ModelConfig
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
