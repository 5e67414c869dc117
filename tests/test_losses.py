import pytest
import torch

from siamese_mnist.losses import batch_triplet_loss, contrastive_loss, pair_distance, triplet_loss


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


def test_triplet_loss_matches_hand_computed_values():
    a = pts([0, 0], [0, 0], [0, 0])
    p = pts([3, 4], [0.6, 0.8], [0, 0])
    n = pts([0, 1], [6, 8], [0, 0.5])
    # d(a,p) = 5, 1, 0; d(a,n) = 1, 10, 0.5; margin 1: max(0, 5-1+1) = 5, max(0, 1-10+1) = 0, max(0, 0-.5+1) = .5
    each = [5.0, 0.0, 0.5]
    for i, want in enumerate(each):
        assert abs(triplet_loss(a[i:i + 1], p[i:i + 1], n[i:i + 1], 1.0).item() - want) < 1e-12
    assert abs(triplet_loss(a, p, n, 1.0).item() - sum(each) / 3) < 1e-12
    ref = torch.nn.TripletMarginLoss(margin=1.0, eps=0.0)(a, p, n)
    assert abs(ref.item() - sum(each) / 3) < 1e-12  # PyTorch's own loss agrees


def test_mined_negatives_are_the_hand_picked_ones():
    a = pts([0, 0], [10, 0])  # two anchors of class 0
    p = pts([1, 0], [10, 1])  # d(a, p) = 1 for both
    n = pts([0, 2], [0, 3])   # class 1
    labels = torch.tensor([[0, 0, 1], [0, 0, 1]])
    # anchor 0: class-1 candidates among all six embeddings are at d = 2 and 3
    #   hardest and semi-hard both pick d = 2: max(0, 1 - 2 + 1) = 0
    # anchor 1 at (10, 0): candidates at d = sqrt(104), sqrt(109): 0 either way
    assert batch_triplet_loss(a, p, n, labels, 1.0, "hardest").item() == 0.0
    # move the first negative to (0, 0.5): hardest takes d = 0.5 -> 1 - 0.5 + 1 = 1.5 (mean over 2 anchors: 0.75);
    # semi-hard skips it (0.5 < d(a,p) = 1) and takes d = 3 -> 0
    n = pts([0, 0.5], [0, 3])
    assert abs(batch_triplet_loss(a, p, n, labels, 1.0, "hardest").item() - 0.75) < 1e-12
    assert batch_triplet_loss(a, p, n, labels, 1.0, "semihard").item() == 0.0
    # no negative farther than the positive: semi-hard falls back to the farthest negative, d = 1
    one = torch.tensor([[0, 0, 1]])
    assert abs(batch_triplet_loss(pts([0, 0]), pts([9, 0]), pts([0, 1]), one, 1.0, "semihard").item() - 9) < 1e-12
    assert batch_triplet_loss(a, p, n, labels, 1.0, "none").item() == triplet_loss(a, p, n, 1.0).item()


def test_contrastive_gradient_pushes_negatives_inside_the_margin_apart_and_pulls_positives_together():
    # a = (0, 0), b = (0.3, 0.4): d = 0.5, unit direction from a to b u = (0.6, 0.8)
    #   negative, margin 1: L = ½(1 - d)², dL/dd = -(1 - d) = -0.5, so dL/db = -0.5·u = (-0.3, -0.4):
    #   a descent step moves b away from a (and a away from b)
    #   positive: L = ½d², dL/db = b - a = (0.3, 0.4): a descent step moves b towards a
    #   negative beyond the margin (margin 0.4 < d): no gradient at all
    for same, margin, want_b in ((0, 1.0, [-0.3, -0.4]), (1, 1.0, [0.3, 0.4]), (0, 0.4, [0.0, 0.0])):
        a = pts([0, 0]).requires_grad_()
        b = pts([0.3, 0.4]).requires_grad_()
        contrastive_loss(a, b, torch.tensor([same]), margin).backward()
        assert torch.allclose(b.grad, pts(want_b)), (same, margin, b.grad)
        assert torch.allclose(a.grad, -pts(want_b)), (same, margin, a.grad)


def test_mining_none_semihard_and_hardest_give_three_different_hand_computed_losses():
    # slot labels: triplet 1 = (class 0, class 0, class 1), triplet 2 = (class 2, class 2, class 1)
    a = pts([0, 0], [0, 1.5])
    p = pts([1, 0], [0, 2.5])    # d(a, p) = 1 for both
    n = pts([5, 0], [0, -0.5])   # the given negatives: d(a, n) = 5 and 2
    labels = torch.tensor([[0, 0, 1], [2, 2, 1]])
    # anchor 1 (class 0) sees other-class embeddings at d = 5, 1.5, 2.5, 0.5
    #   none: max(0, 1 - 5 + 1) = 0; hardest: d = 0.5 -> 1.5; semihard (closest beyond d(a, p) = 1): 1.5 -> 0.5
    # anchor 2 (class 2) sees other-class embeddings at d = 1.5, 1.80, 5.22, 2
    #   none: max(0, 1 - 2 + 1) = 0; hardest: d = 1.5 -> 0.5; semihard: d = 1.5 -> 0.5
    want = {"none": 0.0, "semihard": (0.5 + 0.5) / 2, "hardest": (1.5 + 0.5) / 2}
    for mining, value in want.items():
        assert abs(batch_triplet_loss(a, p, n, labels, 1.0, mining).item() - value) < 1e-12, mining


def test_batch_hard_contrastive_takes_each_images_farthest_positive_and_nearest_negative():
    from siamese_mnist.losses import batch_hard_contrastive_loss

    # on a line: class 0 at 0, 1, 3; class 1 at 4; margin 2.
    # image 0: farthest positive 3 (d² 9), nearest negative 4 (max(0, 2 - 4)² = 0) -> 9
    # image 1: farthest positive 3 (d 2, d² 4), nearest negative 4 (d 3 -> 0) -> 4
    # image 3: farthest positive 0 (d² 9), nearest negative 4 (d 1 -> (2 - 1)² = 1) -> 10
    # image 4: no positive (term left out), nearest negative 3 (d 1 -> 1) -> 1
    # mean of ½ · (9 + 4 + 10 + 1) = 3
    x = torch.tensor([[0.0], [1.0], [3.0], [4.0]], requires_grad=True)
    loss = batch_hard_contrastive_loss(x, torch.tensor([0, 0, 0, 1]), margin=2.0)
    assert loss.item() == pytest.approx(3.0)
    loss.backward()
    assert torch.isfinite(x.grad).all()
    # one class only: no negatives anywhere, every image's term is its farthest positive alone
    assert batch_hard_contrastive_loss(x, torch.zeros(4, dtype=torch.long), 2.0).item() == pytest.approx(
        0.5 * (16 + 9 + 9 + 16) / 4)
