import torch

from siamese_mnist.config import ModelConfig
from siamese_mnist.models import CNN, Siamese, build_model

CFG = ModelConfig(conv_channels=(4, 8), hidden=16, embedding_dim=2)


def test_output_shapes():
    x = torch.randn(5, 1, 28, 28)
    cnn = CNN(CFG)
    assert cnn(x).shape == (5, 10)
    assert cnn.embed(x).shape == (5, 2)
    ea, eb = Siamese(CFG)(x, x[:5])
    assert ea.shape == (5, 2) and eb.shape == (5, 2)


def test_cnn_head_is_linear_on_the_bottleneck():
    cnn = CNN(CFG).eval()
    x = torch.randn(3, 1, 28, 28)
    e = cnn.embed(x)
    assert torch.allclose(cnn(x), e @ cnn.classifier.weight.T + cnn.classifier.bias)
    assert (e < 0).any(), "no ReLU may clip the embedding to one quadrant"


def test_siamese_tower_is_shared():
    model = Siamese(CFG).eval()
    x = torch.randn(4, 1, 28, 28)
    ea, eb = model(x, x)
    assert torch.allclose(ea, eb)
    assert torch.allclose(ea, model.embed(x))


def test_build_model_rejects_unknown_name():
    import pytest
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet", CFG)
