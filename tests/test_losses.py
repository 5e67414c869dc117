import torch

from siamese_mnist.losses import contrastive_loss, pair_distance


def pts(*xy):
    return torch.tensor(xy, dtype=torch.float64)


def test_contrastive_loss_matches_hand_computed_values():
    a = pts([0, 0], [0, 0], [0, 0], [0, 0], [1, 1], [1, 1])
    b = pts([3, 4], [3, 4], [0.3, 0.4], [0.3, 0.4], [1, 1], [1, 1])
    same = torch.tensor([1, 0, 1, 0, 1, 0])
    # d = 5, 5, 0.5, 0.5, 0, 0 with margin 1:
    #   same d=5: ½·25 = 12.5   diff d=5 > m: 0   same d=.5: ½·.25 = .125
    #   diff d=.5: ½·(1-.5)² = .125   same d=0: 0   diff d=0: ½·1² = .5
    each = [12.5, 0.0, 0.125, 0.125, 0.0, 0.5]
    for i, want in enumerate(each):
        got = contrastive_loss(a[i:i + 1], b[i:i + 1], same[i:i + 1], margin=1.0)
        assert abs(got.item() - want) < 1e-9, (i, got.item(), want)
    assert abs(contrastive_loss(a, b, same, 1.0).item() - sum(each) / 6) < 1e-9
    # margin 2 moves the negative at d=0.5: ½·1.5² = 1.125
    assert abs(contrastive_loss(a[3:4], b[3:4], same[3:4], 2.0).item() - 1.125) < 1e-9


def test_gradient_is_finite_at_zero_distance():
    for y in (0, 1):
        a = torch.zeros(1, 2, requires_grad=True)
        b = torch.zeros(1, 2, requires_grad=True)
        contrastive_loss(a, b, torch.tensor([y]), 1.0).backward()
        assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    d = pair_distance(pts([0, 0]), pts([3, 4]))
    assert d.item() == 5.0
