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
    with pytest.raises(ParamsError, match=rf'params.yaml: not valid YAML \(found duplicate key "seed" with value "3" '
                                          rf'\(original value: "0"\) \(line {n}\)\)$'):
        load_params(tmp_path / "params.yaml")
    nested = text.replace("  hidden: 256\n", "  hidden: 256\n  hidden: 128\n")
    (tmp_path / "params.yaml").write_text(nested)
    with pytest.raises(ParamsError, match=r'found duplicate key "hidden"'):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("text", ["010", "0o10", "08", "1:30", "on", "off", "yes", "no", "1e-06", "1_000", "0x1F",
                                  ".inf", "~", "True", "2001-12-14"])
def test_a_scalar_is_read_as_dvc_reads_it(text):
    # DVC reads params.yaml with ruamel.yaml's safe loader (YAML 1.2); a value read otherwise (PyYAML: 010 = 8,
    # on = True, 1:30 = 90) runs a stage on other params than dvc.lock records, and poisons the run cache
    from ruamel.yaml import YAML

    from siamese_mnist.typed_yaml import read_yaml

    dvc = YAML(typ="safe").load(f"k: {text}")["k"]
    ours = read_yaml(f"k: {text}")["k"]
    assert ours == dvc and type(ours) is type(dvc)


def test_octal_looking_and_yes_no_params_are_what_dvc_records_or_refused(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text.replace("seed: 0 ", "seed: 010 ", 1))
    assert load_params(tmp_path / "params.yaml").seed == 10  # as DVC: YAML 1.2, no octal without 0o
    (tmp_path / "params.yaml").write_text(text.replace("seed: 0 ", "seed: 1:30 ", 1))
    with pytest.raises(ParamsError, match=r"^seed: '1:30' should be an integer$"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text.replace("deterministic: false", "deterministic: yes"))
    with pytest.raises(ParamsError, match=r"^train.deterministic: 'yes' should be true or false$"):
        load_params(tmp_path / "params.yaml")


def test_a_file_not_utf8_or_tab_indented_is_one_line_with_where(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_bytes(text.encode("utf-16"))
    with pytest.raises(ParamsError, match=r"params.yaml: not UTF-8 text \(byte 0: invalid start byte\); save it"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text.replace("  hidden: 256", "\thidden: 256"))
    n = text.splitlines().index("  hidden: 256") + 1
    with pytest.raises(ParamsError, match=rf"not valid YAML \(found character '\\t' that cannot start any token "
                                          rf"\(line {n}\)\)$"):
        load_params(tmp_path / "params.yaml")
