"""The strict YAML-to-dataclass reader, driven through the params: coercion, a key missing from the file, numbers
that are not finite or too large, and a renamed key reported by its right name."""

import re
from pathlib import Path

import pytest
import yaml

from siamese_mnist.config import load_params, params_from_dict
from siamese_mnist.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_tuples_and_nulls_are_coerced():
    p = params_from_dict({"render": {"epochs": [0, 1]}, "data": {"train_limit": None}})
    assert p.render.epochs == (0, 1) and p.data.train_limit is None


@pytest.mark.parametrize("path", ["seed", "data.fit_samples", "evaluate.logreg_c", "render", "triplet.per_epoch"])
def test_a_key_missing_from_the_params_file_is_refused_not_defaulted(tmp_path, path):
    """DVC reads a stage's params from the file: a default filled in for a missing key would be invisible to it."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    *sections, key = path.split(".")
    section = raw
    for name in sections:
        section = section[name]
    del section[key]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=rf"^{path}: missing; every param must be in the params file \(the default"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("patch, message", [
    ({"cnn": {"lr": float("inf")}}, "cnn.lr: inf is not a finite number"),
    ({"siamese": {"weight_decay": float("nan")}}, "siamese.weight_decay: nan is not a finite number"),
    ({"evaluate": {"logreg_c": [1.0, float("-inf")]}}, "evaluate.logreg_c[1]: -inf is not a finite number"),
    ({"seed": 2**40}, "seed: 1099511627776 is out of range; allowed 0..4294967295"),
    ({"seed": 2**64}, "seed: 18446744073709551616 is out of range; allowed up to 9223372036854775807"),
    ({"cnn": {"lr": 10**400}}, "cnn.lr: a 401-digit number is not a finite number"),
])
def test_non_finite_numbers_and_huge_seeds_are_refused(patch, message):
    with pytest.raises(ParamsError, match=f"^{re.escape(message)}$"):
        params_from_dict(patch)


def test_a_renamed_key_is_reported_as_unknown_with_its_right_name_not_as_missing(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"]["epoch"] = raw["train"].pop("epochs")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"^train.epoch: unknown key; did you mean train.epochs\?$"):
        load_params(tmp_path / "params.yaml")


def test_a_key_given_twice_is_refused_as_dvc_refuses_it_naming_the_line(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text + "seed: 3\n")  # PyYAML alone: the last seed would win silently
    n = len(text.splitlines()) + 1
    with pytest.raises(ParamsError, match=rf"params.yaml: not valid YAML \(found duplicate key 'seed' \(line {n}\)\)$"):
        load_params(tmp_path / "params.yaml")
    nested = text.replace("  hidden: 256\n", "  hidden: 256\n  hidden: 128\n")
    (tmp_path / "params.yaml").write_text(nested)
    with pytest.raises(ParamsError, match=r"found duplicate key 'hidden'"):
        load_params(tmp_path / "params.yaml")
