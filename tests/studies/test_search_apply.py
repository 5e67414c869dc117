"""`search apply`: the winners written into params.yaml, every other line kept."""

import pytest
from search_common import APPLY_AFTER, APPLY_BEFORE

from siamese_mnist.studies.search.spec import SearchError


def test_apply_writes_each_winner_into_its_section_with_its_trial_and_keeps_every_other_line():
    from siamese_mnist.studies.search.apply import apply_winners
    from siamese_mnist.typed_yaml import read_yaml

    report = {"winners": {"cnn": {"trial": 3, "settings": {"lr": 0.00692, "shift": 1, "block": "conv_pool_bn_relu"}},
                          "siamese": {"trial": 1, "settings": {"lr": 0.000336, "margin": 2.0}},
                          "triplet": {"trial": 1, "settings": {"lr": 0.0066, "mining": "semihard"}}}}
    after = apply_winners(APPLY_BEFORE, report)
    assert after == APPLY_AFTER
    assert apply_winners(after, report) == APPLY_AFTER  # applying twice changes nothing
    raw = read_yaml(after)
    assert raw["siamese"]["lr"] == 0.000336 and raw["triplet"]["mining"] == "semihard" and raw["cnn"]["shift"] == 1
    with pytest.raises(SearchError, match="no winners yet"):
        apply_winners(APPLY_BEFORE, {"rungs": []})
    with pytest.raises(SearchError, match=r"no line `  weight_decay: ...` in section cnn"):
        apply_winners(APPLY_BEFORE, {"winners": {"cnn": {"trial": 2, "settings": {"weight_decay": 0.001}}}})
