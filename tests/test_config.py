from pathlib import Path

import pytest
import yaml

from siamese_mnist.config import Params, load_params, params_from_dict
from siamese_mnist.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_repo_params_are_the_dataclass_defaults_plus_the_search_winners_and_nothing_else():
    # params.yaml = the dataclasses' built-in values (the hand-set ones from before the search) with each
    # model's searched settings replaced by its winner in metrics/search.json: no searched value edited by
    # hand, no other default drifting from the code
    import dataclasses
    import json

    winners = json.loads((ROOT / "metrics/search.json").read_text())["winners"]
    expected = Params()
    for model, w in winners.items():
        expected = dataclasses.replace(expected, **{model: dataclasses.replace(getattr(expected, model), **w["settings"])})
    assert load_params(ROOT / "params.yaml") == expected
    text = (ROOT / "params.yaml").read_text()
    assert text.count("# searched: trial ") == sum(len(w["settings"]) for w in winners.values())


@pytest.mark.parametrize("patch, message", [
    ({"train": {"epoch": 5}}, "train.epoch: unknown key; did you mean train.epochs?"),
    ({"trian": {}}, "trian: unknown key; did you mean train?"),
    ({"train": {"epochs": 0}}, "train.epochs: 0 is out of range"),
    ({"train": {"epochs": "ten"}}, "train.epochs: 'ten' should be an integer"),
    ({"siamese": {"margin": 0}}, "siamese.margin: 0.0 is out of range; allowed > 0"),
    ({"siamese": {"positive_fraction": 1.0}}, "siamese.positive_fraction: 1.0 is out of range; allowed (0, 1)"),
    ({"cnn": {"batch_size": 0}}, "cnn.batch_size: 0 is out of range"),
    ({"siamese": {"lr": -0.1}}, "siamese.lr: -0.1 is out of range; allowed > 0"),
    ({"render": {"epochs": [0, -1]}}, "render.epochs: -1 is negative"),
    ({"render": {"epochs": [0, 60]}}, "render.epochs: epoch 60 is beyond train.epochs=50"),
    ({"data": {"dataset": "cifar"}}, "data.dataset: 'cifar' is not one of mnist, fashion-mnist"),
    ({"train": {"device": "cpu"}}, "train.device: unknown key"),  # a machine setting: SIAMESE_MNIST_DEVICE
    ({"train": {"amp": "sometimes"}}, "train.amp: 'sometimes' should be true or false or auto"),
    ({"data": {"train_limit": 70000}}, "data.train_limit: 70000 is out of range; allowed 10..60000"),
    ({"data": {"train_limit": 5}}, "data.train_limit: 5 is out of range"),
    ({"model": {"conv_channels": [8]}}, "model.conv_channels: [8] must be two positive widths"),
    ({"cnn": {"block": "pool_first"}}, "cnn.block: 'pool_first' is not one of conv_bn_relu_pool, conv_pool_bn_relu"),
    ({"model": {"block": "conv_bn_relu_pool"}}, "model.block: unknown key; known keys: conv_channels, hidden, embedding_dim"),
    ({"data": {"holdout_classes": [7, 10]}}, "data.holdout_classes: class 10 is out of range; allowed 0..9"),
    ({"data": {"holdout_classes": [7, 7]}}, "data.holdout_classes: [7, 7] lists a class twice"),
    ({"data": {"holdout_classes": list(range(9))}}, "at least two classes must be left to train on"),
    ({"triplet": {"mining": "hard"}}, "triplet.mining: 'hard' is not one of none, semihard, hardest"),
    ({"triplet": {"margin": -1}}, "triplet.margin: -1.0 is out of range; allowed > 0"),
    ({"triplet": {"per_epoch": 0}}, "triplet.per_epoch: 0 is out of range"),
    ({"triplet": {"per_epoch": 0.0}}, "triplet.per_epoch: 0.0 is out of range; a float (images per training image)"),
    ({"siamese": {"per_epoch": 101.0}}, "siamese.per_epoch: 101.0 is out of range"),
    ({"siamese": {"per_epoch": 1}}, "siamese.per_epoch: 1 is out of range; allowed >= 2, a float, or null"),
    ({"data": {"fit_samples": 5}}, "data.fit_samples: 5 is out of range"),
    ({"render": {"frame_ms": 0}}, "render.frame_ms: 0 is out of range"),
    ({"evaluate": {"episodes": 0}}, "evaluate.episodes: 0 is out of range; allowed >= 1"),
    ({"data": {"val_size": 10}}, "data.val_size: 10 is out of range; allowed 20..59980"),
    ({"data": {"train_limit": 1000, "val_size": 990}}, "data.val_size: 990 is out of range; allowed 20..980"),
    ({"evaluate": {"logreg_c": []}}, "evaluate.logreg_c: empty"),
    ({"evaluate": {"logreg_c": [1, 0]}}, "evaluate.logreg_c: 0.0 is out of range; allowed > 0"),
])
def test_bad_params_name_the_key(patch, message):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in patch.items():
        raw.setdefault(section, {}).update(values)
    assert load_params  # (the same checks run in the check stage, before DVC touches any output)
    with pytest.raises(ParamsError) as exc:
        params_from_dict(raw)
    assert message in str(exc.value)


def test_bad_seed_names_the_key():
    with pytest.raises(ParamsError, match="seed: -1 is out of range"):
        params_from_dict({"seed": -1})
    with pytest.raises(ParamsError, match="seed: 'x' should be an integer"):
        params_from_dict({"seed": "x"})


def test_train_amp_takes_true_false_or_auto():
    assert params_from_dict({"train": {"amp": "auto"}}).train.amp == "auto"
    assert params_from_dict({"train": {"amp": True}}).train.amp is True


def test_the_omniglot_section_goes_with_the_omniglot_dataset_and_no_other():
    raw = yaml.safe_load((ROOT / "omniglot/params.yaml").read_text())
    assert params_from_dict(raw, complete=True).omniglot.background == "all"
    mnist = yaml.safe_load((ROOT / "params.yaml").read_text())
    with pytest.raises(ParamsError, match=r"^omniglot: applies to data.dataset: omniglot only; remove the section$"):
        params_from_dict({**mnist, "omniglot": raw["omniglot"]}, complete=True)
    with pytest.raises(ParamsError, match=r"^omniglot: missing; data.dataset: omniglot needs the omniglot section$"):
        params_from_dict({k: v for k, v in raw.items() if k != "omniglot"}, complete=True)
    with pytest.raises(ParamsError, match=r"^data.holdout_classes: applies to closed-set datasets"):
        params_from_dict({**raw, "data": {**raw["data"], "holdout_classes": [3]}}, complete=True)
    with pytest.raises(ParamsError, match=r"^omniglot.shots: 11 is out of range; allowed 1..10$"):
        params_from_dict({**raw, "omniglot": {**raw["omniglot"], "shots": [1, 11]}}, complete=True)


def test_lists_that_cost_a_fit_or_a_grid_row_each_are_bounded():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    with pytest.raises(ParamsError, match=r"^render.epochs: 900 epochs; at most 50 \(rows of one grid\)$"):
        params_from_dict({**raw, "train": {**raw["train"], "epochs": 900},
                          "render": {**raw["render"], "epochs": list(range(900))}}, complete=True)
    with pytest.raises(ParamsError, match=r"^evaluate.logreg_c: 500000 candidates; at most 50$"):
        params_from_dict({**raw, "evaluate": {**raw["evaluate"], "logreg_c": [1.0] * 500_000}}, complete=True)
